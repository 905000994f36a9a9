import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { EngineError } from '../../../src/adapters/docker/errors.js';
import type { AppResult } from '../../../src/apply/outcome.js';
import type { DesiredApp } from '../../../src/desired/model.js';
import { ManualClock } from '../../../src/loop/clock.js';
import { Controller } from '../../../src/loop/controller.js';
import type { PassDeps, runPass, Scope } from '../../../src/pass.js';
import type { AppPlan, Plan } from '../../../src/plan/actions.js';
import { Metrics } from '../../../src/status/metrics.js';
import { StatusStore } from '../../../src/status/model.js';
import { settle } from './flush.js';

type Behaviour = 'ok' | 'transient' | 'terminal';

/**
 * A stand-in for the reconcile pipeline: the Controller's timing is what is
 * under test here, not the Engine (integration tests drive the real one).
 * Each app has a manifest generation and a behaviour for its next pass.
 */
class FakePasses {
  readonly apps = new Map<string, { generation: string; behaviour: Behaviour }>();
  /** The apps each pass applied, in order, and when. */
  readonly passes: Array<{ at: number; apps: string[] }> = [];
  /** Container states as the Engine would report them now; apps not here have none. */
  readonly world = new Map<string, string>();
  /** What every pass reports of held-back removals. */
  removalsHeld = false;
  /** When set, every pass throws this before applying anything. */
  failWhole: Error | undefined;
  /** When set, passes wait for it before returning. */
  gate: Promise<void> | undefined;
  /** When set, passes wait for it between observing the world and choosing their apps. */
  planGate: Promise<void> | undefined;
  /** Apps a pass applied from an observation older than another pass's result for them. */
  readonly staleApplies: string[] = [];
  private finished = 0;
  private readonly lastFinished = new Map<string, number>();
  /** Passes in flight per app, and the most ever seen at once. */
  private readonly inFlight = new Map<string, number>();
  maxConcurrentPerApp = 0;

  constructor(private readonly clock: ManualClock) {}

  set(app: string, generation: string, behaviour: Behaviour = 'ok'): void {
    this.apps.set(app, { generation, behaviour });
  }

  appsOf(i: number): string[] {
    return this.passes[i]?.apps ?? [];
  }

  /** Apps whose manifest is gone while their container still runs. */
  readonly gone = new Set<string>();
  /** Apps a pass removed, in order. */
  readonly removed: string[] = [];

  /** The app's manifest is deleted: the next plans remove it. */
  remove(app: string): void {
    this.apps.delete(app);
    this.gone.add(app);
  }

  /** The scope each pass was given (undefined: a full pass). */
  readonly scopes: Array<Scope | undefined> = [];
  /** The apps each pass (failed ones too) was to inspect the limits of. */
  readonly limitsInspected: string[][] = [];

