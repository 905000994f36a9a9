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

/**
 * `docker-compose up -d`, once more if it fails with "Pool is closed": under
 * load, docker-py closes a connection pool that other threads still use
 * (docker/compose#3586), and `up` stops part-way. It is idempotent, so a
 * second `up` starts what the first did not. Only for setup, which is no
 * measurement: the JSON keeps both times.
 */
export async function upRetryingClosedPool(project) {
  try {
    return await project.up();
  } catch (err) {
    if (!/Pool is closed/.test(err.message)) throw err;
    progress('setup: docker-compose up -d failed with "Pool is closed" (docker/compose#3586); running it again');
    const first = err.ms ?? 0;
    const again = await project.up();
    return { ...again, ms: first + again.ms, retried: true };
  }
}

/**
 * hdactl's M-app world and the Compose project of the same M services, built
 * at the same time: neither is a measurement, and the Engine has room for
 * both on 2 cores (each alone leaves it partly idle), so the two times in the
 * JSON are each under the other's load.
 */
export async function setupConverged(ctx) {
  const { runId, sizes, ports } = ctx;
  const M = sizes.world;
  const w = await createWorld({ dir: path.join(ctx.tmp, 'w-hdactl'), runId, name: 'w', portBase: ports.worldHdactl });
  const apps = range(M).map((i) => `b${runId}-w-${pad(i)}`);
  for (const a of apps) await w.writeApp(a);
  const project = await createProject({
    dir: path.join(ctx.tmp, 'w-compose'),
    project: `bench${runId}w`,
    runId,
    services: range(M).map((i) => ({ name: `app${pad(i)}`, container: `b${runId}-wc-${pad(i)}`, hostPort: ports.worldCompose + i, message: `hello from app${pad(i)}` })),
  });
  progress(`setup: hdactl apply of ${M} apps, and docker-compose up -d of ${M} services, side by side`);
  const [applied, up] = await Promise.all([
    w.hdactlOk(['apply']).then((r) => (progress(`setup: hdactl apply of ${M} apps: ${Math.round(r.ms)} ms`), r)),
    upRetryingClosedPool(project).then((r) => (progress(`setup: docker-compose up -d of ${M} services: ${Math.round(r.ms)} ms`), r)),
  ]);
  return { world: w, apps, project, setupMs: { hdactlApply: applied.ms, composeUp: up.ms, composeRetried: Boolean(up.retried), sideBySide: true } };
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
