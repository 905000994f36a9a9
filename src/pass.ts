/**
 * One reconcile pass, the pipeline every command and the daemon share:
 * load manifests → validate → build the desired model → observe → plan → apply.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Engine } from './adapters/docker/engine.js';
import type { WebServerControl } from './adapters/apache/control.js';
import { hostTcpPorts, type HostTcpPorts } from './adapters/host/ports.js';
import type { State, StateStore } from './adapters/state/store.js';
import type { VhostStore } from './adapters/vhost/store.js';
import type { Settings } from './config/settings.js';
import { applyPlan } from './apply/apply.js';
import type { VhostCommitter } from './apply/vhosts.js';
import type { AppResult } from './apply/outcome.js';
import { buildDesired, type DesiredModel } from './desired/model.js';
import type { Templates } from './desired/vhost.js';
import { loadManifestDir } from './manifest/load.js';
import type { Problem } from './manifest/problem.js';
import { checkSchema, isAppName, type ValidDoc } from './manifest/validate.js';
import { observe } from './observe/observe.js';
import type { Observed } from './observe/types.js';
import type { Plan } from './plan/actions.js';
import { findRenames, LEFT_AS_IT_RUNS, plan } from './plan/plan.js';

/** Everything a pass touches. */
export interface PassDeps {
  settings: Settings;
  engine: Engine;
  vhosts: VhostStore;
  web: WebServerControl;
  state: StateStore;
  templates: Templates;
  log: Logger;
  onProgress?: (app: string, line: string) => void;
  /** How vhost changes go live; default: one configtest and reload per pass. */
  committer?: VhostCommitter;
  /**
   * Runs plan-and-reserve exclusively when passes overlap (the daemon), so two
   * passes never give the same id to two new apps.
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /**
   * Lets a pass remove every app when the manifests define none
   * (`hdactl apply --allow-empty`). Without it, an empty manifests directory
   * removes nothing: an unmounted disk or a checkout in progress looks the same.
   */
  allowEmpty?: boolean;
  /** The caller prints each app's outcome (see ApplyDeps.outcomesShown). */
  outcomesShown?: boolean;
  /**
   * Apps whose container the Engine reported updated (the daemon follows its
   * events): their limits are read by an inspect, so that a `docker update`
   * by hand is seen and put back to the manifest's.
   */
  limitsChanged?: ReadonlySet<string>;
}

/** The validated input of a pass, before anything is observed. */
export interface DesiredInput {
  model: DesiredModel;
  problems: Problem[];
  /** Apps left alone, with why. */
  frozen: Map<string, string>;
  /** Manifest files that could not be parsed in full. */
  brokenFiles: Set<string>;
  /** Manifest files that hold no app: their apps are not removed for it. */
  emptyFiles: Set<string>;
}

/**
 * Loads and validates the manifests into the desired model. Problems never throw.
 * `cacheFile` keeps YAML parse results between runs (passes use the state directory's).
 */
export async function loadDesired(
  settings: Settings,
  templates: Templates,
  state: State,
  observedIds: Map<string, number> | Promise<Map<string, number>>,
  opts: { cacheFile?: string; hostPorts?: () => Promise<HostTcpPorts> } = {},
): Promise<DesiredInput> {
  const loaded = await loadManifestDir(settings.manifests, opts.cacheFile);
  const problems = [...loaded.problems];
  const checked: ValidDoc[] = [];
  const frozen = new Map<string, string>();
  for (const doc of loaded.docs) {
    const r = checkSchema(doc);
    // A partial document (a bad optional field) is checked with the rest, and frozen.
    const usable = r.valid ?? r.partial;
    if (usable) checked.push(usable);
    problems.push(...r.problems);
    // When the document's app cannot be told for sure, neither can which apps the file
    // still defines: `app: Hydra` is a typo for hydra, not a rename that removes it.
    if (r.problems.length > 0 && !(doc.appName && isAppName(doc.appName))) loaded.brokenFiles.add(doc.file);
  }
  // Only a new app is given a port, and its port is for life: it must not be one a socket holds.
  // Read while the Engine answers, whenever the state file does not know an app.
  const held = checked.some((v) => !v.partial && !state.apps[v.manifest.app]) ? (opts.hostPorts ?? hostTcpPorts)() : undefined;
  const knownIds = new Map(await observedIds);
  for (const [app, rec] of Object.entries(state.apps)) knownIds.set(app, rec.id);
  const busyPorts = held && checked.some((v) => !v.partial && !knownIds.has(v.manifest.app)) ? (await held).held : undefined;
  const model = buildDesired(checked, {
    domain: settings.domain,
    portBase: settings.portBase,
    dataRoot: settings.dataRoot,
    policy: { allow: settings.volumeAllow },
    vhostPort: settings.vhostPort,
    templates,
    knownIds,
    ...(busyPorts ? { busyPorts } : {}),
  });
  problems.push(...model.problems);
  // Reported in file order, as a compiler does: checks find them in their own order.
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
  // Every problem of the app, in file order: a misspelt field shows both as "missing
  // image" and as "unknown imgae, did you mean image?", and the second is the useful one.
  const byApp = new Map<string, Problem[]>();
  for (const p of problems) if (p.app) byApp.set(p.app, [...(byApp.get(p.app) ?? []), p]);
  for (const [app, list] of byApp) {
    const text = list.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('; ');
    frozen.set(app, `its manifest is invalid, ${LEFT_AS_IT_RUNS}: ${text}`);
  }
  // An app in a schema-invalid document is frozen even when buildDesired never saw it.
  for (const app of model.frozen) if (!frozen.has(app)) frozen.set(app, `its manifest is invalid, ${LEFT_AS_IT_RUNS}`);
  return { model, problems, frozen, brokenFiles: loaded.brokenFiles, emptyFiles: loaded.emptyFiles };
}

