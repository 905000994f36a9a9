import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { pageWith } from '../support/engine.js';
import { createWorld, eventually, httpGet, webApp, type World } from '../support/world.js';

/**
 * A Unix socket that forwards to the real Engine's, and can be cut off and
 * restored, or stalled: an Engine that goes away and comes back, or that
 * hangs, without stopping the dockerd every other test shares.
 */
class EngineProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private stalled = false;

  constructor(readonly socketPath: string, private readonly target = '/var/run/docker.sock') {}

  async open(): Promise<void> {
    await rm(this.socketPath, { force: true });
    const track = (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    };
    const server = createServer((client) => {
      track(client);
      if (this.stalled) {
        // Read the request and answer nothing, as a deadlocked dockerd does.
        client.resume();
        return;
      }
      const upstream = connect(this.target);
      track(upstream);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  /**
   * From now on, takes connections but never answers them. Open ones are cut
   * first: a kept-alive connection would otherwise still reach the Engine.
   */
  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.destroy();
  }

  /** Forwards new connections to the Engine again. */
  resume(): void {
    this.stalled = false;
  }

  /** Stops accepting and cuts every open connection, the event stream too. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }
}

describe('hdactl run when the Engine goes away and comes back', () => {
  printDaemonLogsOnFailure();
  let w: World;
  let d: Daemon;
  let proxy: EngineProxy;
  beforeAll(async () => {
    w = await createWorld();
    proxy = new EngineProxy(path.join(tmpdir(), `hdactl-engine-${w.id}.sock`));
    await proxy.open();
    d = await startDaemon(w, { env: { DOCKER_HOST: `unix://${proxy.socketPath}` }, extraFlags: ['--engine-timeout', '3s'] });
  });
  afterAll(async () => {
    await stopDaemons();
    await proxy?.close();
    await w?.cleanup();
  });

  it('reports the Engine unreachable and keeps running; once it is back, a manifest written meanwhile converges', async () => {
    const before = `${w.prefix}before`;
    await w.writeManifest('before.yaml', webApp(before, 'made before'));
    const port = Number(await eventually(async () => (await d.app(before))?.hostPort));
    await pageWith(port, 'made before');
    expect((await d.status()).engine).toMatchObject({ reachable: true, endpoint: `unix://${proxy.socketPath}` });

    await proxy.close();
    const down = await eventually(async () => {
      const s = await d.status();
      return s.engine.reachable === false ? s : undefined;
    });
    expect(down.engine.message).toContain(proxy.socketPath);
    expect(await d.metric('hdactl_engine_reachable')).toBe(0);

    const during = `${w.prefix}during`;
    await w.writeManifest('during.yaml', webApp(during, 'written while away'));
    // It keeps answering, and says why nothing moves.
    await eventually(async () => (await d.metric('hdactl_reconcile_passes_total', { result: 'error' })) >= 1);
    expect(d.running).toBe(true);
    expect((await httpGet(d.port, undefined, '/healthz'))?.status).toBe(200);
    expect((await d.status()).engine.reachable).toBe(false);
    // The app that was running keeps serving: the Engine's containers never depended on hdactl.
    await pageWith(port, 'made before');

    await proxy.open();
    await eventually(async () => (await d.status()).engine.reachable, 45_000);
    const duringPort = Number(await eventually(async () => {
      const a = await d.app(during);
      return a?.state === 'running' ? a.hostPort : undefined;
    }, 45_000));
    await pageWith(duringPort, 'written while away');
    expect(await d.metric('hdactl_engine_reachable')).toBe(1);
    const engineEvents = (await d.status()).events.filter((e) => e.type === 'engine').map((e) => e.message);
    expect(engineEvents).toEqual(expect.arrayContaining([expect.stringMatching(/^Engine unreachable: /), 'Engine reachable again']));
  });

  it('reports an Engine that takes connections but never answers (dockerd deadlocked) and keeps running; once it answers, a manifest written meanwhile converges', async () => {
    await eventually(async () => (await d.status()).engine.reachable, 45_000);
    proxy.stall();
    const stuck = `${w.prefix}stuck`;
    await w.writeManifest('stuck.yaml', webApp(stuck, 'written while stuck'));
    // Cutting the open connections is reported first (ECONNRESET); the stall once a call times out.
    const stuckMessage = /did not answer "[a-z ]+" within 3 s: dockerd is running but stuck\./;
    await eventually(async () => {
      const { engine } = await d.status();
      return engine.reachable === false && stuckMessage.test(engine.message ?? '');
    });
    expect(d.running).toBe(true);
    expect((await httpGet(d.port, undefined, '/healthz'))?.status).toBe(200);

    proxy.resume();
    const port = Number(await eventually(async () => {
      const a = await d.app(stuck);
      return a?.state === 'running' ? a.hostPort : undefined;
    }, 45_000));
    await pageWith(port, 'written while stuck');
    await eventually(async () => (await d.status()).engine.reachable, 45_000);
  });
});
