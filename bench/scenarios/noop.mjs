// Scenario 2: nothing to do, M apps converged. `hdactl plan` and `hdactl
// apply` against `docker-compose up -d` on the same M services, and the
// Engine API calls hdactl makes for the pass.
import { docker } from '../lib/cleanup.mjs';
import { median, progress } from '../lib/util.mjs';

async function ids(world, project) {
  const list = await docker.listContainers({ all: true });
  return list
    .filter((c) => c.Labels?.['org.amahi.hdactl.instance'] === world.instance || c.Labels?.['com.docker.compose.project'] === project.project)
    .map((c) => c.Id)
    .sort()
    .join(',');
}

export async function noop(ctx, { world, project, apps }) {
  const M = apps.length;
  const samples = { plan: [], apply: [], compose: [] };
  const calls = { plan: [], apply: [] };
  const before = await ids(world, project);
  for (let r = 0; r < ctx.reps.noop; r++) {
    progress(`no-op ${M}: run ${r + 1}`);
    const steps = [
      ['plan', async () => {
        const res = await world.hdactlOk(['plan']);
        if (!/in sync/.test(res.stdout)) throw new Error(`hdactl plan is not in sync:\n${res.stdout.slice(0, 2000)}`);
        calls.plan.push(res.engineCalls);
        return res.ms;
      }],
      ['apply', async () => {
        const res = await world.hdactlOk(['apply']);
        const changed = res.stdout.split('\n').filter((l) => l && !/ unchanged$/.test(l));
        if (changed.length) throw new Error(`hdactl apply changed something in a no-op pass:\n${changed.join('\n')}`);
        calls.apply.push(res.engineCalls);
        return res.ms;
      }],
      ['compose', async () => (await project.up()).ms],
    ];
    for (const [k, fn] of r % 2 ? [...steps].reverse() : steps) samples[k].push(await fn());
  }
  if ((await ids(world, project)) !== before) throw new Error('a no-op pass replaced containers');
  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const name = `2. No-op, ${M} apps converged`;
  const composeSide = { label: `\`docker-compose up -d\`, ${M} services`, ms: med.compose, n: samples.compose.length };
  ctx.compare(name, { label: 'hdactl plan', ms: med.plan, n: samples.plan.length }, composeSide, 0.1);
  ctx.compare(name, { label: 'hdactl apply', ms: med.apply, n: samples.apply.length }, composeSide, 0.1);
  const maxCalls = Math.max(...calls.apply, ...calls.plan);
  ctx.check(name, 'hdactl Engine API calls per pass (plan / apply, max over runs)', `${Math.max(...calls.plan)} / ${Math.max(...calls.apply)}`, '≤ 3', maxCalls <= 3);
  return { apps: M, samplesMs: samples, medianMs: med, engineCalls: calls };
}
