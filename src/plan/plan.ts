import type { ContainerSpec, DesiredApp, Limits } from '../desired/model.js';
import { formatSize } from '../desired/units.js';
import { vhostServerName as name } from '../desired/vhost.js';
import type { Observed, ObservedContainer } from '../observe/types.js';
import type { Action, AppPlan, Change, Plan } from './actions.js';
import { portSwaps } from './handover.js';

/** What the planner compares. */
export interface PlanInput {
  desired: DesiredApp[];
  /** Apps whose manifest is invalid or unreadable, with why: left exactly as they run. */
  frozen: Map<string, string>;
  observed: Observed;
  /**
   * Apps the state file records as installed: a missing container of one of
   * them was removed outside hdactl (or its create failed), it is not a new app.
   */
  installed: ReadonlySet<string>;
  /** Apps renamed in their manifest file (see `findRenames`), which the reasons name. */
  renamed: Renames;
}

/** How an invalid manifest's app is left: as it runs, or, with nothing of it installed, not installed. */
export const LEFT_AS_IT_RUNS = 'so it is left as it runs';
const NOT_INSTALLED = 'so it is not installed until it is fixed';

/**
 * Compares what is wanted with what is observed and returns the steps that
 * close the gap, each with its reason. Pure: no I/O, no clock.
 */
export function plan(input: PlanInput): Plan {
  const { observed } = input;
  const desiredByApp = new Map(input.desired.map((d) => [d.app, d]));
  const containersByApp = new Map<string, ObservedContainer[]>();
  for (const c of observed.containers) containersByApp.set(c.app, [...(containersByApp.get(c.app) ?? []), c]);
  const names = new Set([...desiredByApp.keys(), ...containersByApp.keys(), ...observed.vhosts.keys(), ...input.frozen.keys()]);

  const { renamed } = input;
  const apps: AppPlan[] = [];
  for (const app of [...names].sort()) {
    const frozenWhy = input.frozen.get(app);
    if (frozenWhy !== undefined) {
      // Nothing of it runs yet (a new app with a typo): "left as it runs" would say otherwise.
      const installed = containersByApp.has(app) || observed.vhosts.has(app);
      apps.push({ app, actions: [], blocked: installed ? frozenWhy : frozenWhy.replace(LEFT_AS_IT_RUNS, NOT_INSTALLED) });
      continue;
    }
    apps.push(planApp(app, desiredByApp.get(app), containersByApp.get(app) ?? [], observed, input.installed.has(app), renamed));
  }
  // Both sides of a host-port swap are left running as they are, with the way out.
  const swaps = portSwaps(apps);
  return {
    apps: apps.map((a) => {
      const s = swaps.get(a.app);
      if (!s) return a;
      const ports = s.ports.map((port) => `host port ${port}`).join(', ');
      const loop = s.ring.length === 2 ? 'which takes one of its own' : `and the takes come round to one of its own (${[...s.ring, a.app].join(' → ')})`;
      return { ...a, actions: [], blocked: `not changed: it takes ${ports} from app ${s.with}, ${loop}, in the same change; no order can apply that, and the apps run as they were: move one app to a spare port first, apply, then finish the swap` };
    }),
  };
}

/** Apps renamed in place, seen from both of their names. */
export interface Renames {
  /** Old name → the new one, the file, and where the old data stays. */
  to: Map<string, { app: string; file: string; dataDir: string }>;
  /** New name → old name. */
  from: Map<string, string>;
}

export const NO_RENAMES: Renames = { to: new Map(), from: new Map() };

/**
 * Apps renamed in place: the file that last defined an installed app, which
 * no manifest names now, defines one app not created yet (`isNew`) instead. Only a pair is a rename; two gone and two new in one file are not
 * guessed at. The rename is carried out as a removal and a create (the name
 * is the container's, the vhost's and the data directory's), and its reasons
 * say so, and where the old data stays. Given every app the manifests name,
 * not only those a keyed pass plans: an app merely outside the pass is not gone.
 */
export function findRenames(w: {
  /** Every valid app, not only those a keyed pass plans. */
  desired: readonly DesiredApp[];
  /** Every app the manifests name, valid or not, or hold back from removal. */
  named: ReadonlySet<string>;
  /** The state file's apps, each with the manifest file that last defined it. */
  installed: ReadonlyMap<string, string | undefined>;
  /** True for an app not created yet (its id may be recorded already). */
  isNew: (app: string) => boolean;
  dataRoot: string;
}): Renames {
  const r: Renames = { to: new Map(), from: new Map() };
  const byFile = new Map<string, { gone: string[]; fresh: string[] }>();
  const at = (file: string) => byFile.get(file) ?? byFile.set(file, { gone: [], fresh: [] }).get(file)!;
  for (const [app, file] of w.installed) if (file && !w.named.has(app)) at(file).gone.push(app);
  for (const d of w.desired) if (w.isNew(d.app) && byFile.has(d.source.file)) at(d.source.file).fresh.push(d.app);
  for (const [file, { gone, fresh }] of byFile) {
    if (gone.length !== 1 || fresh.length !== 1) continue;
    r.to.set(gone[0]!, { app: fresh[0]!, file, dataDir: `${w.dataRoot}/${gone[0]}` });
    r.from.set(fresh[0]!, gone[0]!);
  }
  return r;
}

