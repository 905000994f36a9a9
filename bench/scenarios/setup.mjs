// The converged worlds scenarios 2 to 6 share, built once (untimed as a
// comparison; their times are kept in the JSON for reference):
//   - an hdactl world of M running web apps with vhosts and a private Apache,
//   - one Compose project with the same M services,
//   - an hdactl world of L apps with `state: stopped` (created, not running),
//     for the daemon's footprint at L apps.
import path from 'node:path';
import { createProject } from '../lib/compose.mjs';
import { createWorld } from '../lib/hdactl.mjs';
import { progress } from '../lib/util.mjs';

const pad = (i) => String(i).padStart(3, '0');
const range = (n) => Array.from({ length: n }, (_, i) => i + 1);

/** hdactl's M-app world and the Compose project of the same M services. */
export async function setupConverged(ctx) {
  const { runId, sizes, ports } = ctx;
  const M = sizes.world;
  const w = await createWorld({ dir: path.join(ctx.tmp, 'w-hdactl'), runId, name: 'w', portBase: ports.worldHdactl });
  const apps = range(M).map((i) => `b${runId}-w-${pad(i)}`);
  for (const a of apps) await w.writeApp(a);
  progress(`setup: hdactl apply of ${M} apps`);
  const applied = await w.hdactlOk(['apply']);
  progress(`setup: hdactl apply of ${M} apps: ${Math.round(applied.ms)} ms`);

  const project = await createProject({
    dir: path.join(ctx.tmp, 'w-compose'),
    project: `bench${runId}w`,
    runId,
    services: range(M).map((i) => ({ name: `app${pad(i)}`, container: `b${runId}-wc-${pad(i)}`, hostPort: ports.worldCompose + i, message: `hello from app${pad(i)}` })),
  });
  progress(`setup: docker-compose up -d of ${M} services`);
  const up = await project.up();
  progress(`setup: docker-compose up -d of ${M} services: ${Math.round(up.ms)} ms`);
  return { world: w, apps, project, setupMs: { hdactlApply: applied.ms, composeUp: up.ms } };
}

/** hdactl's L-app world of stopped apps. */
export async function setupStopped(ctx) {
  const { runId, sizes, ports } = ctx;
  const L = sizes.big;
  const w = await createWorld({ dir: path.join(ctx.tmp, 'w-stopped'), runId, name: 'big', portBase: ports.bigHdactl, state: 'stopped' });
  for (const i of range(L)) await w.writeApp(`b${runId}-s-${pad(i)}`);
  progress(`setup: hdactl apply of ${L} stopped apps`);
  const applied = await w.hdactlOk(['apply']);
  progress(`setup: hdactl apply of ${L} stopped apps: ${Math.round(applied.ms)} ms`);
  return { world: w, setupMs: { hdactlApply: applied.ms } };
}