  readonly run: typeof runPass = async (deps, only, scope) => {
    this.limitsInspected.push([...(deps.limitsChanged ?? [])].sort());
    if (this.failWhole) throw this.failWhole;
    this.scopes.push(scope);
    // As the real pass does: a scoped pass observes and plans only its apps.
    const inScope = (app: string) => !scope || scope.apps.has(app);
    const apps: AppPlan[] = [...this.apps].filter(([app]) => inScope(app)).map(([app, a]) => ({
      app,
      desired: { app, generation: a.generation, spec: { image: 'demo:1' }, limits: {} } as unknown as DesiredApp,
      actions: [],
    }));
    for (const app of [...this.gone].filter(inScope)) apps.push({ app, actions: [{ type: 'remove', container: { app, name: app } }] } as unknown as AppPlan);
    const plan: Plan = { apps };
    const containers = [...this.world].filter(([app]) => inScope(app)).map(([app, state], i) => ({ id: `${app}-id`, name: app, app, appId: i + 1, state, status: state, specHash: 'h', limits: {} }));
    const observedAt = this.finished;
    if (this.planGate) await this.planGate;
    const chosen = typeof only === 'function' ? only(plan) : (only ?? new Set(apps.map((a) => a.app)));
    const names = [...chosen].sort();
    for (const a of names) if ((this.lastFinished.get(a) ?? 0) > observedAt) this.staleApplies.push(a);
    this.passes.push({ at: this.clock.now(), apps: names });
    for (const a of names) {
      const n = (this.inFlight.get(a) ?? 0) + 1;
      this.inFlight.set(a, n);
      this.maxConcurrentPerApp = Math.max(this.maxConcurrentPerApp, n);
    }
    if (this.gate) await this.gate;
    this.finished++;
    for (const a of names) {
      this.inFlight.set(a, this.inFlight.get(a)! - 1);
      this.lastFinished.set(a, this.finished);
    }
    const results: AppResult[] = names.map((app) => {
      if (this.gone.delete(app)) {
        this.removed.push(app);
        return { app, outcome: 'removed', message: 'manifest deleted', steps: ['remove'] };
      }
      const b = this.apps.get(app)!.behaviour;
      if (b === 'ok') return { app, outcome: 'unchanged', message: '', steps: [] };
      return { app, outcome: 'failed', message: `${b} failure`, error: `${b} failure`, transient: b === 'transient', steps: ['create'] };
    });
    return {
      plan,
      results,
      desired: { model: { apps: [], problems: [], frozen: new Set() }, problems: [], frozen: new Map(), brokenFiles: new Set(), emptyFiles: new Set() },
      observed: { containers, foreignNames: new Map(), vhosts: new Map(), foreignVhosts: new Set() },
      state: { version: 1, apps: {} },
      removalsHeld: this.removalsHeld,
    } as unknown as Awaited<ReturnType<typeof runPass>>;
  };
}

/** A Controller on a ManualClock, over FakePasses; manifest `<app>.yaml` defines app `<app>`. */
function setup(opts: { resyncMs?: number } = {}) {
  const clock = new ManualClock();
  const fake = new FakePasses(clock);
  const status = new StatusStore('unix:///fake.sock', () => clock.now(), { vhostPort: 80, portBase: 35000 });
  const metrics = new Metrics();
  /** Apps whose vhost file is as hdactl last left it. */
  const leftAsIs = new Set<string>();
  const deps = {
    engine: { calls: 0 },
    state: { read: async () => ({ version: 1, apps: {} }) },
    vhosts: { isAsLeft: (app: string) => leftAsIs.has(app) },
    log: pino({ level: 'silent' }),
  } as unknown as PassDeps;
  const controller = new Controller({
    deps,
    clock,
    status,
    metrics,
    log: pino({ level: 'silent' }),
    resyncMs: opts.resyncMs ?? 60_000,
    debounceMs: 100,
    eventSettleMs: 250,
    workers: 2,
    readFile: async (file) => `app: ${file.replace(/\.yaml$/, '')}\nkind: container\nimage: demo:1\n`,
    runPass: fake.run,
  });
  /** Moves the clock and lets the workers run what fell due. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle(5);
  };
  const passCount = async (result: 'ok' | 'error') => (await metrics.passes.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  /** hdactl_triggers_scheduled as /metrics would show it now. */
  const scheduled = async () => (await metrics.triggersScheduled.get()).values[0]?.value;
  /** `<app>.yaml` loses (`gone`) or gets back its app, and the debounce runs out. */
  const manifestNow = async (name: string, gone: boolean) => {
    if (gone) fake.remove(name);
    else {
      fake.gone.delete(name);
      fake.set(name, 'g1');
    }
    controller.manifestChanged(`${name}.yaml`);
    await advance(100);
  };
  const app = (name: string) => status.snapshot().apps.find((a) => a.app === name);
  const condition = (name: string, type: string) => app(name)?.conditions.find((c) => c.type === type);
  /** Apps with manifest generation g1 whose passes succeed, then the controller started and its first pass run. */
  const startWith = async (...apps: string[]) => {
    for (const a of apps) fake.set(a, 'g1');
    controller.start();
    await settle(5);
  };
  return { clock, fake, status, metrics, controller, advance, passCount, scheduled, manifestNow, app, condition, leftAsIs, startWith };
}