/** The plan of a pass, with what it was computed from. */
export interface PassPlan {
  plan: Plan;
  desired: DesiredInput;
  observed: Observed;
  state: State;
  /** True when removals were held back (a manifest that cannot be parsed, or none defining an app). */
  removalsHeld: boolean;
  /**
   * Apps the state file records that have nothing left to remove (no
   * container, no vhost) and no manifest: a new app whose create never came
   * (a name clash, an image that never pulled) and was then dropped. Their
   * records end, so that their ids, and web ports, are free again.
   */
  forget: string[];
}

/**
 * A pass over some apps only (the daemon's keyed passes): only their
 * containers and vhost files are observed, and only they are planned. The
 * manifests are still read in full, since ids and ports are checked across apps.
 */
export interface Scope {
  apps: ReadonlySet<string>;
  /**
   * Ids of apps outside the scope, as the last full pass observed them: a new
   * app never gets the id of a container that runs but is missing from the state file.
   */
  knownIds: ReadonlyMap<string, number>;
}

/** Computes the plan: reads manifests, state and the world. No change is made. */
export async function computePlan(deps: PassDeps, scope?: Scope): Promise<PassPlan> {
  const { settings } = deps;
  const state = await deps.state.read();
  const observing = observe(deps.engine, deps.vhosts, settings.instance, state, scope?.apps, deps.limitsChanged);
  const observedIds = observing.then((o) => {
    const ids = new Map<string, number>(scope?.knownIds);
    for (const c of o.containers) if (c.appId !== undefined && c.name === c.app) ids.set(c.app, c.appId);
    return ids;
  });
  // Awaited below; this only keeps a failed observation from counting as unhandled meanwhile.
  observedIds.catch(() => undefined);
  // The manifests are read and validated while the Engine answers the list call.
  const desired = await loadDesired(settings, deps.templates, state, observedIds, { cacheFile: path.join(settings.stateDir, 'manifest-cache.json') });
  const observed = await observing;
  const frozen = new Map(desired.frozen);
  const wanted = new Set(desired.model.apps.map((a) => a.app));
  const unwanted = [...new Set([...observed.containers.map((c) => c.app), ...observed.vhosts.keys()])].filter((app) => !wanted.has(app) && !frozen.has(app));
  const empty = wanted.size === 0 && frozen.size === 0 && !deps.allowEmpty;
  const removalsHeld = desired.brokenFiles.size > 0 || empty;
  if (desired.brokenFiles.size > 0) {
    // With a file unreadable we cannot tell which apps it still defines: remove nothing.
    const files = [...desired.brokenFiles].join(', ');
    for (const app of unwanted) frozen.set(app, `not removed while ${files} cannot be parsed: fix the file`);
  } else if (empty) {
    // Manifests that define no app at all, while apps are installed, look like a fault
    // (a disk not mounted, a checkout half done) far more often than a wish to remove them all.
    for (const app of unwanted) frozen.set(app, `not removed: ${settings.manifests} defines no apps, as an unmounted disk or an unfinished checkout would look: to remove every app, run hdactl apply --allow-empty`);
  }
  // A file emptied (a write cut short by a full disk, a `> file`) is not a deletion: only deleting it is.
  // Nor is a file that now names another app but has problems: a write cut short after `app: ph`, or
  // a name pasted from another file, looks just like that; the rename takes once the file is fixed.
  const withProblems = new Set(desired.problems.map((p) => p.file));
  for (const app of unwanted) {
    const source = state.apps[app]?.source;
    if (frozen.has(app) || !source) continue;
    if (desired.emptyFiles.has(source)) frozen.set(app, `not removed while ${source} holds no app (as a write cut short would leave it): put its manifest back, or delete the file to remove ${app}`);
    else if (withProblems.has(source)) frozen.set(app, `not removed while ${source}, the file it was installed from, has problems (as a write cut short could leave it): fix the file, or delete it to remove ${app}`);
  }
  const inScope = (app: string) => !scope || scope.apps.has(app);
  const installed = new Map(Object.entries(state.apps).map(([app, r]) => [app, r.source]));
  // Apps that are only held back (a removal waiting for a broken file) are not gone either.
  const named = new Set([...wanted, ...frozen.keys()]);
  // A new app's id is recorded before its create, and a daemon that defers the create (see
  // Controller) finds it installed: in scope, an app with no container is new too.
  const created = new Set(observed.containers.map((c) => c.app));
  const isNew = (app: string) => !installed.has(app) || (inScope(app) && !created.has(app));
  const p = plan({
    desired: desired.model.apps.filter((a) => inScope(a.app)),
    frozen: new Map([...frozen].filter(([app]) => inScope(app))),
    observed,
    installed: new Set(installed.keys()),
    renamed: findRenames({ desired: desired.model.apps, named, installed, isNew, dataRoot: settings.dataRoot }),
  });
  const seen = new Set([...observed.containers.map((c) => c.app), ...observed.vhosts.keys()]);
  const forget = removalsHeld ? [] : [...installed].filter(([app, source]) =>
    inScope(app) && !named.has(app) && !seen.has(app) && !(source && (desired.emptyFiles.has(source) || withProblems.has(source)))).map(([app]) => app);
  return { plan: p, desired, observed, state, removalsHeld, forget };
}

