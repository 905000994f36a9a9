import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Engine } from '../adapters/docker/engine.js';
import { EngineError, isMissingImage } from '../adapters/docker/errors.js';
import type { WebServerControl } from '../adapters/apache/control.js';
import { ephemeralPortRange, hostTcpPorts } from '../adapters/host/ports.js';
import type { StateStore } from '../adapters/state/store.js';
import type { VhostStore } from '../adapters/vhost/store.js';
import type { DesiredApp } from '../desired/model.js';
import { parseManifestText } from '../manifest/load.js';
import type { VolumePolicy } from '../desired/policy.js';
import { asideName, LABEL, type ObservedContainer } from '../observe/types.js';
import type { Action, AppPlan, Plan } from '../plan/actions.js';
import { describeAction, formatAction } from '../plan/format.js';
import { portHandovers } from '../plan/handover.js';
import { HostError, isTransient, type AppResult, type Outcome } from './outcome.js';
import { ImmediateCommitter, type VhostCommitter, type VhostWrite } from './vhosts.js';
import { prepareVolumes } from './volumes.js';

/** What applying needs from the world. */
export interface ApplyDeps {
  engine: Engine;
  vhosts: VhostStore;
  web: WebServerControl;
  state: StateStore;
  instance: string;
  dataRoot: string;
  /** Checked again on the disk, after symlinks, before a container is created or started. */
  volumePolicy: VolumePolicy;
  concurrency: number;
  log: Logger;
  /** Pull progress, for a person watching `hdactl apply`. */
  onProgress?: (app: string, line: string) => void;
  /** How vhost changes go live; default: configtest and reload at the end of this pass. */
  committer?: VhostCommitter;
  /**
   * The caller prints every app's outcome to a person (the one-shot commands):
   * skipped and failed apps are then logged at debug, not said twice.
   */
  outcomesShown?: boolean;
}

/**
 * Applies a plan: apps in parallel up to `concurrency`, each app's container
 * steps in order. One app's failure never stops the others. Vhost changes form
 * one transaction per pass (see VhostCommitter): written and checked while the
 * containers are created, live once they are done, and only for the apps whose
 * container steps succeeded.
 */
export async function applyPlan(p: Plan, deps: ApplyDeps): Promise<AppResult[]> {
  const committer = deps.committer ?? new ImmediateCommitter(deps.web, deps.vhosts, deps.log);
  const writes: VhostWrite[] = [];
  for (const a of p.apps) {
    if (a.blocked) continue;
    for (const act of a.actions) {
      if (act.type === 'vhost-create' || act.type === 'vhost-update') writes.push({ app: a.app, content: act.content });
      if (act.type === 'vhost-remove') writes.push({ app: a.app, content: undefined });
    }
  }
  // Each vhost's access and error logs go to <dataRoot>/<app>/logs: Apache's configtest needs the directory.
  // An app whose directory cannot be made fails alone, its vhost unwritten; the others go on.
  const noLogs = new Map<string, { error: string; transient: boolean }>();
  await Promise.all(writes.filter((w) => w.content !== undefined).map(async (w) => {
    const logs = path.join(deps.dataRoot, w.app, 'logs');
    await mkdir(logs, { recursive: true }).catch((err: unknown) => noLogs.set(w.app, { error: `cannot create ${logs} for its vhost's logs: ${(err as Error).message}`, transient: isTransient(err) }));
  }));
  const { order, waitFor } = portHandovers(p);
  const done = new Map<string, Promise<unknown>>();
  const ctx: PassContext = { ...deps, images: new Map(), handedOver: (app) => Promise.allSettled((waitFor.get(app) ?? []).map((from) => done.get(from))) };
  // Missing images are pulled before the vhost transaction begins: a pull can take
  // minutes (or never end, from a registry that stalls), and the daemon's next vhost
  // batch waits for this one, so a transaction held open by a pull would hold back
  // every other app's vhost change. A failed pull fails its app in its steps below.
  const creates = p.apps.flatMap((a) => (a.blocked ? [] : a.actions.flatMap((x) => (x.type === 'create' || x.type === 'recreate' ? [x.desired] : []))));
  await Promise.allSettled(creates.map((d) => ensureImage(d, ctx, deps.log.child({ app: d.app }))));
  let containersDone!: (failed: Set<string>) => void;
  const committed = committer.commit(writes.filter((w) => !noLogs.has(w.app)), new Promise((resolve) => (containersDone = resolve)));
  const run = (a: AppPlan) => {
    const r = applyApp(a, ctx);
    done.set(a.app, r);
    return r;
  };
  // In `order`, so that an app another waits for has a slot first; results in the plan's order.
  const results = await mapLimit(order, deps.concurrency, run).then((rs) => {
    const byApp = new Map(rs.map((r) => [r.app, r]));
    return p.apps.map((a) => byApp.get(a.app)!);
  }).catch((err: unknown) => {
    // Settled on every path: the commit (and in the daemon, the next batch) waits on it.
    containersDone(new Set(p.apps.map((a) => a.app)));
    throw err;
  });
  containersDone(new Set(results.filter((r) => r.outcome === 'failed').map((r) => r.app)));
  const failed = await committed;
  for (const r of results) {
    // An app whose container step failed keeps that error: its retry redoes the vhost too.
    const f = failed.get(r.app) ?? noLogs.get(r.app);
    if (f && r.outcome !== 'failed') Object.assign(r, { outcome: 'failed', message: f.error, error: f.error, transient: f.transient });
  }
  await forgetRemoved(p, results, deps.state);
  // Only what status shows: failing to record it must not turn an applied pass into a failed one.
  await recordFailures(results, deps.state, new Date().toISOString()).catch((err: unknown) => deps.log.warn({ err }, 'could not record the last failures in the state file'));
  return results;
}