describe('Controller timing', () => {
  it('an Engine update event has the next pass over the app read its limits from the Engine, once; a pass that fails gives it back', async () => {
    const t = setup();
    await t.startWith('a', 'b');
    t.controller.engineEvent('a', 'die');
    await t.advance(250);
    t.controller.engineEvent('a', 'update');
    await t.advance(250);
    // The start, the die's pass, the update's pass: only the last one inspects.
    expect(t.fake.limitsInspected).toEqual([[], [], ['a']]);
    t.fake.failWhole = new EngineError('the Engine is busy', true);
    t.controller.engineEvent('b', 'update');
    await t.advance(250);
    expect(t.fake.limitsInspected).toEqual([[], [], ['a'], ['b']]);
    t.fake.failWhole = undefined;
    await t.advance(60_000);
    // The retry after the failure inspects b; no other pass inspects anything (a's second look included).
    expect(t.fake.limitsInspected.slice(4).filter((l) => l.length)).toEqual([['b']]);
    await t.controller.stop(1000);
  });

  it('runs one full pass at start, then one per resync period', async () => {
    const t = setup({ resyncMs: 60_000 });
    await t.startWith('a', 'b');
    expect(t.fake.passes).toEqual([{ at: 0, apps: ['a', 'b'] }]);
    await t.advance(59_999);
    expect(t.fake.passes).toHaveLength(1);
    await t.advance(1);
    await t.advance(60_000);
    expect(t.fake.passes.map((p) => p.at)).toEqual([0, 60_000, 120_000]);
    expect(t.fake.appsOf(2)).toEqual(['a', 'b']);
    expect(await t.passCount('ok')).toBe(3);
    await t.controller.stop(1000);
  });

  it('a burst of writes to one manifest runs one pass, for that app only, after the quiet period', async () => {
    const t = setup();
    await t.startWith('a', 'b');
    t.fake.set('a', 'g2');
    for (let i = 0; i < 50; i++) {
      t.controller.manifestChanged('a.yaml');
      await t.advance(10);
    }
    // The last write was at 490 ms.
    await t.advance(89);
    expect(t.fake.passes).toHaveLength(1);
    expect(await t.scheduled()).toBe(1);
    await t.advance(1);
    expect(t.fake.passes[1]).toEqual({ at: 590, apps: ['a'] });
    expect(await t.scheduled()).toBe(0);
    await t.advance(10_000);
    expect(t.fake.passes).toHaveLength(2);
    await t.controller.stop(1000);
  });

  it('a keyed pass observes only its apps, and knows the other apps\' ids from the last full pass', async () => {
    const t = setup();
    t.fake.set('a', 'g1');
    t.fake.set('b', 'g1');
    t.fake.world.set('a', 'running');
    t.fake.world.set('b', 'running');
    t.controller.start();
    await settle(5);
    expect(t.fake.scopes).toEqual([undefined]);
    t.controller.manifestChanged('a.yaml');
    await t.advance(1000);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['a']]);
    expect(t.fake.scopes[1]?.apps).toEqual(new Set(['a']));
    expect(t.fake.scopes[1]?.knownIds).toEqual(new Map([['a', 1], ['b', 2]]));
    // b was not looked at, so what the full pass recorded for it stands.
    expect(t.app('b')?.state).toBe('running');
    await t.controller.stop(1000);
  });

  it('removes an app gone from the manifests only when a second look 1 s later still finds it gone', async () => {
    const t = setup();
    await t.startWith('a', 'b');
    await t.manifestNow('a', true);
    // The first look leaves it running, and queues the second.
    expect(t.fake.passes[1]).toEqual({ at: 100, apps: [] });
    expect(t.fake.removed).toEqual([]);
    expect(await t.scheduled()).toBe(0);
    expect(t.controller.queue.depth).toBe(1);
    await t.advance(999);
    expect(t.fake.removed).toEqual([]);
    await t.advance(1);
    expect(t.fake.passes[2]).toEqual({ at: 1100, apps: ['a'] });
    expect(t.fake.removed).toEqual(['a']);
    await t.advance(60_000);
    expect(t.fake.removed).toEqual(['a']);
    await t.controller.stop(1000);
  });

  it('never removes an app whose manifest was gone for a moment only (a file read mid-write, a checkout)', async () => {
    const t = setup();
    await t.startWith('a');
    await t.manifestNow('a', true);
    expect(t.fake.passes[1]).toEqual({ at: 100, apps: [] });
    // The writer finishes: the app is back in its file.
    await t.manifestNow('a', false);
    expect(t.fake.passes[2]).toEqual({ at: 200, apps: ['a'] });
    await t.advance(5_000);
    expect(t.fake.removed).toEqual([]);
    // Gone again later: the wait starts over, from that first look.
    await t.manifestNow('a', true);
    expect(t.fake.removed).toEqual([]);
    await t.advance(1000);
    expect(t.fake.removed).toEqual(['a']);
    await t.controller.stop(1000);
  });

  it('a manifest change while removals are held back (a file that cannot be parsed) gets a full pass, which can make them', async () => {
    const t = setup();
    await t.startWith('a', 'b');
    t.fake.removalsHeld = true; // say b.yaml cannot be parsed, and c's manifest was deleted meanwhile
    t.controller.manifestChanged('a.yaml');
    await t.advance(100);
    expect(t.fake.scopes.at(-1)?.apps).toEqual(new Set(['a']));
    t.fake.removalsHeld = false; // b.yaml fixed: the removal of c waits for a full pass, not the next resync
    t.controller.manifestChanged('b.yaml');
    await t.advance(100);
    expect(t.fake.scopes).toHaveLength(3);
    expect(t.fake.scopes.at(-1)).toBeUndefined();
    // Once nothing is held, a change gets a keyed pass again.
    t.controller.manifestChanged('a.yaml');
    await t.advance(100);
    expect(t.fake.scopes.at(-1)?.apps).toEqual(new Set(['a']));
    await t.controller.stop(1000);
  });

  it('a burst of Engine events for an app reconciles it once they settle, and once more 2 s later', async () => {
    // The Engine's container list can still say running a few hundred ms
    // after `die`: the second look catches what the first one missed.
    const t = setup();
    t.fake.set('a', 'g1');
    t.fake.world.set('a', 'running');
    t.controller.start();
    await settle(5);
    expect(await t.scheduled()).toBe(0);
    for (const _ of ['kill', 'die', 'stop']) t.controller.engineEvent('a');
    // The settle and the second look, each once for the burst.
    expect(await t.scheduled()).toBe(2);
    await t.advance(249);
    expect(t.fake.passes).toHaveLength(1);
    await t.advance(1);
    expect(t.fake.passes[1]).toEqual({ at: 250, apps: ['a'] });
    expect(t.app('a')?.state).toBe('running'); // the list had not caught up yet
    expect(await t.scheduled()).toBe(1);
    t.fake.world.set('a', 'exited');
    await t.advance(1749);
    expect(t.fake.passes).toHaveLength(2);
    await t.advance(1);
    expect(t.fake.passes[2]).toEqual({ at: 2000, apps: ['a'] });
    expect(await t.scheduled()).toBe(0);
    expect(t.app('a')?.state).toBe('exited');
    await t.advance(60_000 - 2000 - 1);
    expect(t.fake.passes).toHaveLength(3);
    await t.controller.stop(1000);
  });

  it('retries a transiently failing app after 1 s, 2 s, 4 s, and from 1 s again after a success', async () => {
    const t = setup();
    t.fake.set('a', 'g1', 'transient');
    await t.startWith('b');
    expect(t.app('a')).toMatchObject({ failures: 1, nextRetry: new Date(1000).toISOString(), lastError: 'transient failure' });
    expect(t.condition('a', 'Degraded')).toMatchObject({ status: 'True', reason: 'BackOff' });
    expect(t.condition('a', 'Progressing')).toMatchObject({ status: 'True', reason: 'Retrying' });
    expect(t.condition('b', 'Degraded')?.status).toBe('False');

    await t.advance(1000);
    await t.advance(2000);
    await t.advance(3999);
    expect(t.fake.passes.map((p) => [p.at, p.apps])).toEqual([[0, ['a', 'b']], [1000, ['a']], [3000, ['a']]]);
    expect(t.app('a')?.failures).toBe(3);
    t.fake.set('a', 'g1', 'ok');
    await t.advance(1);
    expect(t.fake.passes.at(-1)).toEqual({ at: 7000, apps: ['a'] });
    expect(t.app('a')).toMatchObject({ failures: 0 });
    expect(t.app('a')?.nextRetry).toBeUndefined();
    expect(t.condition('a', 'Degraded')?.status).toBe('False');
    expect(t.condition('a', 'Progressing')?.status).toBe('False');

    t.fake.set('a', 'g1', 'transient');
    t.controller.engineEvent('a');
    await t.advance(250);
    expect(t.app('a')?.failures).toBe(1);
    await t.advance(1000);
    expect(t.fake.passes.at(-1)).toEqual({ at: 8250, apps: ['a'] });
    await t.controller.stop(1000);
  });

  it('Engine events from a failing app\'s own pass do not cut its backoff short; a manifest change does', async () => {
    const t = setup();
    t.fake.set('a', 'g1', 'transient');
    let release!: () => void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    t.controller.start();
    await settle(5);
    // During the failing pass the Engine reports the containers it stopped and put back.
    for (const _ of ['create', 'start', 'die', 'destroy']) t.controller.engineEvent('a');
    await t.advance(250);
    t.fake.gate = undefined;
    release();
    await settle(10);
    expect(t.app('a')?.failures).toBe(1);
    // And more of them settle after it, before the retry is due.
    t.controller.engineEvent('a');
    await t.advance(999);
    expect(t.fake.passes.map((p) => p.at)).toEqual([0]);
    await t.advance(1);
    expect(t.fake.passes.map((p) => p.at)).toEqual([0, 1250]);
    // The second look 2 s after the last event (at 2250) falls in the next wait (2 s): it does not run either.
    await t.advance(1000);
    expect(t.fake.passes.map((p) => p.at)).toEqual([0, 1250]);
    // A change to the manifest is what the owner did to fix it: it runs at once.
    t.controller.manifestChanged('a.yaml');
    await t.advance(100);
    expect(t.fake.passes.map((p) => p.at)).toEqual([0, 1250, 2350]);
    await t.controller.stop(1000);
  });

  it('an app a full pass fixed while it waited for a retry reacts to Engine events at once again', async () => {
    const t = setup();
    t.fake.set('a', 'g1', 'transient');
    t.controller.start();
    await settle(5);
    await t.advance(1000);
    await t.advance(2000);
    expect(t.app('a')?.failures).toBe(3); // the next retry is due at 7000
    t.fake.set('a', 'g1', 'ok');
    t.controller.resyncAll();
    await settle(10);
    expect(t.app('a')?.failures).toBe(0);
    expect(t.controller.queue.depth).toBe(0);
    // Its container dies: the pass comes when the burst settles, not at the old retry time.
    t.controller.engineEvent('a');
    await t.advance(250);
    expect(t.fake.passes.map((p) => p.at)).toEqual([0, 1000, 3000, 3000, 3250]);
    await t.controller.stop(1000);
  });

  it('caps the wait between retries at 5 minutes', async () => {
    const t = setup({ resyncMs: 24 * 3600_000 });
    t.fake.set('a', 'g1', 'transient');
    t.controller.start();
    await settle(5);
    for (let i = 0; i < 12; i++) {
      const next = Date.parse(t.app('a')!.nextRetry!);
      await t.advance(next - t.clock.now());
    }
    const gaps = t.fake.passes.slice(1).map((p, i) => p.at - t.fake.passes[i]!.at);
    expect(gaps.slice(0, 10)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000]);
    expect(gaps.slice(10)).toEqual([300_000, 300_000]);
    await t.controller.stop(1000);
  });

  it('leaves an app that failed terminally alone on resync until its manifest changes', async () => {
    const t = setup({ resyncMs: 60_000 });
    t.fake.set('a', 'g1', 'terminal');
    await t.startWith('b');
    expect(t.condition('a', 'Degraded')).toMatchObject({ status: 'True', reason: 'Failed' });
    expect(t.condition('a', 'Progressing')?.status).toBe('False');
    await t.advance(60_000);
    await t.advance(60_000);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['b'], ['b']]);
    expect(t.app('a')?.failures).toBe(0);

    // The file changed: it is tried again at once, and once fixed it is in sync.
    t.fake.set('a', 'g2', 'ok');
    t.controller.manifestChanged('a.yaml');
    await t.advance(100);
    expect(t.fake.passes.at(-1)?.apps).toEqual(['a']);
    expect(t.condition('a', 'Degraded')?.status).toBe('False');
  });

  it('tries a terminally failed app again when its generation changed even if the file event was missed', async () => {
    const t = setup({ resyncMs: 60_000 });
    t.fake.set('a', 'g1', 'terminal');
    t.controller.start();
    await settle(5);
    t.fake.set('a', 'g2', 'ok');
    await t.advance(60_000);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a'], ['a']]);
    await t.controller.stop(1000);
  });

  it('reports an unreachable Engine and retries the whole pass with backoff', async () => {
    const t = setup();
    t.fake.set('a', 'g1');
    t.fake.failWhole = new EngineError('cannot reach the Docker Engine at unix:///fake.sock (connect ECONNREFUSED): is dockerd running?', true, undefined, true);
    t.controller.start();
    await settle(5);
    expect(t.status.snapshot().engine).toMatchObject({ reachable: false, message: expect.stringContaining('ECONNREFUSED') });
    expect(await t.passCount('error')).toBe(1);
    await t.advance(1000);
    expect(await t.passCount('error')).toBe(2);
    await t.advance(1999);
    expect(await t.passCount('error')).toBe(2);
    t.fake.failWhole = undefined;
    await t.advance(1);
    expect(t.fake.passes).toEqual([{ at: 3000, apps: ['a'] }]);
    expect(t.status.snapshot().engine.reachable).toBe(true);
    expect(t.status.snapshot().events.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^Engine unreachable/), 'Engine reachable again']));
    await t.controller.stop(1000);
  });

  it('after whole passes failed, an app put right by a later pass follows its Engine events at once again, not at the failed passes\' retry', async () => {
    const t = setup({ resyncMs: 600_000 });
    await t.startWith('a', 'b');
    t.fake.failWhole = new EngineError('the Engine is busy', true);
    t.controller.engineEvent('a', 'die');
    await t.advance(250);
    await t.advance(1000);
    await t.advance(2000); // three failed passes: a's retry is now 4 s away
    t.fake.failWhole = undefined;
    t.controller.resyncAll();
    await settle(10); // the full pass puts everything right
    const before = t.fake.passes.length;
    t.controller.engineEvent('a', 'stop');
    await t.advance(300);
    expect(t.fake.passes.slice(before).map((p) => p.apps)).toContainEqual(['a']);
    await t.controller.stop(1000);
  });

  it('a pass that began before the Engine was reported lost does not report it reachable when it ends', async () => {
    const t = setup();
    t.fake.set('a', 'g1');
    let release!: () => void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    t.controller.start();
    await settle(5);
    await t.advance(10);
    // The events stream breaks while the pass (its Engine calls already answered) is still finishing.
    t.status.setEngine(false, 'connect ENOENT');
    t.metrics.engineUp.set(0);
    t.fake.gate = undefined;
    release();
    await settle(10);
    expect(t.fake.passes).toHaveLength(1);
    expect(t.status.snapshot().engine).toMatchObject({ reachable: false, message: 'connect ENOENT' });
    expect((await t.metrics.engineUp.get()).values[0]?.value).toBe(0);
    // A pass that begins after it does.
    t.controller.engineEvent('a');
    await t.advance(250);
    expect(t.fake.passes).toHaveLength(2);
    expect(t.status.snapshot().engine.reachable).toBe(true);
    expect((await t.metrics.engineUp.get()).values[0]?.value).toBe(1);
    await t.controller.stop(1000);
  });

  it('never reconciles one app in two passes at once: a change during a pass runs once more after it', async () => {
    const t = setup();
    t.fake.set('a', 'g1');
    t.fake.set('b', 'g1');
    let release!: () => void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    t.controller.start();
    await settle(5);
    t.fake.set('a', 'g2');
    t.controller.manifestChanged('a.yaml');
    t.controller.engineEvent('a');
    t.controller.vhostChanged('/vhosts/a.conf');
    await t.advance(1000);
    expect(t.fake.passes).toHaveLength(1);
    t.fake.gate = undefined;
    release();
    await settle(10);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['a']]);
    expect(t.fake.maxConcurrentPerApp).toBe(1);
    await t.controller.stop(1000);
  });

  it('a keyed pass that ends during a full pass does not let a second full pass start beside it', async () => {
    const t = setup();
    t.fake.set('a', 'g1');
    let release!: () => void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    t.controller.start();
    await settle(5);
    t.fake.gate = undefined;
    t.fake.set('c', 'g1');
    t.controller.manifestChanged('c.yaml');
    await t.advance(100);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a'], ['c']]);
    t.controller.resyncAll();
    await settle(10);
    expect(t.fake.passes).toHaveLength(2);
    release();
    await settle(10);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a'], ['c'], ['a', 'c']]);
    await t.controller.stop(1000);
  });

  it('the echo of its own vhost write does not requeue an app; a vhost changed by someone else does', async () => {
    const t = setup();
    await t.startWith('a');
    expect(t.fake.passes).toHaveLength(1);
    t.leftAsIs.add('a');
    t.controller.vhostChanged('/vhosts/a.conf');
    await t.advance(1000);
    expect(t.fake.passes).toHaveLength(1);
    t.leftAsIs.delete('a');
    t.controller.vhostChanged('/vhosts/a.conf');
    await t.advance(0);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a'], ['a']]);
    await t.controller.stop(1000);
  });

  it('a full resync skips apps another worker is reconciling, and runs them after', async () => {
    const t = setup({ resyncMs: 60_000 });
    await t.startWith('a', 'b');
    let release!: () => void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    t.controller.engineEvent('a');
    await t.advance(250); // pass on [a] now waits at the gate
    t.fake.gate = undefined;
    await t.advance(60_000 - 250); // the resync: a full pass on the other worker
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['a'], ['b']]);
    release();
    await settle(10);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['a'], ['b'], ['a']]);
    expect(t.fake.maxConcurrentPerApp).toBe(1);
    await t.controller.stop(1000);
  });

  it('a full resync never applies an app from an observation made while another pass was still changing it', async () => {
    // The resync observes the world while a pass on `a` is in flight; that pass
    // then finishes (say it created a's container). Applying the resync's plan
    // for `a` would act on a world that is gone: create it a second time.
    const t = setup({ resyncMs: 60_000 });
    await t.startWith('a', 'b');
    let releaseA!: () => void;
    t.fake.gate = new Promise<void>((r) => (releaseA = r));
    t.controller.vhostChanged('/vhosts/a.conf');
    await settle(5); // the pass on [a] waits at the gate, after observing
    t.fake.gate = undefined;
    let releasePlan!: () => void;
    t.fake.planGate = new Promise<void>((r) => (releasePlan = r));
    await t.advance(60_000); // the resync observes, then waits before choosing
    t.fake.planGate = undefined;
    releaseA();
    await settle(5);
    releasePlan();
    await settle(10);
    expect(t.fake.staleApplies).toEqual([]);
    // `a` is not forgotten: it gets a pass of its own, from a fresh observation.
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['a'], ['b'], ['a']]);
    await t.controller.stop(1000);
  });

  it('a hand docker update taken by a full pass that then leaves the app to another pass is inspected by that pass', async () => {
    const t = setup({ resyncMs: 60_000 });
    await t.startWith('a', 'b');
    let releasePlan!: () => void;
    t.fake.planGate = new Promise<void>((r) => (releasePlan = r));
    await t.advance(59_990);
    t.controller.engineEvent('a', 'update');
    await t.advance(10); // the resync takes a's update, observes, then waits before choosing
    t.fake.planGate = undefined;
    await t.advance(250); // a's own pass runs meanwhile: without the update, which the resync holds
    releasePlan();
    await settle(10);
    await t.advance(5_000);
    // The resync leaves a to a pass of its own (a changed since it looked): that pass inspects a's limits.
    const afterResync = t.fake.limitsInspected.slice(t.fake.limitsInspected.findIndex((l) => l.includes('a')) + 1);
    expect(afterResync).toContainEqual(['a']);
    await t.controller.stop(1000);
  });

  it('a manifest change that arrives while a full resync is choosing its apps runs again after it, from a fresh reading', async () => {
    // Both workers are busy: one on b, one on the resync, which has read a's
    // old manifest. a's new one is queued then, and the resync takes a over.
    const t = setup({ resyncMs: 60_000 });
    await t.startWith('a', 'b');
    let releaseB!: () => void;
    t.fake.gate = new Promise<void>((r) => (releaseB = r));
    t.controller.vhostChanged('/vhosts/b.conf');
    await settle(5); // the pass on [b] waits at the gate
    t.fake.gate = undefined;
    let releasePlan!: () => void;
    t.fake.planGate = new Promise<void>((r) => (releasePlan = r));
    await t.advance(60_000); // the resync has read the world, a at g1
    t.fake.planGate = undefined;
    t.fake.set('a', 'g2');
    t.controller.manifestChanged('a.yaml');
    await t.advance(100); // a settles and waits in the queue
    releasePlan();
    await settle(10);
    releaseB();
    await settle(10);
    const passesOfA = t.fake.passes.filter((p) => p.apps.includes('a')).map((p) => p.apps);
    // The first pass, the resync (its reading of a is g1), then a's own pass.
    expect(passesOfA).toEqual([['a', 'b'], ['a'], ['a']]);
    await t.controller.stop(1000);
  });

  it('a pass never overwrites an app\'s status with what it saw before another pass changed that app', async () => {
    const t = setup({ resyncMs: 60_000 });
    t.fake.set('a', 'g1');
    t.fake.set('b', 'g1', 'transient');
    t.fake.world.set('a', 'exited');
    t.controller.start();
    await settle(5);
    expect(t.app('a')?.state).toBe('exited');
    // b's retry observes a still exited, then waits before choosing its apps.
    let releasePlan!: () => void;
    t.fake.planGate = new Promise<void>((r) => (releasePlan = r));
    await t.advance(1000);
    t.fake.planGate = undefined;
    // Meanwhile a is started, and its own pass sees and records it running.
    t.fake.world.set('a', 'running');
    t.controller.vhostChanged('/vhosts/a.conf');
    await settle(5);
    expect(t.app('a')?.state).toBe('running');
    // b's pass now records what it saw: a's newer status must stand.
    releasePlan();
    await settle(10);
    expect(t.fake.passes.map((p) => p.apps)).toEqual([['a', 'b'], ['a'], ['b']]);
    expect(t.app('a')?.state).toBe('running');
    // b's next retry is keyed: it looks at b alone, so it leaves a's status be.
    t.fake.world.set('a', 'exited');
    await t.advance(2000);
    expect(t.fake.passes.at(-1)?.apps).toEqual(['b']);
    expect(t.app('a')?.state).toBe('running');
    // A full pass that observed after a's last pass refreshes it as usual.
    t.controller.resyncAll();
    await settle(10);
    expect(t.fake.scopes.at(-1)).toBeUndefined();
    expect(t.app('a')?.state).toBe('exited');
    await t.controller.stop(1000);
  });

  it('stop waits for the pass in flight, and gives up after its timeout', async () => {
    const t = setup();
    t.fake.set('a', 'g1');
    let release!: () => void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    t.controller.start();
    await settle(5);
    let stopped: boolean | undefined;
    void t.controller.stop(30_000).then((v) => (stopped = v));
    await t.advance(29_999);
    expect(stopped).toBeUndefined();
    release();
    await settle(5);
    expect(stopped).toBe(true);

    const u = setup();
    u.fake.set('a', 'g1');
    u.fake.gate = new Promise<void>(() => undefined);
    u.controller.start();
    await settle(5);
    let gaveUp: boolean | undefined;
    void u.controller.stop(30_000).then((v) => (gaveUp = v));
    await u.advance(30_000);
    expect(gaveUp).toBe(false);
  });
});
