// Scenario 1: converge N web apps from an empty Engine.
//   hdactl apply (with vhosts and a private Apache)
//   Amahi's 2017 way: one docker-compose.yml per app, N sequential `docker-compose -p <app> up -d`
//   one Compose project with N services
//   the floor: bench/floor.mjs, dockerode create+start at hdactl's concurrency
import path from 'node:path';
import { createProject } from '../lib/compose.mjs';
import { docker, removeContainers, removeNetworks } from '../lib/cleanup.mjs';
import { createWorld } from '../lib/hdactl.mjs';
import { median, now, progress, runOk } from '../lib/util.mjs';

const FLOOR = new URL('../floor.mjs', import.meta.url).pathname;
const pad = (i) => String(i).padStart(3, '0');
const range = (n) => Array.from({ length: n }, (_, i) => i + 1);

/** Counts the run's running containers whose labels match. */
async function running(match) {
  const list = await docker.listContainers({ all: true });
  return list.filter((c) => c.State === 'running' && match(c.Labels ?? {})).length;
}

function expectRunning(what, n, want) {
  if (n !== want) throw new Error(`${what}: ${n} of ${want} containers running after it exited`);
}

export async function converge(ctx) {
  const { runId, sizes, ports } = ctx;
  const N = sizes.converge;
  const concurrency = 4;

  const contenders = {
    async hdactl(r) {
      const w = await createWorld({ dir: path.join(ctx.tmp, `s1-hdactl-${r}`), runId, name: `s1h${r}`, portBase: ports.s1hdactl });
      const apps = range(N).map((i) => `b${runId}-h${r}-${pad(i)}`);
      for (const a of apps) await w.writeApp(a);
      const res = await w.hdactlOk(['apply', '--concurrency', String(concurrency)]);
      expectRunning('hdactl apply', await running((l) => l['org.amahi.hdactl.instance'] === w.instance), N);
      const page = await w.viaApache(apps[N - 1]);
      if (page?.status !== 200) throw new Error(`hdactl apply: ${apps[N - 1]} does not answer through Apache (${page?.status})`);
      await removeContainers(runId, (l) => l['org.amahi.hdactl.instance'] === w.instance);
      await w.apache.stop();
      return res.ms;
    },
    async floor(r) {
      const prefix = `b${runId}-f${r}-`;
      const res = await runOk('node', [FLOOR, '--count', String(N), '--port-base', String(ports.s1floor), '--prefix', prefix, '--run', runId, '--concurrency', String(concurrency)]);
      const mine = (l) => l['org.amahi.bench.run'] === runId && !l['com.docker.compose.project'];
      expectRunning('floor', await running(mine), N);
      await removeContainers(runId, mine);
      return res.ms;
    },
    async compose(r) {
      const project = `bench${runId}s1c${r}`;
      const p = await createProject({
        dir: path.join(ctx.tmp, `s1-compose-${r}`),
        project,
        runId,
        services: range(N).map((i) => ({ name: `app${pad(i)}`, container: `b${runId}-c${r}-${pad(i)}`, hostPort: ports.s1compose + i, message: `hello ${i}` })),
      });
      const res = await p.up();
      const mine = (l) => l['com.docker.compose.project'] === project;
      expectRunning('docker-compose up -d', await running(mine), N);
      await removeContainers(runId, mine);
      await removeNetworks(runId, (proj) => proj === project);
      return res.ms;
    },
    async amahi(r) {
      const projects = [];
      for (const i of range(N)) {
        const app = `b${runId}-a${r}-${pad(i)}`;
        projects.push(await createProject({
          dir: path.join(ctx.tmp, `s1-amahi-${r}`, app),
          project: `bench${runId}s1a${r}x${pad(i)}`,
          runId,
          services: [{ name: app, container: app, hostPort: ports.s1amahi + i, message: `hello ${i}` }],
        }));
      }
      const started = now();
      for (const p of projects) await p.up();
      const ms = now() - started;
      const names = new Set(projects.map((p) => p.project));
      const mine = (l) => names.has(l['com.docker.compose.project']);
      expectRunning(`${N} × docker-compose up -d`, await running(mine), N);
      await removeContainers(runId, mine);
      await removeNetworks(runId, (proj) => names.has(proj));
      return ms;
    },
  };

  const labels = {
    hdactl: `hdactl apply (${N} apps + vhosts, concurrency ${concurrency})`,
    amahi: `Amahi 2017: ${N} × \`docker-compose -p <app> up -d\``,
    compose: `one Compose project, ${N} services: \`up -d\``,
    floor: `floor: dockerode create+start, concurrency ${concurrency}`,
  };
  const samples = { hdactl: [], floor: [], compose: [], amahi: [] };
  const order = ['hdactl', 'floor', 'compose', 'amahi'];
  const maxReps = Math.max(...Object.values(ctx.reps.converge));
  for (let r = 0; r < maxReps; r++) {
    // Alternate the order (A B C D, D C B A) so a slow drift hits every contender alike.
    for (const k of r % 2 ? [...order].reverse() : order) {
      if (r >= ctx.reps.converge[k]) continue;
      progress(`converge ${N}: ${k}, run ${r + 1}`);
      const ms = await contenders[k](r);
      samples[k].push(ms);
      progress(`converge ${N}: ${k}, run ${r + 1}: ${Math.round(ms)} ms`);
    }
  }

  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const hd = { label: labels.hdactl, ms: med.hdactl, n: samples.hdactl.length };
  const name = `1. Converge ${N} apps from empty`;
  ctx.compare(name, hd, { label: labels.amahi, ms: med.amahi, n: samples.amahi.length }, 0.5);
  ctx.compare(name, hd, { label: labels.compose, ms: med.compose, n: samples.compose.length });
  ctx.compare(name, hd, { label: labels.floor, ms: med.floor, n: samples.floor.length }, 1.2);
  return { apps: N, concurrency, samplesMs: samples, medianMs: med, labels };
}