function removesVhost(a: AppPlan): boolean {
  return a.actions.some((x) => x.type === 'vhost-remove');
}

/**
 * Ends the state file's record of the apps removed with their vhost, once the
 * vhost's removal is live. Until then the record stays: a vhost removal
 * rolled back (Apache's configtest failing) is retried, and this hdactl
 * never removes a vhost it has no record of installing.
 */
async function forgetRemoved(p: Plan, results: AppResult[], state: StateStore): Promise<void> {
  const ok = new Set(results.filter((r) => r.outcome !== 'failed').map((r) => r.app));
  const gone = p.apps.filter((a) => !a.desired && !a.blocked && ok.has(a.app) && removesVhost(a)).map((a) => a.app);
  if (gone.length) await state.update((s) => {
    for (const app of gone) delete s.apps[app];
  });
}

/**
 * Keeps each app's last failure in the state file until it applies cleanly,
 * so that `hdactl status` can say why an app is not as its manifest says
 * after the command or daemon that failed has gone. Writes only on a change.
 */
async function recordFailures(results: AppResult[], state: StateStore, time: string): Promise<void> {
  if (!results.length) return;
  const current = await state.read();
  const failedNow = results.filter((r) => r.outcome === 'failed' && current.apps[r.app] && current.apps[r.app]!.lastError?.message !== r.message);
  const fine = results.filter((r) => r.outcome !== 'failed' && r.outcome !== 'skipped' && current.apps[r.app]?.lastError);
  if (!failedNow.length && !fine.length) return;
  await state.update((s) => {
    for (const r of failedNow) if (s.apps[r.app]) s.apps[r.app]!.lastError = { message: r.message, time };
    for (const r of fine) if (s.apps[r.app]) delete s.apps[r.app]!.lastError;
  });
}

/** ApplyDeps plus what the apps of one pass share. */
interface PassContext extends ApplyDeps {
  /** Each image's check (and pull), once per pass however many apps use it. */
  images: Map<string, Promise<void>>;
  /** Settles once the other apps' steps that free the host ports `app` publishes are done. */
  handedOver(app: string): Promise<unknown>;
}

