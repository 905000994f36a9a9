import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { deployed, printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { inspect, isGone, pageWith } from '../support/engine.js';
import { createWorld, eventually, webApp, type World } from '../support/world.js';

const run = promisify(execFile);

/** Docker itself never restarts these containers, so whatever brings one back is hdactl. */
const HDACTL_ONLY = { extra: 'restart: "no"\n' };

describe('hdactl run repairs what is done to its containers by hand', () => {
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

  /** Writes the app's manifest and waits until it serves; returns its host port and container. */
  async function deploy(name: string, message: string) {
    const { app, port } = await deployed(w, d, name, message, HDACTL_ONLY);
    return { app, port, before: await inspect(app) };
  }

  it('an app missing from the manifests for a moment (its file deleted and written again, as a checkout does) keeps running; a deleted manifest removes it', async () => {
    // Another app stays throughout: with no app left at all, the daemon removes nothing (daemon-apache.test.ts).
    await deploy('stays', 'still here');
    const { app, port, before } = await deploy('rewritten', 'never went away');
    const yaml = webApp(app, 'never went away', HDACTL_ONLY);
    // First the file gone... (a file cut short is not even a removal in waiting: safety.test.ts)
    await rm(path.join(w.manifests, 'rewritten.yaml'));
    await eventually(async () => (await d.output()).includes(`${app} is gone from the manifests`) || undefined);
    // ...then whole again, within the second the daemon waits before removing.
    await w.writeManifest('rewritten.yaml', yaml);
    await eventually(async () => (await d.output()).includes(`${app} is back in the manifests; it was not removed`) || undefined);
    // The second look, queued by the first, has run too.
    await d.idle();
    const after = await inspect(app);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    await pageWith(port, 'never went away');

    await rm(path.join(w.manifests, 'rewritten.yaml'));
    await eventually(async () => ((await w.containers()).some((c) => c.Labels['org.amahi.hdactl.app'] === app) ? undefined : true));
  });

  it('a container killed with docker kill is started again and serves', async () => {
    const { app, port, before } = await deploy('killed', 'back from the dead');
    expect(before.HostConfig.RestartPolicy?.Name ?? '').toBe('');
    await run('docker', ['kill', app]);
    const after = await eventually(async () => {
      const c = await inspect(app);
      return c.State.Running && c.State.StartedAt !== before.State.StartedAt ? c : undefined;
    });
    expect(after.Id).toBe(before.Id);
    await pageWith(port, 'back from the dead');
  });

  it('a container stopped with docker stop is started again and serves', async () => {
    const { app, port, before } = await deploy('stopped', 'up again');
    await run('docker', ['stop', '-t', '1', app]);
    await eventually(async () => {
      const c = await inspect(app);
      return c.State.Running && c.State.StartedAt !== before.State.StartedAt;
    });
    await pageWith(port, 'up again');
  });

  it('a container of an app with state: stopped that is started by hand is stopped again', async () => {
    const app = `${w.prefix}resting`;
    await w.writeManifest('resting.yaml', webApp(app, 'resting', { extra: 'state: stopped\nrestart: "no"\n' }));
    // Created, never started.
    await eventually(async () => (await d.app(app))?.state === 'created');
    const before = await inspect(app);
    await run('docker', ['start', app]);
    // Stopped by the daemon at the Engine's start event, not at the resync a minute later.
    const after = await eventually(async () => {
      const c = await inspect(app);
      return !c.State.Running && c.State.StartedAt !== before.State.StartedAt ? c : undefined;
    }, 20_000);
    expect(after.Id).toBe(before.Id);
  });

  it('limits changed with docker update are put back to the manifest\'s, live (same container, not restarted), and a CPU limit the manifest lacks by a recreate', async () => {
    const { app, port } = await deployed(w, d, 'tuned', 'tuned', { extra: 'restart: "no"\nlimits: { memory: 64m, pids: 64 }\n' });
    const before = await inspect(app);
    expect(before.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, PidsLimit: 64 });
    await run('docker', ['update', '--memory', '128m', '--memory-swap', '-1', '--pids-limit', '200', app]);
    expect((await inspect(app)).HostConfig).toMatchObject({ Memory: 128 * 1024 * 1024, PidsLimit: 200 });
    // Put back at the Engine's update event, not at the resync a minute later.
    const after = await eventually(async () => {
      const c = await inspect(app);
      return c.HostConfig.Memory === 64 * 1024 * 1024 && c.HostConfig.PidsLimit === 64 ? c : undefined;
    }, 20_000);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    await pageWith(port, 'tuned');
    const events = await eventually(async () => {
      const list = (await d.status()).events.filter((e) => e.app === app && e.type === 'limits-updated');
      return list.length ? list : undefined;
    });
    expect(events.map((e) => e.message)).toEqual(['memory 128m → 64m, pids 200 → 64']);

    // A CPU limit the manifest does not set cannot be lifted live: the container is made again without it, once.
    await run('docker', ['update', '--cpus', '0.5', app]);
    const remade = await eventually(async () => {
      const c = await inspect(app).catch(() => undefined);
      return c && c.Id !== before.Id && c.State.Running ? c : undefined;
    }, 20_000);
    expect(remade.HostConfig).toMatchObject({ NanoCpus: 0, Memory: 64 * 1024 * 1024, PidsLimit: 64 });
    await pageWith(port, 'tuned');
    const recreated = await eventually(async () => {
      const list = (await d.status()).events.filter((e) => e.app === app && e.type === 'recreated');
      return list.length ? list : undefined;
    });
    expect(recreated.map((e) => e.message)).toEqual([expect.stringContaining('cpus 0.5 → none')]);
  });

  it('a container removed with docker rm -f is created again and serves', async () => {
    const { app, port, before } = await deploy('removed', 'made anew');
    await run('docker', ['rm', '-f', app]);
    const after = await eventually(async () => {
      const c = await inspect(app).catch(() => undefined);
      return c && c.Id !== before.Id && c.State.Running ? c : undefined;
    });
    expect(after.Config.Labels['org.amahi.hdactl.instance']).toBe(w.instance);
    await pageWith(port, 'made anew');
    // The pass records its outcome once all its steps are done, a moment after the container runs.
    await eventually(async () => (await d.status()).events.filter((e) => e.app === app && (e.type === 'created' || e.type === 'drift-repaired')).length >= 2 || undefined);
  });
});

