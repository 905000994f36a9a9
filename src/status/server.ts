import { createServer, type Server } from 'node:http';
import type { Engine } from '../adapters/docker/engine.js';
import type { Metrics } from './metrics.js';
import type { StatusStore } from './model.js';
import { parseListen } from '../config/settings.js';
import { renderPage } from './page.js';
import { INSTANCE_HEADER } from './status.js';

/**
 * The daemon's HTTP server: /healthz, /status (JSON), /events (JSON),
 * /metrics (Prometheus text) and / (the status page). Read-only.
 */
export async function startStatusServer(listen: string, status: StatusStore, metrics: Metrics, engine: Engine, instance: string): Promise<Server> {
  const address = parseListen(listen);
  if (!address) throw new Error('no status server with --listen none');
  const { host, port } = address;
  let restartCountsAt = 0;
  // Restart counts need an inspect per container: only for people looking, at most every 5 s.
  const refreshRestartCounts = async () => {
    if (Date.now() - restartCountsAt < 5000) return;
    restartCountsAt = Date.now();
    await Promise.all(status.snapshot().apps.filter((a) => a.containerId).map(async (a) => {
      // An Engine that accepts but never answers must not hang the page.
      const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref());
      const d = await Promise.race([engine.inspectDetails(a.containerId!).catch(() => undefined), timeout]);
      if (d) status.setRestartCount(a.app, d.restartCount);
    }));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', [INSTANCE_HEADER]: instance });
      res.end(body);
    };
    void (async () => {
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'read-only\n');
        switch (url.pathname) {
          case '/healthz':
            return send(200, 'text/plain', 'ok\n');
          case '/status':
            await refreshRestartCounts();
            return send(200, 'application/json', JSON.stringify(status.snapshot(), null, 2));
          case '/events':
            return send(200, 'application/json', JSON.stringify(status.recentEvents(), null, 2));
          case '/metrics':
            return send(200, metrics.registry.contentType, await metrics.registry.metrics());
          case '/':
            await refreshRestartCounts();
            return send(200, 'text/html; charset=utf-8', renderPage(status.snapshot()));
          default:
            return send(404, 'text/plain', 'not found\n');
        }
      } catch (err) {
        send(500, 'text/plain', `${(err as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${listen} (${err.code}): pick another --listen ADDR:PORT, or --listen none`)));
    server.listen(port, host, () => resolve());
  });
  return server;
}