async function applyApp(a: AppPlan, deps: PassContext): Promise<AppResult> {
  const log = deps.log.child({ app: a.app });
  if (a.blocked) {
    log[deps.outcomesShown ? 'debug' : 'warn']({ reason: a.blocked }, 'skipped');
    return { app: a.app, outcome: 'skipped', message: a.blocked, error: a.blocked, transient: false, steps: [] };
  }
  if (a.actions.length === 0) {
    return { app: a.app, outcome: a.warning ? 'skipped' : 'unchanged', message: a.warning ?? 'in sync', ...(a.warning ? { error: a.warning, transient: false } : {}), steps: [] };
  }
  const steps: string[] = [];
  try {
    for (const act of a.actions) {
      if (act.type === 'create' || act.type === 'recreate') await deps.handedOver(a.app);
      log.debug({ step: act.type }, formatAction(a.app, act));
      await runStep(a, act, deps, log);
      steps.push(act.type);
    }
  } catch (err) {
    const transient = isTransient(err);
    const raw = (err as Error).message;
    // Only a port-in-use error asks who listens: the hint differs when nothing does.
    const host = PORT_IN_USE.test(raw) ? { listening: (await hostTcpPorts()).listening, ephemeral: await ephemeralPortRange() } : undefined;
    const message = withLimitsHint(withPortHint(raw, a.desired, host), a.desired);
    // An EngineError's or HostError's message already says what failed and what to do; its stack is noise in the log.
    const logged = err instanceof EngineError ? { type: err.name, message, statusCode: err.statusCode } : err instanceof HostError ? { type: err.name, message } : err;
    log[deps.outcomesShown ? 'debug' : 'error']({ err: logged, steps, transient }, 'failed');
    return { app: a.app, outcome: 'failed', message, error: message, transient, steps };
  }
  const outcome = outcomeOf(a.actions);
  const message = outcomeMessage(a.actions);
  log.info({ outcome, steps }, `${a.app} ${outcome}`);
  return { app: a.app, outcome, message, steps, ...(a.warning ? { error: a.warning, transient: false } : {}) };
}

/**
 * The Engine's words for a host port that something else holds: "listen
 * tcp4 127.0.0.1:8080: bind: address already in use" (a socket outside
 * Docker) and "Bind for 0.0.0.0:8080 failed: port is already allocated"
 * (another container).
 */
const PORT_IN_USE = /listen (?:tcp|udp)[46]? \S*:(\d+): bind: address already in use|Bind for \S*:(\d+) failed: port is already allocated/;

/** What the host says about its ports when one was in use (see `withPortHint`). */
export interface HostPorts {
  listening: ReadonlySet<number>;
  /** The kernel's ephemeral port range, lent to outgoing connections. */
  ephemeral?: { from: number; to: number };
}

/**
 * Adds to the Engine's port-in-use error the manifest to change and what to
 * do, which the Engine's words name neither of. When nothing listens on the
 * port (`host` says so), an outgoing connection holds it: the kernel lends
 * ports of its ephemeral range, which holds Amahi's 35000 + id, to
 * outgoing connections, and such a port is free again once the connection
 * is over (TIME_WAIT holds it up to a minute after its own side closed), so
 * the fix is a retry, and a reservation for good.
 */
export function withPortHint(message: string, d: DesiredApp | undefined, host?: HostPorts): string {
  const m = PORT_IN_USE.exec(message);
  if (!m || !d) return message;
  const port = Number(m[1] ?? m[2]);
  const isWeb = d.web?.hostPort === port;
  if (m[1] !== undefined && host && !host.listening.has(port)) {
    const lent = host.ephemeral ? `the kernel lends ports ${host.ephemeral.from}-${host.ephemeral.to} to outgoing connections` : 'the kernel lends ports to outgoing connections';
    const base = d.web ? d.web.hostPort - d.id : undefined;
    const reserve = isWeb && base !== undefined ? `${base + 1}-${base + 999}` : String(port);
    return `${message}. Nothing listens on host port ${port}, so an outgoing connection holds it (${lent}), and the port is free again once that connection is over (up to a minute after it closes): hdactl run tries again, and after hdactl apply, apply again. To keep the kernel off ${isWeb ? 'the apps\' web ports' : 'this port'} for good: sysctl -w net.ipv4.ip_local_reserved_ports=${reserve}, and the same setting in /etc/sysctl.d/`;
  }
  const fix = isWeb
    ? `it is ${d.app}'s web port (portBase + id ${d.id}), so stop what listens there`
    : `stop what listens there, or choose another host port in ports: at ${where(d, ['ports'])}`;
  return `${message}. Host port ${port} is taken by another program or container: ${fix}`;
}

/**
 * The Engine refuses a CPU limit above the host's CPUs ("Range of CPUs is
 * from 0.01 to 2.00"), which the manifest check cannot know: say where the
 * limit is set.
 */
export function withLimitsHint(message: string, d: DesiredApp | undefined): string {
  if (!d || !/Range of CPUs is from/i.test(message)) return message;
  return `${message}: lower limits.cpus at ${where(d, ['limits', 'cpus'])}`;
}