describe('hdactl run waits out a host that is not ready yet', () => {
  printDaemonLogsOnFailure();
  let w: World | undefined;
  // Each test has its world: cleaned after it, so none is left behind.
  afterEach(async () => {
    await stopDaemons();
    await w?.cleanup();
    w = undefined;
  });

  it('an app whose allowed volume links to a disk not mounted yet fails, is retried, and starts once the disk is there, with no manifest change', async () => {
    w = await createWorld();
    const disk = path.join(w.dir, 'mnt', 'usb', 'media'); // not mounted yet
    const media = path.join(w.dir, 'media');
    await symlink(disk, media);
    await writeFile(path.join(w.dir, 'hdactl.yaml'), `volumePolicy:\n  allow: [${media}]\n`);
    const d = await startDaemon(w);
    const app = `${w.prefix}gallery`;
    await w.writeManifest('gallery.yaml', webApp(app, 'gallery', { extra: `volumes: ["${media}:/media:ro"]\n` }));
    await eventually(async () => (await d.app(app))?.lastError?.includes(`leads through ${media} -> ${disk}, a symlink to a path that does not exist`) || undefined);
    expect(await isGone(app)).toBe(true);

    await mkdir(disk, { recursive: true }); // mounted
    const up = await eventually(async () => {
      const a = await d.app(app);
      return a?.state === 'running' && a.lastError === undefined ? a : undefined;
    });
    await pageWith(Number(up.hostPort), 'gallery');
    expect((await inspect(app)).HostConfig.Binds).toEqual([`${media}:/media:ro`]);
  });

  it('an app whose vhost file cannot be written is retried with backoff, and gets its vhost once the way is clear, with no manifest change', async () => {
    w = await createWorld();
    const app = `${w.prefix}notes`;
    const conf = path.join(w.vhostDir, `${app}.conf`);
    // A directory in the vhost file's place: writing it fails as a full disk would, from the host.
    await mkdir(conf, { recursive: true });
    const d = await startDaemon(w);
    await w.writeManifest('notes.yaml', webApp(app, 'notes'));
    const failing = await eventually(async () => {
      const a = await d.app(app);
      return a?.lastError?.includes('cannot write the vhost file') && a.failures >= 1 ? a : undefined;
    });
    expect(failing.nextRetry).toBeDefined();

    await rm(conf, { recursive: true });
    const fixed = await eventually(async () => {
      const a = await d.app(app);
      return a?.vhost === 'in sync' && a.lastError === undefined ? a : undefined;
    });
    expect(fixed.failures).toBe(0);
    expect(await readFile(conf, 'utf8')).toContain(`${app}.hda.test`);
    await pageWith(Number(fixed.hostPort), 'notes');
  });
});