function planApp(app: string, desired: DesiredApp | undefined, containers: ObservedContainer[], observed: Observed, installed: boolean, renamed: Renames): AppPlan {
  const primary = containers.find((c) => c.name === app);
  // Containers of this app under another name are leftovers of an interrupted recreate.
  const leftovers = containers.filter((c) => c !== primary);
  const prune: Action[] = leftovers.map((c) => ({ type: 'remove', container: c, reason: `leftover container ${c.name} from an interrupted recreate` }));
  const vhost = observed.vhosts.get(app);

  if (!desired && primary && !installed) {
    // Never installed from this state directory: another hdactl with the same
    // --instance (and its own --state-dir) runs it, or this state file was
    // lost. Either way a missing manifest here is no reason to remove it.
    return {
      app,
      actions: [],
      blocked:
        'it runs with this instance\'s label but this state file never installed it, so it is left running: ' +
        'give each hdactl on this Engine its own --instance, or, if the state file was lost, add its manifest back or remove it with docker rm -f ' +
        app,
    };
  }

  if (!desired && !installed) {
    // Its vhost file (hdactl's header) or a container set aside in a recreate,
    // and no record of it here: another hdactl that shares the vhost
    // directory, or this instance label, may be in the middle of using them.
    const what = [...(vhost ? [`its vhost file ${app}.conf`] : []), ...leftovers.map((c) => `container ${c.name}`)].join(' and ');
    const byHand = [...(vhost ? [`rm ${vhost.file}`] : []), ...leftovers.map((c) => `docker rm -f ${c.name}`)].join('; ');
    const one = (vhost ? 1 : 0) + leftovers.length === 1;
    const [carry, left, them] = one ? ['carries', 'it is', 'it'] : ['carry', 'they are', 'them'];
    return {
      app,
      actions: [],
      blocked: `${what} ${carry} hdactl's marks but this state file never installed ${app}, so ${left} left: another hdactl may use ${them} (one that shares the vhost directory or the --instance); if none does, remove ${them} by hand (${byHand})`,
    };
  }

  if (!desired) {
    const to = renamed.to.get(app);
    const why = to ? `renamed to ${to.app} in ${to.file}; its data stays in ${to.dataDir}` : 'manifest deleted';
    const actions: Action[] = [];
    if (vhost) actions.push({ type: 'vhost-remove', reason: why });
    // The app's container goes last: removing it ends the state file's record, which
    // a failed step before it keeps, so that its retry still knows the app was installed here.
    return { app, actions: [...actions, ...prune, ...(primary ? [{ type: 'remove' as const, container: primary, reason: why }] : [])] };
  }

  if (!primary && observed.foreignNames.has(app)) {
    const other = observed.foreignNames.get(app);
    return {
      app,
      desired,
      actions: [],
      blocked: other !== undefined
        // Renaming or removing that container would break the hdactl that manages it.
        ? `not created while a container named ${app} exists that another hdactl manages (its --instance is ${other}): rename this app, or remove ${app} from that hdactl's manifests first`
        : `not created while a container named ${app} exists that hdactl does not own: remove or rename it (docker rename ${app} ${app}-old), or rename the app`,
    };
  }

  if (primary?.state === 'removing') {
    // Being removed by someone (docker rm -f): it can be neither started nor
    // replaced until it is gone, and the Engine's destroy event brings the
    // app back to be created then.
    return { app, desired, actions: [], blocked: `its container is being removed outside hdactl: it is created again once it is gone` };
  }

  const actions: Action[] = [];
  if (!primary) {
    const from = renamed.from.get(app);
    const why = from ? `new app, renamed from ${from}: its data directory starts empty` : installed ? 'container missing: removed outside hdactl, or never created' : 'new app';
    actions.push({ type: 'create', desired, reason: desired.state === 'stopped' ? `${why} (state: stopped)` : why });
  } else if (primary.state === 'dead') {
    // The Engine failed to remove it once (a mount still busy): it can never
    // start again. Removing it again usually works, and the app is created
    // afresh, its data where it was: starting it would fail every time.
    actions.push({ type: 'remove', container: primary, reason: 'container dead: the Engine cannot start it' });
    actions.push({ type: 'create', desired, reason: 'in place of its dead container' });
  } else if (primary.specHash !== desired.specHash || liftsLimit(primary.limits, desired.limits)) {
    // A recreate for a lifted limit alone must not claim the spec changed too.
    const specDiff = primary.specHash !== desired.specHash ? specChanges(primary, desired.spec) : [];
    actions.push({ type: 'recreate', desired, container: primary, changes: [...specDiff, ...liftedLimits(primary.limits, desired.limits)] });
  } else {
    const limitChanges = diffLimits(primary.limits, desired.limits);
    if (limitChanges.length) actions.push({ type: 'update-limits', desired, container: primary, changes: limitChanges });
    const isUp = primary.state === 'running' || primary.state === 'restarting';
    if (desired.state === 'running' && !isUp) {
      actions.push({ type: 'start', container: primary, reason: `container ${primary.status.toLowerCase() || primary.state}` });
    }
    // A container paused by hand still holds its processes: stopped means stopped.
    if (desired.state === 'stopped' && (isUp || primary.state === 'paused')) {
      actions.push({ type: 'stop', container: primary, timeoutSeconds: desired.spec.stopTimeoutSeconds, reason: 'state: stopped' });
    }
  }
  actions.push(...prune);

  let warning: string | undefined;
  if (desired.vhost !== undefined) {
    if (observed.foreignVhosts.has(app)) {
      warning = `vhost file ${app}.conf exists without hdactl's header, so hdactl leaves it alone: delete or rename it to let hdactl manage the vhost`;
    } else if (!vhost) {
      const existed = primary && primary.specHash === desired.specHash && primary.state === 'running';
      actions.push({ type: 'vhost-create', content: desired.vhost, reason: existed ? 'drifted (deleted outside hdactl)' : `${desired.fqdn} → 127.0.0.1:${desired.web!.hostPort}` });
    } else if (!vhost.intact) {
      actions.push({ type: 'vhost-update', content: desired.vhost, reason: 'drifted (edited outside hdactl)' });
    } else if (vhost.content !== desired.vhost) {
      actions.push({ type: 'vhost-update', content: desired.vhost, reason: describeVhostChange(vhost.content, desired.vhost) });
    }
  } else if (vhost) {
    actions.push({ type: 'vhost-remove', reason: 'app has no web port any more' });
  }
  return { app, desired, actions, ...(warning ? { warning } : {}) };
}

