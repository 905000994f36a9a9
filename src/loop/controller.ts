import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { EngineError } from '../adapters/docker/errors.js';
import type { AppResult } from '../apply/outcome.js';
import { parseManifestText } from '../manifest/load.js';
import { formatProblem } from '../manifest/problem.js';
import { runPass, type PassDeps } from '../pass.js';
import type { AppPlan, Plan } from '../plan/actions.js';
import { portHandovers } from '../plan/handover.js';
import type { Metrics } from '../status/metrics.js';
import type { StatusStore } from '../status/model.js';
import { Backoff } from './backoff.js';
import type { Clock } from './clock.js';
import { Debouncer } from './debounce.js';
import { WorkQueue } from './queue.js';

/** The key that asks for a full pass over every app. */
export const ALL = '*';

/** How the loop is tuned; every time goes through `clock`. */
export interface ControllerOptions {
  deps: PassDeps;
  clock: Clock;
  status: StatusStore;
  metrics: Metrics;
  log: Logger;
  /**
   * Quiet time after the last change to a manifest file before it is read
   * (default 50 ms): a writer's bursts (git checkout, an editor's save, cp)
   * finish within it, so they cost one pass. A file still read mid-write
   * cannot remove an app: removals wait for a second look (removalConfirmMs).
   */
  debounceMs?: number;
  /** Quiet time after the last Engine event for an app before it is reconciled. */
  eventSettleMs?: number;
  /** When to look again after the last Engine event for an app (see `confirmDebouncer`). */
  eventConfirmMs?: number;
  /**
   * An app gone from the manifests is removed only when a pass at least this
   * long after the first one still finds it gone (default 1000 ms).
   */
  removalConfirmMs?: number;
  /** Full resync period. */
  resyncMs: number;
  /** Passes that may run at once (on disjoint apps). */
  workers?: number;
  backoff?: Backoff;
  /** Reads a manifest file's text, to learn which apps a change touches. */
  readFile: (file: string) => Promise<string | undefined>;
  /**
   * The pass to run: the real pipeline unless given. Injected so the loop's
   * timing (debounce, backoff, resync, terminal errors) is tested on a
   * ManualClock without an Engine.
   */
  runPass?: typeof runPass;
}

/**
 * The reconcile loop. Triggers (manifest files, Engine events, vhost files,
 * the resync timer) only queue app names. Each pass re-reads the manifests in
 * full and looks at the world again (level-based), so a lost or repeated
 * trigger is harmless: a full pass (start, resync, the Engine back) observes
 * every app; a keyed pass observes only the apps it was queued for.
 */
