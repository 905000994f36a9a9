#!/usr/bin/env node
// Issue 2: `hdactl plan` over many apps in sync with the Engine makes exactly
// one Engine API call, the container list. Counted twice: by hdactl itself
// (HDACTL_REPORT_CALLS=1) and, independently, by a proxy on a Unix socket
// between hdactl (DOCKER_HOST) and the Engine that logs every request line.
//
//   node bench/plan.mjs [--apps 200]      builds its own world of stopped apps
//   run.mjs calls planCalls() on its converged world instead.
import { mkdtemp } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cleanupAll } from './lib/cleanup.mjs';
import { createWorld } from './lib/hdactl.mjs';
import { fmtMs, median, progress } from './lib/util.mjs';

const ENGINE_SOCKET = (process.env.DOCKER_HOST ?? '').startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock';
const REQUEST_LINE = /(?:^|\r\n)(GET|POST|PUT|DELETE|HEAD) (\/\S*) HTTP\/1\.[01]\r\n/g;

/** A Unix-socket proxy to the Engine that records "METHOD /path" of each request. */
export async function countingProxy(socketPath) {
  const requests = [];
  const server = createServer((client) => {
    const engine = connect(ENGINE_SOCKET);
    client.on('data', (chunk) => {
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) requests.push(`${m[1]} ${m[2].replace(/^\/v[\d.]+/, '')}`);
    });
    client.pipe(engine).pipe(client);
    const close = () => {
      client.destroy();
      engine.destroy();
    };
    client.on('error', close);
    engine.on('error', close);
  });
  await new Promise((resolve, reject) => server.listen(socketPath, resolve).once('error', reject));
  return { requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** Runs `hdactl plan` on `world` through the proxy once, and without it `reps` times for the time. */
export async function planCalls(ctx, world, apps) {
  const proxy = await countingProxy(path.join(world.dir, 'engine-proxy.sock'));
  let counted;
  try {
    counted = await world.hdactlOk(['plan'], [0], { DOCKER_HOST: `unix://${path.join(world.dir, 'engine-proxy.sock')}` });
  } finally {
    await proxy.close();
  }
  const times = [];
  for (let r = 0; r < ctx.reps.noop; r++) times.push((await world.hdactlOk(['plan'])).ms);
  const lists = proxy.requests.filter((q) => /^GET \/containers\/json/.test(q)).length;
  const result = { apps, requests: proxy.requests, listCalls: lists, selfReportedCalls: counted.engineCalls, medianMs: median(times), samplesMs: times };
  ctx.check(`Issue 2. \`hdactl plan\` over ${apps} apps in sync`, `Engine API requests seen by a proxy (hdactl's own count: ${counted.engineCalls}); plan takes ${fmtMs(result.medianMs)}`,
    proxy.requests.join(', ') || 'none', 'exactly 1: GET /containers/json', proxy.requests.length === 1 && lists === 1 && counted.engineCalls === 1);
  return result;
}

async function main() {
  const { values } = parseArgs({ options: { apps: { type: 'string', default: '200' } } });
  const apps = Number(values.apps);
  const runId = randomBytes(3).toString('hex');
  const rows = [];
  const ctx = { reps: { noop: 3 }, check: (...row) => rows.push(row) };
  const dir = await mkdtemp(path.join(tmpdir(), `hdactl-bench-plan-${runId}-`));
  try {
    // Stopped apps: in sync once created, and created in a fraction of the time of running ones.
    const w = await createWorld({ dir, runId, name: 'plan', portBase: 64000, state: 'stopped', apache: false });
    for (let i = 1; i <= apps; i++) await w.writeApp(`b${runId}-p-${String(i).padStart(3, '0')}`);
    progress(`hdactl apply of ${apps} stopped apps`);
    await w.hdactlOk(['apply']);
    const r = await planCalls(ctx, w, apps);
    process.stdout.write(`hdactl plan over ${apps} apps in sync: ${r.requests.length} Engine API request(s): ${r.requests.join(', ')}; self-reported ${r.selfReportedCalls}; median ${fmtMs(r.medianMs)} over ${r.samplesMs.length} runs\n`);
    return rows.every((row) => row[4]) ? 0 : 1;
  } finally {
    await cleanupAll(runId);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`plan bench: ${err.stack}\n`);
      process.exitCode = 1;
    },
  );
}