/** Restricts a plan to some apps (the daemon's work-queue keys). */
export function onlyApps(p: Plan, apps: ReadonlySet<string>): Plan {
  return { apps: p.apps.filter((a) => apps.has(a.app)) };
}

/** Computes and applies one pass. */
export async function runPass(deps: PassDeps, only?: ReadonlySet<string> | ((p: Plan) => ReadonlySet<string>), scope?: Scope): Promise<PassPlan & { results: AppResult[] }> {
  const planAndReserve = async () => {
    const c = await computePlan(deps, scope);
    // Ids are the apps' for life: record new ones before anything runs on their ports.
    // Only planned apps': an app outside a scope was not observed, so its id is not known for sure.
    // Each app's file too, even when nothing else changes: after a `git mv` the
    // app is in sync, and the daemon, which learns from `source` which apps an
    // edit of a file may remove, would miss an app renamed in the new file.
    const planned = new Set(c.plan.apps.map((a) => a.app));
    const stale = c.desired.model.apps.filter((a) => planned.has(a.app) && c.state.apps[a.app]?.source !== a.source.file);
    if (stale.length || c.forget.length) await deps.state.update((s) => {
      for (const a of stale) (s.apps[a.app] ??= { id: a.id }).source = a.source.file;
      for (const app of c.forget) delete s.apps[app];
    });
    return c;
  };
  const computed = deps.exclusive ? await deps.exclusive(planAndReserve) : await planAndReserve();
  const todo = only ? onlyApps(computed.plan, typeof only === 'function' ? only(computed.plan) : only) : computed.plan;
  const results = await applyPlan(todo, {
    engine: deps.engine,
    vhosts: deps.vhosts,
    web: deps.web,
    state: deps.state,
    instance: deps.settings.instance,
    dataRoot: deps.settings.dataRoot,
    volumePolicy: { allow: deps.settings.volumeAllow },
    concurrency: deps.settings.concurrency,
    log: deps.log,
    ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    ...(deps.committer ? { committer: deps.committer } : {}),
    ...(deps.outcomesShown ? { outcomesShown: true } : {}),
  });
  return { ...computed, results };
}
