import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processIdentity } from '../../src/loop/lock.js';
import { printDaemonLogsOnFailure, startDaemon, stopDaemons } from '../support/daemon.js';
import { pageWith } from '../support/engine.js';
import { startStalledRegistry } from '../support/registry.js';
import { createWorld, eventually, webApp, type World } from '../support/world.js';

describe('the hdactl run process', () => {
  let w: World | undefined;
  afterEach(async () => {
    await stopDaemons();
    await w?.cleanup();
    w = undefined;
  });
  // After hooks run last-registered first: this one prints before the one above stops them.
  printDaemonLogsOnFailure();

  it('after kill -9 in the middle of applying 20 apps, a restart converges: one container per app, all serving, no stray files', async () => {
    w = await createWorld();
    const world = w;
    const first = await startDaemon(world);
    const apps = Array.from({ length: 20 }, (_, i) => `${world.prefix}app${String(i).padStart(2, '0')}`);
    for (const app of apps) await world.writeManifest(`${app}.yaml`, webApp(app, `hello from ${app}`));
    // Wait until the first apps exist, then kill it hard while it works on the rest.
    await eventually(async () => (await world.containers()).length >= 3, 30_000, 20);
    await first.stop('SIGKILL');
    const createdBeforeKill = (await world.containers()).length;
    expect(createdBeforeKill).toBeLessThan(20);
    const lockFile = path.join(world.stateDir, 'hdactl.lock');
    expect((await readFile(lockFile, 'utf8')).split('\n')[0]).toBe(String(first.pid));
    // What writes cut short by the kill leave behind (temp file, then rename): plant
    // one in each directory, as the kill rarely lands inside the write itself.
    await mkdir(path.join(world.vhostDir, '.hdactl-tmp'), { recursive: true });
    await writeFile(path.join(world.vhostDir, '.hdactl-tmp', `${apps[19]}.conf.${first.pid}.tmp`), '# half a vhost');
    // and one where earlier versions wrote them, beside the vhosts
    await writeFile(path.join(world.vhostDir, `.${apps[18]}.conf.${first.pid}.tmp`), '# half a vhost');
    await writeFile(path.join(world.stateDir, `state.json.${first.pid}.tmp`), '{"apps": {');
    // The vhost directory is the user's Apache's: other tools' temp files there stay.
    const notOurs = ['backup.tmp', 'site.conf.tmp', `draft.${first.pid}.tmp`];
    for (const f of notOurs) await writeFile(path.join(world.vhostDir, f), '# not hdactl\'s');

    // The stale lock (its pid is gone) does not block the restart.
    const second = await startDaemon(world);
    expect((await readFile(lockFile, 'utf8')).split('\n')[0]).toBe(String(second.pid));

    const statuses = await eventually(async () => {
      const s = await second.status();
      const running = s.apps.filter((a) => apps.includes(a.app) && a.state === 'running' && a.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
      return running.length === 20 ? running : undefined;
    }, 60_000);
    for (const a of statuses) await pageWith(Number(a.hostPort), `hello from ${a.app}`);
    expect(new Set(statuses.map((a) => a.hostPort)).size).toBe(20);

    const byApp = new Map<string, number>();
    for (const c of await world.containers()) {
      const app = c.Labels['org.amahi.hdactl.app']!;
      byApp.set(app, (byApp.get(app) ?? 0) + 1);
    }
    expect(Object.fromEntries(byApp)).toEqual(Object.fromEntries(apps.map((a) => [a, 1])));

    const vhostFiles = await readdir(world.vhostDir);
    expect(vhostFiles.filter((f) => f.endsWith('.conf')).sort()).toEqual(apps.map((a) => `${a}.conf`));
    expect(vhostFiles.filter((f) => f.endsWith('.tmp')).sort()).toEqual([...notOurs].sort());
    expect(await readdir(path.join(world.vhostDir, '.hdactl-tmp'))).toEqual([]);
    expect((await readdir(world.stateDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a second hdactl run on the same state dir refuses to start and names the first one\'s pid', async () => {
    w = await createWorld();
    const first = await startDaemon(w);
    const second = await startDaemon(w, { wait: false });
    const exit = await second.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(await second.output()).toContain(`another hdactl run (pid ${first.pid}) is working on ${w.stateDir}`);
    // The first one is unaffected and keeps its lock.
    expect(first.running).toBe(true);
    expect((await readFile(path.join(w.stateDir, 'hdactl.lock'), 'utf8')).split('\n')[0]).toBe(String(first.pid));
  });

  it('started while an apply works on the state dir, it waits for the apply to end instead of exiting, then starts', async () => {
    w = await createWorld();
    const world = w;
    const app = `${world.prefix}later`;
    await world.writeManifest('later.yaml', webApp(app, 'later'));
    // A working apply, as its lock file shows it (a real apply ends too soon to start a daemon beside it).
    const apply = spawn('sleep', ['60']);
    await once(apply, 'spawn');
    try {
      await mkdir(world.stateDir, { recursive: true });
      await writeFile(path.join(world.stateDir, 'hdactl.lock'), `${apply.pid}\n${processIdentity(apply.pid!)}\napply\n`);
      const d = await startDaemon(world, { wait: false });
      await eventually(async () => (await d.output()).includes(`an hdactl apply (pid ${apply.pid}) is working on the state dir: starting once it is done`));
      expect(d.running).toBe(true);
      expect(await world.containers()).toEqual([]);
      apply.kill();
      // Its holder gone, the lock is the daemon's, and it converges.
      await eventually(async () => (await d.output()).includes('"msg":"hdactl run started"'));
      await eventually(async () => (await world.containers()).map((c) => c.State).join() === 'running');
      expect((await readFile(path.join(world.stateDir, 'hdactl.lock'), 'utf8')).split('\n')[0]).toBe(String(d.pid));
      expect((await d.output()).match(/is working on the state dir/g)).toHaveLength(1);
    } finally {
      apply.kill();
    }
  });

  it('hdactl apply beside it on the same state dir is refused and names it; once it stops, apply works', async () => {
    w = await createWorld();
    const app = `${w.prefix}shared`;
    const d = await startDaemon(w);
    await w.writeManifest('shared.yaml', webApp(app, 'shared'));
    await eventually(async () => (await d.app(app))?.state === 'running');
    const refused = await w.hdactl(['apply']);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toBe(`hdactl: hdactl run (pid ${d.pid}) manages ${w.stateDir} and applies every manifest change itself: see hdactl status, or stop it to apply by hand\n`);
    // --allow-empty goes past the daemon only when the manifests define no app (see daemon-apache).
    expect(await w.hdactl(['apply', '--allow-empty'])).toEqual(refused);
    await d.stop();
    await w.writeManifest('shared.yaml', webApp(app, 'changed'));
    const applied = await w.hdactl(['apply']);
    expect(applied.stdout).toMatch(new RegExp(`^${app} recreated: `, 'm'));
    expect(applied.code).toBe(0);
    // And apply leaves no lock behind: a daemon starts.
    const again = await startDaemon(w);
    expect(again.running).toBe(true);
  });

  it('SIGTERM stops it within a few seconds with exit code 0 and releases the lock', async () => {
    w = await createWorld();
    const app = `${w.prefix}calm`;
    const d = await startDaemon(w);
    await w.writeManifest('calm.yaml', webApp(app, 'calm'));
    await eventually(async () => (await d.app(app))?.state === 'running');
    const lockFile = path.join(w.stateDir, 'hdactl.lock');
    expect(existsSync(lockFile)).toBe(true);
    const t0 = Date.now();
    const exit = await d.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(lockFile)).toBe(false);
    expect(await d.output()).toMatch(/"msg":"stopped"/);
    // Stopping the daemon leaves the apps running.
    expect((await w.containers()).map((c) => c.State)).toEqual(['running']);
  });

  it('SIGTERM in the middle of a pass lets it finish, then exits 0 and releases the lock, even with no status server', async () => {
    w = await createWorld();
    const world = w;
    // No status server: nothing but the pass itself keeps the process busy.
    const d = await startDaemon(world, { extraFlags: ['--listen', 'none'], wait: 'log' });
    for (let i = 0; i < 10; i++) await world.writeManifest(`app${i}.yaml`, webApp(`${world.prefix}app${i}`, `app ${i}`));
    await eventually(async () => (await world.containers()).length >= 1, 30_000, 20);
    const exit = await d.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(world.stateDir, 'hdactl.lock'))).toBe(false);
    expect(await d.output()).toMatch(/"finished":true,"msg":"stopped"/);
    // The apps it was working on were finished: none is left created but not started.
    const states = (await world.containers()).map((c) => c.State);
    expect(states.length).toBeGreaterThanOrEqual(1);
    expect(states.filter((s) => s !== 'running')).toEqual([]);
  });

  it('a pull that never ends holds back only its own app: another app\'s container and vhost go ahead meanwhile', async () => {
    w = await createWorld();
    const world = w;
    const registry = await startStalledRegistry();
    try {
      const d = await startDaemon(world);
      await world.writeManifest('hung.yaml', webApp(`${world.prefix}hung`, 'never', { image: registry.image }));
      await eventually(async () => registry.reached() || undefined);
      const other = `${world.prefix}other`;
      await world.writeManifest('other.yaml', webApp(other, 'meanwhile'));
      // Before, its vhost batch waited for the hung app's, which waited for the pull.
      const a = await eventually(async () => {
        const s = await d.app(other);
        return s?.state === 'running' && s.vhost === 'in sync' && s.lastError === undefined ? s : undefined;
      }, 20_000);
      expect(existsSync(path.join(world.vhostDir, `${other}.conf`))).toBe(true);
      await pageWith(Number(a.hostPort), 'meanwhile');
    } finally {
      // The pull fails, so the daemon stops at once.
      registry.stop();
    }
  });

  it('SIGTERM while a step never ends (a pull from a registry that does not answer): it exits 30 s later, leaving no step running without the lock', async () => {
    w = await createWorld();
    const world = w;
    const registry = await startStalledRegistry();
    try {
      const d = await startDaemon(world);
      const app = `${world.prefix}hung`;
      await world.writeManifest('hung.yaml', webApp(app, 'never', { image: registry.image }));
      await eventually(async () => registry.reached() || undefined);
      const t0 = Date.now();
      const exit = await d.stop('SIGTERM');
      // Before, the lock was released at 30 s while the pull went on, and the process ran until it ended.
      expect(exit).toEqual({ code: 1, signal: null });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(29_000);
      expect(await d.output()).toContain('steps still running 30 s after the signal: exiting without them; the next start finishes their work');
      // The lock names a pid that is gone: the next start takes it over.
      const lockFile = path.join(world.stateDir, 'hdactl.lock');
      expect((await readFile(lockFile, 'utf8')).split('\n')[0]).toBe(String(d.pid));
      await world.writeManifest('hung.yaml', webApp(app, 'after all'));
      const next = await startDaemon(world);
      await eventually(async () => (await next.app(app))?.state === 'running');
      await pageWith(Number((await next.app(app))!.hostPort), 'after all');
    } finally {
      registry.stop();
    }
  }, 90_000);
});