/**
 * FILE:LINE of a field of the app's manifest, read again from its file (only
 * for this message: the desired model keeps no YAML nodes), or of the app
 * itself when the file has changed since or the field is not there.
 */
function where(d: DesiredApp, field: string[]): string {
  let at = d.source;
  try {
    const doc = parseManifestText(d.source.file, readFileSync(d.source.file, 'utf8')).docs.find((x) => x.start.line === d.source.line && x.appName === d.app);
    if (doc) at = doc.locate(field, true);
  } catch {
    // The position is for the message only: finding it must never fail the step.
  }
  return `${at.file}:${at.line}`;
}

/**
 * What an apply did, in words: the container's steps, then the vhost's, e.g.
 * `manifest deleted; vhost removed` or `image a (new app); vhost x.hda.local → 127.0.0.1:35001`.
 */
function outcomeMessage(actions: Action[]): string {
  const container = actions.filter((act) => !act.type.startsWith('vhost-'));
  const vhost = actions.filter((act) => act.type.startsWith('vhost-'));
  const said = new Set(container.map((act) => ('reason' in act ? act.reason : undefined)));
  const vhostPart = (act: Action) => (act.type !== 'vhost-remove' ? `vhost ${describeAction(act)}` : said.has(act.reason) ? 'vhost removed' : `vhost removed (${act.reason})`);
  return [...container.map(describeAction), ...vhost.map(vhostPart)].join('; ');
}

const OUTCOME_ORDER: Array<[Action['type'], Outcome]> = [
  ['remove', 'removed'],
  ['create', 'created'],
  ['recreate', 'recreated'],
  ['update-limits', 'limits-updated'],
  ['start', 'started'],
  ['stop', 'stopped'],
];

function outcomeOf(actions: Action[]): Outcome {
  const primaryRemoved = actions.some((a) => a.type === 'remove' && a.container.name === a.container.app);
  // Removed and created again (in place of a dead container) is a recreate.
  if (primaryRemoved) return actions.some((a) => a.type === 'create') ? 'recreated' : 'removed';
  for (const [type, outcome] of OUTCOME_ORDER.slice(1)) if (actions.some((a) => a.type === type)) return outcome;
  return 'configured'; // vhost-only changes, or only leftovers pruned
}

async function runStep(a: AppPlan, act: Action, deps: PassContext, log: Logger): Promise<void> {
  const { engine } = deps;
  switch (act.type) {
    case 'create': {
      // No old container waits on this one: create at once, and fetch the image only when the Engine lacks it.
      await prepareVolumes(act.desired, deps.dataRoot, deps.volumePolicy);
      const create = () => engine.createContainer({ name: a.app, spec: act.desired.spec, limits: act.desired.limits, labels: labelsFor(act.desired, deps.instance) });
      const t0 = Date.now();
      const id = await create().catch(async (err: unknown) => {
        if (!isMissingImage(err)) throw err;
        await ensureImage(act.desired, deps, log);
        return create();
      });
      const t1 = Date.now();
      // The state file is written while the container starts.
      await Promise.all([remember(deps, act.desired), act.desired.state === 'running' ? engine.startContainer(id) : undefined]);
      log.debug({ createMs: t1 - t0, startMs: Date.now() - t1 }, 'container created and started');
      return;
    }
    case 'recreate':
      await prepare(act.desired, deps, log);
      await recreate(act.desired, act.container, deps);
      await remember(deps, act.desired);
      return;
    case 'update-limits':
      await engine.updateLimits(act.container.id, act.desired.limits);
      await deps.state.update((s) => {
        const rec = s.apps[a.app] ?? { id: act.desired.id };
        rec.limits = { containerId: act.container.id, limits: act.desired.limits };
        rec.generation = act.desired.generation;
        s.apps[a.app] = rec;
      });
      return;
    case 'start':
      // The Engine resolves bind sources again at every start.
      if (a.desired) await prepareVolumes(a.desired, deps.dataRoot, deps.volumePolicy);
      await engine.startContainer(act.container.id);
      return;
    case 'stop':
      await engine.stopContainer(act.container.id, act.timeoutSeconds);
      return;
    case 'remove':
      await engine.removeContainer(act.container.id);
      // Only an app gone from the manifests forgets its id: one whose dead container is
      // replaced keeps it (and its web port) even if the create after this fails.
      // With a vhost to remove too, once that is live (see `forgetRemoved`).
      if (act.container.name === a.app && !a.desired && !removesVhost(a)) {
        await deps.state.update((s) => {
          delete s.apps[a.app];
        });
      }
      return;
    case 'vhost-create':
    case 'vhost-update':
    case 'vhost-remove':
      return; // written by the pass's vhost transaction (applyPlan)
  }
}