export class Controller {
  readonly queue: WorkQueue;
  private readonly backoff: Backoff;
  private readonly debouncer: Debouncer;
  private readonly eventDebouncer: Debouncer;
  private readonly confirmDebouncer: Debouncer;
  /** Apps that failed in a way retrying cannot fix, with the generation that failed. */
  private readonly terminal = new Map<string, string | undefined>();
  private readonly running = new Set<Promise<void>>();
  private resyncTimer: unknown;
  private stopped = false;
  /** Passes finished so far, and the count when each app's last pass finished. */
  private finishedPasses = 0;
  private readonly lastFinished = new Map<string, number>();
  /** Apps a pass found gone from the manifests, and when it first did. */
  private readonly goneSince = new Map<string, number>();
  /** App ids the last full pass observed, for keyed passes (see `Scope`). */
  private knownIds = new Map<string, number>();
  /** A pass held removals back: the next manifest change gets a full pass, which may make them. */
  private removalsHeld = false;
  /** An app waiting for another's removal to free its host ports: the one removed → the one waiting. */
  private readonly handovers = new Map<string, string>();
  /** Apps whose container the Engine reported updated: the next pass over them inspects their limits. */
  private readonly limitsChanged = new Set<string>();
  /** Serialises plan-and-reserve across workers. */
  private planning: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue(o.clock);
    this.backoff = o.backoff ?? new Backoff();
    this.debouncer = new Debouncer(o.clock, o.debounceMs ?? 50, (file) => void this.manifestSettled(file));
    // The Engine sends kill, die and stop in a burst, and its container list can
    // trail the die event by a moment: act once the burst has settled.
    // Engine events only nudge: most of those for a failing app come from its
    // own pass (the new container stopped, the old one put back), and must not
    // cut its backoff short. The retry looks at the world anyway.
    this.eventDebouncer = new Debouncer(o.clock, o.eventSettleMs ?? 250, (app) => this.queue.nudge(app));
    // The Engine sends `die` before its container list (and inspect) say the
    // container exited: on a busy host, 300 ms later they may still say
    // running. A pass that looked too early finds nothing to do, and no later
    // event comes, so the app would stay down until the resync. Look once more.
    this.confirmDebouncer = new Debouncer(o.clock, o.eventConfirmMs ?? 2000, (app) => this.queue.nudge(app));
    o.metrics.scheduled = () => this.scheduledTriggers();
  }

  /** Starts the workers and the first full pass. */
  start(): void {
    this.queue.add(ALL);
    this.scheduleResync();
    for (let i = 0; i < (this.o.workers ?? 2); i++) {
      const w = this.worker();
      this.running.add(w);
      void w.finally(() => this.running.delete(w));
    }
  }

  /** Triggers still settling: each will queue its apps when its timer fires. */
  scheduledTriggers(): number {
    return this.debouncer.size + this.eventDebouncer.size + this.confirmDebouncer.size;
  }

  /** A manifest file was added, changed or removed. */
  manifestChanged(file: string): void {
    this.debouncer.poke(file);
  }

  /**
   * A vhost file changed: `<app>.conf`. The echo of hdactl's own writes is
   * ignored: a pass writes (and may put back) vhost files, and requeueing the
   * app for that would retry a failing app at once, not after its backoff.
   */
  vhostChanged(file: string): void {
    const name = path.basename(file);
    if (!name.endsWith('.conf') || name.startsWith('.')) return;
    const app = name.slice(0, -'.conf'.length);
    const echo = this.o.deps.vhosts.isAsLeft(app);
    this.o.log.debug({ trigger: 'vhost', app, echo }, echo ? 'vhost file event: hdactl\'s own write, ignored' : 'vhost file changed');
    if (!echo) this.queue.add(app);
  }

  /** The Engine reported something (`action`: die, update, …) about one of our containers. */
  engineEvent(app: string, action = ''): void {
    // Labels cannot say what a `docker update` did: the pass asks the Engine.
    if (action === 'update') this.limitsChanged.add(app);
    this.eventDebouncer.poke(app);
    this.confirmDebouncer.poke(app);
  }

  /** Queues a full pass (resync, the Engine came back, the manifests directory replaced). */
  resyncAll(): void {
    this.queue.add(ALL);
  }

  /** Stops taking work and waits for in-flight passes, at most `timeoutMs`. */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopped = true;
    this.debouncer.cancelAll();
    this.eventDebouncer.cancelAll();
    this.confirmDebouncer.cancelAll();
    if (this.resyncTimer !== undefined) this.o.clock.clearTimeout(this.resyncTimer);
    this.queue.close();
    let timer: unknown;
    const timeout = new Promise<boolean>((r) => (timer = this.o.clock.setTimeout(() => r(false), timeoutMs)));
    const done = Promise.all([...this.running]).then(() => true);
    const finished = await Promise.race([done, timeout]);
    this.o.clock.clearTimeout(timer);
    return finished;
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.o.clock.setTimeout(() => {
      this.queue.add(ALL);
      this.scheduleResync();
    }, this.o.resyncMs);
  }

  /** After a burst settles: queue the apps the file defines now, and those it defined before. */
  private async manifestSettled(file: string): Promise<void> {
    const text = await this.o.readFile(file);
    const apps = new Set<string>();
    if (text !== undefined) {
      for (const d of parseManifestText(file, text).docs) if (d.appName) apps.add(d.appName);
    }
    const state = await this.o.deps.state.read().catch(() => undefined);
    for (const [app, rec] of Object.entries(state?.apps ?? {})) if (rec.source === file) apps.add(app);
    this.o.log.debug({ trigger: 'manifest', file, apps: [...apps] }, 'manifest file settled');
    for (const app of apps) this.terminal.delete(app);
    // A file whose apps cannot be told (a syntax error on the first line) gets a full pass, which reports it.
    // So does any change while removals are held back: the removals this one may free are of other apps.
    if (apps.size === 0 || this.removalsHeld) this.queue.add(ALL);
    this.removalsHeld = false;
    for (const app of apps) this.queue.add(app);
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      const keys = await this.queue.take();
      if (keys.length === 0) return;
      this.o.metrics.queueDepth.set(this.queue.depth);
      const claimed = new Set(keys.filter((k) => k !== ALL));
      // An app waiting for another's removal (see `handovers`) joins that removal's pass.
      for (const k of [...claimed]) {
        const waiting = this.handovers.get(k);
        for (const c of waiting === undefined ? [] : this.queue.claim([waiting])) {
          this.queue.cancelDelay(c);
          claimed.add(c);
        }
      }
      try {
        await this.pass(keys.includes(ALL), claimed);
      } finally {
        this.finishedPasses++;
        for (const k of claimed) this.lastFinished.set(k, this.finishedPasses);
        this.queue.done(claimed);
        // Only a full pass holds ALL: a keyed one releasing it would let a second full pass start beside the first.
        if (keys.includes(ALL)) this.queue.done([ALL]);
        this.o.metrics.queueDepth.set(this.queue.depth);
      }
    }
  }

  private async pass(full: boolean, claimed: Set<string>): Promise<void> {
    const reconcileId = randomBytes(4).toString('hex');
    const log = this.o.log.child({ reconcileId });
    const started = this.o.clock.now();
    const endTimer = this.o.metrics.passDuration.startTimer();
    const observedAfter = this.finishedPasses;
    const readFrom = this.queue.stamp();
    const select = (p: Plan): Set<string> => {
      if (full) {
        // Apps that left the world as well as the manifests need no second look.
        const planned = new Set(p.apps.map((a) => a.app));
        for (const app of this.goneSince.keys()) if (!planned.has(app)) this.goneSince.delete(app);
        // A full pass takes every app not already being reconciled by another
        // worker. It claims them only after observing, so an app whose pass
        // finished meanwhile was observed half-changed (its container not yet
        // created, say): acting on that would do it twice. Such an app gets a
        // pass of its own instead, from a fresh observation.
        const others = p.apps.map((a) => a.app).filter((a) => !claimed.has(a));
        const stale = new Set(others.filter((a) => (this.lastFinished.get(a) ?? 0) > observedAfter));
        for (const a of stale) this.queue.add(a);
        for (const k of this.queue.claim(others.filter((a) => !stale.has(a)), readFrom)) claimed.add(k);
      }
      const chosen = new Set<string>();
      const deferred = new Set<string>();
      for (const a of p.apps) {
        if (!claimed.has(a.app)) continue;
        const stuck = this.terminal.has(a.app) && this.terminal.get(a.app) === a.desired?.generation;
        if (!stuck && !this.removalConfirmed(a, log)) {
          deferred.add(a.app);
          continue;
        }
        if (!stuck) {
          chosen.add(a.app);
          if (a.actions.length) this.o.status.markProgressing(a.app);
        }
      }
      // An app taking over host ports from one whose removal waits for its
      // second look (an app renamed in its file) waits for that removal too,
      // instead of failing on the ports meanwhile.
      for (const [app, from] of portHandovers(p).waitFor) {
        const held = from.filter((b) => deferred.has(b));
        if (!chosen.has(app) || !held.length) continue;
        chosen.delete(app);
        for (const b of held) this.handovers.set(b, app);
        // Should the removal not come (the old name back), the app is looked at again anyway.
        this.queue.addAfter(app, 2 * (this.o.removalConfirmMs ?? 1000));
        log.info({ app, waitsFor: held }, `${app} waits for the removal of ${held.join(', ')}, which holds its host ports`);
      }
      // A hand `docker update` this pass took but leaves to another (an app in flight
      // elsewhere, or looked at again): that pass must inspect its limits, not this one.
      for (const app of limitsChanged) if (!chosen.has(app)) this.limitsChanged.add(app);
      return chosen;
    };
    // Taken by this pass; given back should it fail before it has looked.
    const limitsChanged = new Set([...this.limitsChanged].filter((app) => full || claimed.has(app)));
    for (const app of limitsChanged) this.limitsChanged.delete(app);
    try {
      const deps: PassDeps = { ...this.o.deps, log, exclusive: (fn) => this.exclusive(fn), ...(limitsChanged.size ? { limitsChanged } : {}) };
      const scope = full ? undefined : { apps: claimed, knownIds: this.knownIds };
      const r = await (this.o.runPass ?? runPass)(deps, select, scope);
      if (r.removalsHeld) this.removalsHeld = true;
      if (full) this.knownIds = new Map(r.observed.containers.flatMap((c) => (c.appId !== undefined && c.name === c.app ? [[c.app, c.appId] as const] : [])));
      // Its Engine calls answered; unless the Engine was reported lost since the pass began.
      if (this.o.status.setEngine(true, undefined, started)) this.o.metrics.engineUp.set(1);
      // Passes overlap on disjoint apps, and a full one observes every app: what
      // it saw of an app another pass is changing, or changed after it looked,
      // is older than the status that pass records, and must not overwrite it.
      // A keyed pass saw only its own apps.
      const mayRecord = (app: string) => claimed.has(app) || (full && !this.queue.isInFlight(app) && (this.lastFinished.get(app) ?? 0) <= observedAfter);
      const newProblems = this.o.status.recordPass(r, r.results, mayRecord);
      for (const problem of newProblems) log.warn({ problem: formatProblem(problem), app: problem.app }, 'manifest problem');
      this.o.metrics.manifestProblems.set(this.o.status.problemCount());
      this.afterResults(r.results, new Map(r.plan.apps.map((a) => [a.app, a.desired?.generation])));
      this.o.metrics.passes.inc({ result: 'ok' });
      log.debug({ apps: r.results.length, full, ms: this.o.clock.now() - started }, 'pass done');
    } catch (err) {
      this.o.metrics.passes.inc({ result: 'error' });
      const unreachable = err instanceof EngineError && err.unreachable;
      if (unreachable) {
        this.o.status.setEngine(false, (err as Error).message);
        this.o.metrics.engineUp.set(0);
      }
      log.error({ err }, unreachable ? 'Engine unreachable' : 'pass failed');
      for (const app of limitsChanged) this.limitsChanged.add(app);
      // The whole pass failed before any app was applied: retry it as one.
      const delay = this.backoff.fail(ALL);
      this.queue.addAfter(ALL, delay);
      for (const k of claimed) this.queue.addAfter(k, delay);
      return;
    } finally {
      endTimer();
      this.o.metrics.engineCalls.set(this.o.deps.engine.calls);
      const counts = this.o.status.countByCondition();
      for (const [condition, n] of Object.entries(counts)) this.o.metrics.apps.set({ condition }, n);
    }
    this.backoff.reset(ALL);
  }

  /**
   * True unless `a` is an app gone from the manifests that has not been gone
   * for `removalConfirmMs` yet. A manifest read mid-write, or a checkout that
   * deletes a file and writes it again, must not take a running app away:
   * a removal waits for a second look, which is queued here.
   */
  private removalConfirmed(a: AppPlan, log: Logger): boolean {
    if (a.desired || a.blocked || a.actions.length === 0) {
      if (this.goneSince.delete(a.app) && a.desired) log.info({ app: a.app }, `${a.app} is back in the manifests; it was not removed`);
      return true;
    }
    const wait = this.o.removalConfirmMs ?? 1000;
    const now = this.o.clock.now();
    const since = this.goneSince.get(a.app);
    if (since !== undefined && now - since >= wait) {
      this.goneSince.delete(a.app);
      return true;
    }
    if (since === undefined) {
      this.goneSince.set(a.app, now);
      log.info({ app: a.app, confirmMs: wait }, `${a.app} is gone from the manifests; removing it if it is still gone in ${wait} ms`);
    }
    this.queue.addAfter(a.app, wait - (now - (since ?? now)));
    return false;
  }

  private afterResults(results: AppResult[], generations: Map<string, string | undefined>): void {
    const applied = new Set(results.map((r) => r.app));
    for (const r of results) {
      const waiting = this.handovers.get(r.app);
      if (waiting !== undefined) {
        this.handovers.delete(r.app);
        // Removed in a pass the waiting app was not part of: its turn now.
        if (r.outcome === 'removed' && !applied.has(waiting)) this.queue.add(waiting);
      }
      for (const step of r.steps) this.o.metrics.actions.inc({ kind: step, outcome: 'ok' });
      if (r.outcome === 'failed') this.o.metrics.actions.inc({ kind: r.steps.at(-1) ?? 'pass', outcome: 'failed' });
      if (r.outcome === 'failed' && r.transient) {
        const delay = this.backoff.fail(r.app);
        this.queue.addAfter(r.app, delay);
        this.o.status.recordBackoff(r.app, delay, this.backoff.count(r.app), r.error ?? r.message);
      } else if (r.outcome === 'failed') {
        // Retrying cannot fix it: wait until the manifest changes.
        this.backoff.reset(r.app);
        this.terminal.set(r.app, generations.get(r.app));
      } else {
        // Recovered (a resync fixed it, say): a retry still pending, its own or that of a
        // whole pass that failed, would make Engine events wait for it.
        this.queue.cancelDelay(r.app);
        this.backoff.reset(r.app);
        this.terminal.delete(r.app);
      }
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.planning.then(fn, fn);
    this.planning = next.catch(() => undefined);
    return next;
  }
}
