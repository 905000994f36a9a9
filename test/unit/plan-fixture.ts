/**
 * Turns a planner fixture (test/fixtures/plan/*.yaml) into the planner's input,
 * through the real validation and desired model, and plays a plan forward the
 * way the executor would, so a test can plan a second time over the result.
 *
 * A fixture holds:
 *   manifests:     the app manifests in the manifests directory now
 *   ids:           ids already given (state file), app → id
 *   frozen:        apps left alone, app → why
 *   containers:    containers hdactl owns; each has `manifest` (the one it was
 *                  created from: its spec, hash, limits and id labels), and
 *                  optionally name, state, status, id
 *   foreignNames:  names of containers hdactl does not own
 *   otherInstances: containers of other hdactl instances, name → instance
 *   vhosts:        managed vhost files, app → { manifest, edit? }: rendered
 *                  from that manifest, `edit` appended by hand
 *   foreignVhosts: apps with a vhost file that has no hdactl header
 * YAML merge keys (`<<: *gitlab`) are on, so a fixture can say "gitlab as it
 * was, with this image".
 */
import { readFileSync } from 'node:fs';
import { stringify, parse } from 'yaml';
import { buildDesired, type DesiredApp, type DesiredContext } from '../../src/desired/model.js';
import { loadTemplates } from '../../src/desired/templates.js';
import { readVhostHeader } from '../../src/desired/vhost.js';
import { formatProblem } from '../../src/manifest/problem.js';
import { parseManifestText } from '../../src/manifest/load.js';
import { checkSchema, type ValidDoc } from '../../src/manifest/validate.js';
import type { ContainerState, Observed, ObservedContainer, ObservedVhost } from '../../src/observe/types.js';
import type { Plan } from '../../src/plan/actions.js';
import { NO_RENAMES, type PlanInput } from '../../src/plan/plan.js';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

interface ContainerFixture {
  manifest: Record<string, unknown>;
  name?: string;
  id?: string;
  state?: ContainerState;
  status?: string;
}

interface PlanFixture {
  manifests?: Record<string, unknown>[];
  ids?: Record<string, number>;
  frozen?: Record<string, string>;
  containers?: ContainerFixture[];
  foreignNames?: string[];
  /** Containers of other hdactl instances, by name: their instance. */
  otherInstances?: Record<string, string>;
  vhosts?: Record<string, { manifest: Record<string, unknown>; edit?: string }>;
  foreignVhosts?: string[];
}

/** The settings every planner fixture is built with. */
export function desiredContext(knownIds: ReadonlyMap<string, number> = new Map()): DesiredContext {
  return {
    domain: 'hda.local',
    portBase: 35000,
    dataRoot: '/var/hda/apps',
    policy: { allow: ['/srv/media'] },
    vhostPort: 80,
    templates: loadTemplates(),
    knownIds,
  };
}

/** Validates manifests given as plain objects, failing loudly: a fixture must be valid. */
export function validDocs(manifests: Record<string, unknown>[], file = 'fixture.yaml'): ValidDoc[] {
  return manifests.map((m, i) => {
    const parsed = parseManifestText(`${file}#${i}`, stringify(m));
    const r = checkSchema(parsed.docs[0]!);
    if (!r.valid) throw new Error(`invalid fixture manifest: ${r.problems.map(formatProblem).join('; ')}`);
    return r.valid;
  });
}

/** Builds the desired apps of some manifests; any problem fails the fixture. */
export function desiredApps(manifests: Record<string, unknown>[], knownIds: ReadonlyMap<string, number>): DesiredApp[] {
  const model = buildDesired(validDocs(manifests), desiredContext(knownIds));
  if (model.problems.length) throw new Error(`fixture manifests have problems: ${model.problems.map(formatProblem).join('; ')}`);
  return model.apps;
}

