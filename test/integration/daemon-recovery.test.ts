import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { deployed, printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { inspect, pageWith } from '../support/engine.js';
import { createWorld, eventually, type World } from '../support/world.js';

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

  it('a container removed with docker rm -f is created again and serves', async () => {
    const { app, port, before } = await deploy('removed', 'made anew');
    await run('docker', ['rm', '-f', app]);
    const after = await eventually(async () => {
      const c = await inspect(app).catch(() => undefined);
      return c && c.Id !== before.Id && c.State.Running ? c : undefined;
    });
    expect(after.Config.Labels['org.amahi.hdactl.instance']).toBe(w.instance);
    await pageWith(port, 'made anew');
    const created = (await d.status()).events.filter((e) => e.app === app && (e.type === 'created' || e.type === 'drift-repaired'));
    expect(created.length).toBeGreaterThanOrEqual(2);
  });
});