/** Creates the app's data directories and makes sure its image is here. */
async function prepare(d: DesiredApp, deps: PassContext, log: Logger): Promise<void> {
  await prepareVolumes(d, deps.dataRoot, deps.volumePolicy);
  await ensureImage(d, deps, log);
}

/** Pulls the app's image unless the Engine has it. */
async function ensureImage(d: DesiredApp, deps: PassContext, log: Logger): Promise<void> {
  const image = d.spec.image;
  // Apps that share an image share its check and its pull: 50 new apps of one missing image pull it once.
  let ready = deps.images.get(image);
  if (!ready) {
    ready = (async () => {
      if (await deps.engine.hasImage(image)) return;
      log.info({ image }, 'pulling image');
      deps.onProgress?.(d.app, `pulling ${image}`);
      await deps.engine.pullImage(image, (line) => {
        log.debug({ image, progress: line }, 'pull progress');
        deps.onProgress?.(d.app, line);
      });
    })();
    deps.images.set(image, ready);
  }
  await ready;
}

/**
 * Replaces the container without losing the old one until the new one runs:
 * the old one is stopped and renamed aside, and put back if the new one fails.
 */
async function recreate(d: DesiredApp, old: ObservedContainer, deps: ApplyDeps): Promise<void> {
  const { engine } = deps;
  const wasUp = old.state === 'running' || old.state === 'restarting';
  await engine.stopContainer(old.id, d.spec.stopTimeoutSeconds ?? old.spec?.stopTimeoutSeconds);
  const aside = asideName(d.app, old.id);
  await engine.renameContainer(old.id, aside);
  let newId: string | undefined;
  try {
    newId = await engine.createContainer({ name: d.app, spec: d.spec, limits: d.limits, labels: labelsFor(d, deps.instance) });
    if (d.state === 'running') await engine.startContainer(newId);
  } catch (err) {
    if (!(await restore(d, old, aside, newId, wasUp, deps))) {
      // The app is down until a pass puts it right: worth retrying, whatever the cause.
      const why = `${(err as Error).message}; the old container could not get its name back, so it stays stopped as ${aside} until the next pass, which starts the app again`;
      throw new EngineError(why, true, err instanceof EngineError ? err.statusCode : undefined);
    }
    throw err;
  }
  await engine.removeContainer(old.id);
}

/**
 * Puts the old container back under the app's name after a failed recreate,
 * and starts it if it was running. False when its name stays taken: a create
 * that timed out can still happen, late, so the new container is looked up by
 * name and removed too (it is this instance's, and never ran). Under its aside
 * name the old container is not started: it would hold the app's ports against
 * the next pass, which removes it as a leftover once the new one runs.
 */
async function restore(d: DesiredApp, old: ObservedContainer, aside: string, newId: string | undefined, wasUp: boolean, deps: ApplyDeps): Promise<boolean> {
  const { engine } = deps;
  const rename = () => engine.renameContainer(old.id, d.app).then(() => true, () => false);
  if (newId) await engine.removeContainer(newId).catch(() => undefined);
  let back = await rename();
  if (!back) {
    const found = await engine.listContainers(deps.instance, new Set([d.app])).catch(() => undefined);
    const late = found?.owned.find((c) => c.name === d.app && c.id !== old.id && c.state !== 'running');
    if (late) back = await engine.removeContainer(late.id).then(rename, () => false);
  }
  if (back && wasUp) await engine.startContainer(old.id).catch(() => undefined);
  return back;
}

function labelsFor(d: DesiredApp, instance: string): Record<string, string> {
  return {
    [LABEL.app]: d.app,
    [LABEL.instance]: instance,
    [LABEL.specHash]: d.specHash,
    [LABEL.spec]: JSON.stringify(d.spec),
    [LABEL.limits]: JSON.stringify(d.limits),
    [LABEL.id]: String(d.id),
    [LABEL.generation]: d.generation,
  };
}

async function remember(deps: ApplyDeps, d: DesiredApp): Promise<void> {
  await deps.state.update((s) => {
    s.apps[d.app] = { id: d.id, source: d.source.file, generation: d.generation };
  });
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping order in the result. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