/** Reads test/fixtures/plan/<name>.yaml into the planner's input. */
export function loadPlanFixture(name: string): PlanInput {
  const fx = parse(readFileSync(`${FIXTURES}plan/${name}.yaml`, 'utf8'), { merge: true }) as PlanFixture;
  const ids = new Map(Object.entries(fx.ids ?? {}));
  const desired = desiredApps(fx.manifests ?? [], ids);
  // What already runs was created with the ids the apps have now.
  const known = new Map([...ids, ...desired.map((d) => [d.app, d.id] as const)]);
  const built = (m: Record<string, unknown>) => desiredApps([m], known)[0]!;

  const containers = (fx.containers ?? []).map((c): ObservedContainer => {
    const d = built(c.manifest);
    const name = c.name ?? d.app;
    const state = c.state ?? 'running';
    return {
      id: c.id ?? `${name.replace(/[^a-z0-9]/g, '')}0123456789abcdef`,
      name,
      app: d.app,
      state,
      status: c.status ?? (state === 'running' ? 'Up 2 hours' : 'Exited (0) 5 minutes ago'),
      specHash: d.specHash,
      spec: d.spec,
      limits: d.limits,
      appId: d.id,
      generation: d.generation,
    };
  });
  const vhosts = new Map<string, ObservedVhost>();
  for (const [app, v] of Object.entries(fx.vhosts ?? {})) {
    const rendered = built(v.manifest).vhost;
    if (rendered === undefined) throw new Error(`fixture vhost ${app}: its manifest has no web port`);
    vhosts.set(app, observedVhost(app, v.edit === undefined ? rendered : `${rendered}\n${v.edit}`));
  }
  return {
    desired,
    frozen: new Map(Object.entries(fx.frozen ?? {})),
    installed: new Set(Object.keys(fx.ids ?? {})),
    renamed: NO_RENAMES,
    observed: {
      containers,
      foreignNames: new Map<string, string | undefined>([...(fx.foreignNames ?? []).map((n) => [n, undefined] as const), ...Object.entries(fx.otherInstances ?? {})]),
      vhosts,
      foreignVhosts: new Set(fx.foreignVhosts ?? []),
    },
  };
}

/** A vhost file as the vhost store reports it: intact when its header's hash still matches. */
function observedVhost(app: string, content: string): ObservedVhost {
  const header = readVhostHeader(content);
  if (!header) throw new Error(`fixture vhost ${app} has no hdactl header`);
  return { app, file: `${app}.conf`, content, intact: header.intact };
}

/**
 * The world after a plan has been applied, as the executor leaves it: created
 * containers carry the desired spec and limits, limits updated live are what
 * the state file reports, removed ones are gone, vhost files are written.
 */
export function applyToWorld(p: Plan, observed: Observed): Observed {
  let containers = [...observed.containers];
  const vhosts = new Map(observed.vhosts);
  const fresh = (d: DesiredApp): ObservedContainer => ({
    id: `${d.app}-new-${d.specHash}`,
    name: d.app,
    app: d.app,
    state: d.state === 'running' ? 'running' : 'created',
    status: d.state === 'running' ? 'Up 1 second' : 'Created',
    specHash: d.specHash,
    spec: d.spec,
    limits: d.limits,
    appId: d.id,
    generation: d.generation,
  });
  // Steps of one app run in order, so each one changes the container as the previous step left it.
  const replace = (id: string, next: (c: ObservedContainer) => ObservedContainer | undefined) => {
    containers = containers.flatMap((c) => {
      if (c.id !== id) return [c];
      const n = next(c);
      return n ? [n] : [];
    });
  };
  for (const a of p.apps) {
    for (const act of a.actions) {
      switch (act.type) {
        case 'create':
          containers.push(fresh(act.desired));
          break;
        case 'recreate':
          replace(act.container.id, () => fresh(act.desired));
          break;
        case 'update-limits':
          replace(act.container.id, (c) => ({ ...c, limits: act.desired.limits }));
          break;
        case 'start':
          replace(act.container.id, (c) => ({ ...c, state: 'running', status: 'Up 1 second' }));
          break;
        case 'stop':
          replace(act.container.id, (c) => ({ ...c, state: 'exited', status: 'Exited (0) 1 second ago' }));
          break;
        case 'remove':
          replace(act.container.id, () => undefined);
          break;
        case 'vhost-create':
        case 'vhost-update':
          vhosts.set(a.app, observedVhost(a.app, act.content));
          break;
        case 'vhost-remove':
          vhosts.delete(a.app);
          break;
      }
    }
  }
  return { ...observed, containers, vhosts };
}

/** `type` of each action per app, for compact assertions. */
export function actionTypes(p: Plan): Record<string, string[]> {
  return Object.fromEntries(p.apps.map((a) => [a.app, a.actions.map((x) => x.type)]));
}
