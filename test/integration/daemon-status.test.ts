import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { conditionOf, deployed, hdactlWith, printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { inspect, pageWith } from '../support/engine.js';
import { TEST_IMAGE } from '../support/global-setup.js';
import { createWorld, eventually, webApp, type World } from '../support/world.js';

/** Nothing listens there: every pull fails at once, as with a registry that is down. */
const MISSING_IMAGE = '127.0.0.1:5999/nope/missing:1';

describe('what hdactl run reports while it works', () => {
  printDaemonLogsOnFailure();
  let w: World;
  let d: Daemon;
  beforeAll(async () => {
    w = await createWorld();
    d = await startDaemon(w);
  });
  afterAll(async () => {
    await stopDaemons();
    await w?.cleanup();
  });

  /**
   * Total passes so far, once the count has not moved for 3 s: the daemon is
   * idle, including its second look 2 s after an app's Engine events.
   */
  async function settledPasses(): Promise<number> {
    let last = -1;
    let since = Date.now();
    return eventually(async () => {
      const n = await d.metric('hdactl_reconcile_passes_total');
      if (n !== last) {
        last = n;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= 3000 ? { n } : undefined;
    }, 30_000, 200).then((r) => r.n);
  }

  it('hdactl events says so when the daemon has nothing to tell yet (this test runs first)', async () => {
    const events = await hdactlWith(w, d.listen, ['events']);
    expect(events).toEqual({ code: 0, stdout: '', stderr: `no events yet: the daemon on ${d.listen} has changed nothing and seen no problem since it started\n` });
    expect(JSON.parse((await hdactlWith(w, d.listen, ['events', '-o', 'json'])).stdout)).toEqual([]);
  });

  it('50 rapid writes to one manifest cost only a few passes, and the last content is applied', async () => {
    const { app, port, file } = await deployed(w, d, 'busy', 'write 0');
    const before = await settledPasses();
    for (let i = 1; i <= 50; i++) await writeFile(file, webApp(app, `write ${i}`));
    await pageWith(port, 'write 50');
    const after = await settledPasses();
    expect(after - before).toBeGreaterThanOrEqual(1);
    // A pass runs 50 ms after the last write it saw; on a loaded machine a few
    // gaps between these writes are longer than that.
    expect(after - before).toBeLessThanOrEqual(10);
    expect((await inspect(app)).Config.Env).toContain('MESSAGE=write 50');
  });

  it('an app whose image cannot be pulled backs off while another app converges and serves', async () => {
    const bad = `${w.prefix}nopull`;
    await w.writeManifest('nopull.yaml', webApp(bad, 'never', { image: MISSING_IMAGE }));
    const { app: good } = await deployed(w, d, 'fine', 'all fine');
    const s = await eventually(async () => {
      const a = await d.app(bad);
      return a && a.failures >= 3 ? a : undefined;
    });
    expect(s.nextRetry).toBeDefined();
    expect(Date.parse(s.nextRetry!)).toBeGreaterThan(Date.now() - 1000);
    expect(s.lastError).toContain(MISSING_IMAGE);
    expect(conditionOf(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'BackOff' });
    expect(conditionOf(s, 'Ready')?.status).toBe('False');
    // The retries wait 1 s, then 2 s: they are not driven by anything else.
    const tries = (await d.status()).events.filter((e) => e.app === bad && e.type === 'backoff').map((e) => Date.parse(e.time)).sort();
    expect(tries.length).toBeGreaterThanOrEqual(3);
    expect(tries[1]! - tries[0]!).toBeGreaterThanOrEqual(900);
    expect(tries[2]! - tries[1]!).toBeGreaterThanOrEqual(1900);
    // Its vhost was never written: that is missing, not drift.
    expect(s.vhost).toBe('missing');
    const fine = await d.app(good);
    expect(fine?.state).toBe('running');
    expect(fine?.vhost).toBe('in sync');
    expect(conditionOf(fine, 'Degraded')?.status).toBe('False');
    expect(conditionOf(fine, 'Ready')?.status).toBe('True');
  });

  it('an invalid manifest for a running app leaves the container as it is and shows the app Degraded with file:line', async () => {
    const { app, port, file } = await deployed(w, d, 'typo', 'as it was');
    const before = await inspect(app);
    await writeFile(file, `app: ${app}\nkind: container-custom\nimgae: ${TEST_IMAGE}\nweb: 80\nenv:\n  MESSAGE: "changed"\n`);
    const s = await eventually(async () => {
      const a = await d.app(app);
      return conditionOf(a, 'Degraded')?.status === 'True' ? a : undefined;
    });
    const where = new RegExp(`${file.replace(/[./]/g, '\\$&')}:\\d+:\\d+: `);
    expect(s.lastError).toMatch(where);
    expect(conditionOf(s, 'Degraded')?.message).toMatch(where);
    expect(conditionOf(s, 'Ready')?.status).toBe('True');
    expect(s.state).toBe('running');
    const after = await inspect(app);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    await pageWith(port, 'as it was');

    // Fixed: the change that waited is applied, and the app is healthy again.
    await writeFile(file, webApp(app, 'fixed'));
    await pageWith(port, 'fixed');
    const fixed = await eventually(async () => {
      const a = await d.app(app);
      return conditionOf(a, 'Degraded')?.status === 'False' ? a : undefined;
    });
    expect(fixed.lastError).toBeUndefined();
    expect(conditionOf(fixed, 'Ready')?.status).toBe('True');
  });

  it('fixing the image of an app in backoff applies it at once, without waiting out the backoff', async () => {
    const app = `${w.prefix}laterfixed`;
    const file = await w.writeManifest('laterfixed.yaml', webApp(app, 'fixed now', { image: MISSING_IMAGE }));
    const failing = await eventually(async () => {
      const a = await d.app(app);
      return a && a.failures >= 3 ? a : undefined;
    });
    const retryWasDue = Date.parse(failing.nextRetry!);
    await writeFile(file, webApp(app, 'fixed now'));
    const port = Number(await eventually(async () => (await d.app(app))?.hostPort));
    await pageWith(port, 'fixed now');
    expect(Date.now()).toBeLessThan(retryWasDue);
    const a = await d.app(app);
    expect(a).toMatchObject({ failures: 0, state: 'running' });
    expect(a?.nextRetry).toBeUndefined();
    expect(conditionOf(a, 'Degraded')?.status).toBe('False');
  });

  it('an update whose image cannot be pulled leaves the app on its old image, and status shows both images', async () => {
    const { app, port, file } = await deployed(w, d, 'stuckupdate', 'old image');
    const before = await inspect(app);
    await writeFile(file, webApp(app, 'old image', { image: MISSING_IMAGE }));
    const s = await eventually(async () => {
      const a = await d.app(app);
      return a && a.failures >= 1 ? a : undefined;
    });
    expect(s).toMatchObject({ state: 'running', image: MISSING_IMAGE, runningImage: TEST_IMAGE });
    expect((await inspect(app)).Id).toBe(before.Id);
    await pageWith(port, 'old image');
    const arrow = `${TEST_IMAGE} → ${MISSING_IMAGE}`.replace(/[./]/g, '\\$&');
    // From the daemon, and computed by hdactl itself when no daemon answers.
    for (const listen of [d.listen, 'none']) {
      const text = await hdactlWith(w, listen, ['status']);
      expect(text.stdout).toMatch(new RegExp(`^${app}\\s+running\\s+${arrow}\\s`, 'm'));
    }

    // Once the manifest is back on an image that exists, only that image shows.
    await writeFile(file, webApp(app, 'old image'));
    const back = await eventually(async () => {
      const a = await d.app(app);
      return a && a.failures === 0 ? a : undefined;
    });
    expect(back.image).toBe(TEST_IMAGE);
    expect(back.runningImage).toBeUndefined();
  });

  it('a manifest file that cannot be parsed shows in status, events, metrics and the log, and goes once fixed', async () => {
    const { app, port, file: bystander } = await deployed(w, d, 'bystander', 'still here');
    // The syntax error comes before `app:`, so the problem names no app: nothing but this list can show it.
    const file = await w.writeManifest('unparsable.yaml', `env: { MESSAGE: "unclosed\napp: ${w.prefix}never\n`);
    const doc = await eventually(async () => {
      const s = await d.status();
      return s.problems.some((p) => p.file === file) ? s : undefined;
    });
    const problem = doc.problems.find((p) => p.file === file)!;
    expect(problem.text).toMatch(new RegExp(`^${file.replace(/[./]/g, '\\$&')}:\\d+:\\d+: YAML syntax: .*fix the YAML`));
    expect(problem.app).toBeUndefined();
    expect(await d.metric('hdactl_manifest_problems')).toBeGreaterThanOrEqual(1);
    expect(doc.events.filter((e) => e.type === 'invalid' && e.message === problem.text)).toHaveLength(1);
    expect(await d.output()).toContain('"msg":"manifest problem"');
    const text = await hdactlWith(w, d.listen, ['status']);
    expect(text.stdout).toMatch(/manifest problem\(s\); the apps they name are left as they are:/);
    expect(text.stdout).toContain(`  ${problem.text}`);
    // The other apps still converge, and the problem, seen again by that pass, is still one event.
    await writeFile(bystander, webApp(app, 'changed meanwhile'));
    await pageWith(port, 'changed meanwhile');
    expect((await d.status()).events.filter((e) => e.type === 'invalid' && e.message === problem.text)).toHaveLength(1);

    await writeFile(file, webApp(`${w.prefix}fixedfile`, 'parsed now'));
    await eventually(async () => !(await d.status()).problems.some((p) => p.file === file));
    expect(await d.metric('hdactl_manifest_problems')).toBe(0);
    const fixed = await hdactlWith(w, d.listen, ['status']);
    expect(fixed.stdout).not.toContain('manifest problem');
  });

  it('an app without a web port shows running as soon as it is created, and exited once its manifest says stopped', async () => {
    // Nothing but the pass itself tells the status about such an app: no vhost
    // file is written and starting a container sends no event hdactl acts on.
    const app = `${w.prefix}worker`;
    const file = await w.writeManifest('worker.yaml', `app: ${app}\nkind: container-custom\nimage: ${TEST_IMAGE}\n`);
    const created = await eventually(async () => {
      const a = await d.app(app);
      return a?.appliedGeneration ? a : undefined;
    }, 10_000);
    expect(created.state).toBe('running');
    expect(conditionOf(created, 'Ready')).toMatchObject({ status: 'True', reason: 'Running' });
    expect((await inspect(app)).State.Running).toBe(true);

    await writeFile(file, `app: ${app}\nkind: container-custom\nimage: ${TEST_IMAGE}\nstate: stopped\n`);
    const stopped = await eventually(async () => {
      const a = await d.app(app);
      return a && a.appliedGeneration !== created.appliedGeneration ? a : undefined;
    }, 20_000);
    expect(stopped.state).toBe('exited');
    expect(conditionOf(stopped, 'Ready')).toMatchObject({ status: 'True', reason: 'Stopped' });
    expect((await inspect(app)).State.Running).toBe(false);
  });

  it('hdactl status answers from the daemon, and hdactl events prints its recent events', async () => {
    const failing = `${w.prefix}unpullable`;
    await w.writeManifest('unpullable.yaml', webApp(failing, 'never', { image: MISSING_IMAGE }));
    const { app } = await deployed(w, d, 'asked', 'ask me');
    await eventually(async () => ((await d.app(failing))?.failures ?? 0) >= 1);
    const json = await hdactlWith(w, d.listen, ['status', '-o', 'json']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { engine: { reachable: boolean }; apps: Array<{ app: string; conditions: unknown[] }>; problems: unknown[] };
    // Only the daemon knows conditions and the Engine's reachability.
    expect(doc.engine.reachable).toBe(true);
    expect(doc.apps.find((a) => a.app === app)?.conditions.length).toBe(3);
    // Each app has the fields status gives without a daemon too, so a script reads one shape.
    expect(doc.apps.find((a) => a.app === app)).toMatchObject({ state: 'running', inSync: true, error: '', hostPort: expect.any(String), vhost: expect.any(String) });
    expect(doc.apps.find((a) => a.app === failing)).toMatchObject({ state: 'missing', inSync: false, error: expect.stringContaining(`pull ${MISSING_IMAGE} failed`) });
    expect(doc.problems).toEqual([]);

    const text = await hdactlWith(w, d.listen, ['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${app}\\s+running\\s+${TEST_IMAGE.replace(/[./]/g, '\\$&')}`, 'm'));
    // The app whose pulls fail shows the daemon's last error.
    expect(text.stdout).toMatch(new RegExp(`^${failing}\\s+missing .*${MISSING_IMAGE.replace(/[./]/g, '\\$&')}`, 'm'));

    // A daemon of another instance on that address is not asked: its apps are not these.
    const other = await hdactlWith(w, d.listen, ['status'], ['--instance', `${w.prefix}other`]);
    expect(other.code).toBe(0);
    // Computed by this process: under that instance the daemon's container is another hdactl's,
    // and the daemon's last pull error comes from the state file they share.
    expect(other.stdout).toMatch(new RegExp(`^${app}\\s+missing .*a container named ${app} exists that another hdactl manages \\(its --instance is ${w.instance}\\)`, 'm'));
    expect(other.stdout).toMatch(new RegExp(`^${failing}\\s+missing .*\\sno\\s+pull ${MISSING_IMAGE.replace(/[./]/g, '\\$&')} failed: .*\\)\\n`, 'm'));
    const otherEvents = await hdactlWith(w, d.listen, ['events'], ['--instance', `${w.prefix}other`]);
    expect(otherEvents.code).toBe(1);
    expect(otherEvents.stderr).toContain(`no hdactl run of instance ${w.prefix}other answers on ${d.listen} (the hdactl run there is instance ${w.instance}: pass --instance ${w.instance} for its events)`);

    const events = await hdactlWith(w, d.listen, ['events']);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(new RegExp(`^\\S+Z  ${app}  created: `, 'm'));
    expect(events.stdout).toMatch(new RegExp(`^\\S+Z  ${failing}  backoff: retry \\d+ in \\d+s: `, 'm'));
  });
});