/** Explains a recreate field by field, from the spec recorded on the container. */
export function specChanges(container: ObservedContainer, next: ContainerSpec): Change[] {
  const prev = container.spec;
  if (!prev) return [{ field: 'spec', from: container.specHash || 'unknown', to: 'current manifest' }];
  const changes: Change[] = [];
  const show = (v: unknown) => (v === undefined ? 'none' : typeof v === 'string' ? v : JSON.stringify(v));
  const cmp = (field: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) changes.push({ field, from: show(a), to: show(b) });
  };
  cmp('image', prev.image, next.image);
  cmp('command', prev.command, next.command);
  for (const k of [...new Set([...Object.keys(prev.env ?? {}), ...Object.keys(next.env)])].sort()) {
    cmp(`env.${k}`, prev.env?.[k], next.env[k]);
  }
  const port = (p: ContainerSpec['ports'][number]) => `${p.hostIp}:${p.hostPort}:${p.containerPort}/${p.protocol}`;
  cmp('ports', (prev.ports ?? []).map(port).join(', ') || undefined, next.ports.map(port).join(', ') || undefined);
  const vol = (v: ContainerSpec['volumes'][number]) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`;
  cmp('volumes', (prev.volumes ?? []).map(vol).join(', ') || undefined, next.volumes.map(vol).join(', ') || undefined);
  cmp('restart', prev.restart, next.restart);
  cmp('init', prev.init, next.init);
  cmp('stopTimeout', prev.stopTimeoutSeconds, next.stopTimeoutSeconds);
  return changes.length ? changes : [{ field: 'spec', from: container.specHash, to: 'current manifest' }];
}

const LIMIT_FIELDS = [
  ['memory', 'memoryBytes', (v: number) => formatSize(v)],
  ['cpus', 'nanoCpus', (v: number) => String(v / 1e9)],
  ['pids', 'pids', (v: number) => String(v)],
] as const;

/** Limit changes the Engine can apply live. */
export function diffLimits(prev: Limits, next: Limits): Change[] {
  const out: Change[] = [];
  for (const [field, key, fmt] of LIMIT_FIELDS) {
    if (prev[key] !== next[key]) {
      out.push({ field, from: prev[key] === undefined ? 'none' : fmt(prev[key]), to: next[key] === undefined ? 'none' : fmt(next[key]) });
    }
  }
  return out;
}

/** The Engine cannot lift a memory or CPU limit on a running container; only a new container drops it. */
function liftsLimit(prev: Limits, next: Limits): boolean {
  return (prev.memoryBytes !== undefined && next.memoryBytes === undefined) || (prev.nanoCpus !== undefined && next.nanoCpus === undefined);
}

function liftedLimits(prev: Limits, next: Limits): Change[] {
  return diffLimits(prev, next)
    .filter((c) => c.field !== 'pids' && c.to === 'none')
    .map((c) => ({ ...c, to: 'none (the Engine cannot lift it live)' }));
}

function describeVhostChange(prev: string, next: string): string {
  const port = (s: string) => /ProxyPass \/ http:\/\/[^:]+:(\d+)\//.exec(s)?.[1];
  if (port(prev) !== port(next)) return `port ${port(prev) ?? '?'} → ${port(next) ?? '?'}`;
  if (name(prev) !== name(next)) return `server name ${name(prev) ?? '?'} → ${name(next) ?? '?'}`;
  return 'template or aliases changed';
}
