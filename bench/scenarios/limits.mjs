// Scenario 4: one app's memory and CPU limits changed among M. hdactl updates
// the running container in place; Compose recreates it. A restart shows as a
// new container ID or a new StartedAt.
import { docker } from '../lib/cleanup.mjs';
import { median, progress } from '../lib/util.mjs';

async function identity(name) {
  const i = await docker.getContainer(name).inspect();
  return { id: i.Id, startedAt: i.State.StartedAt, memory: i.HostConfig.Memory, nanoCpus: i.HostConfig.NanoCpus };
}

export async function limits(ctx, { world, project, apps }) {
  const M = apps.length;
  const k = Math.floor((3 * M) / 4);
  const app = apps[k];
  const service = project.services[k];
  const samples = { hdactl: [], compose: [] };
  const restarts = { hdactl: 0, compose: 0 };
  for (let r = 0; r < ctx.reps.limits; r++) {
    progress(`limits change among ${M}: run ${r + 1}`);
    const mb = 64 + 16 * r;
    const lim = { memory: `${mb}m`, cpus: 0.5 };
    const measure = async (who, container, run) => {
      const before = await identity(container);
      const ms = await run();
      const after = await identity(container);
      if (after.memory !== mb * 1024 * 1024) throw new Error(`${who}: ${container} has memory ${after.memory}, not ${mb}m, after the change`);
      if (after.id !== before.id || after.startedAt !== before.startedAt) restarts[who]++;
      return ms;
    };
    const steps = [
      ['hdactl', () => measure('hdactl', app, async () => {
        await world.writeApp(app, { limits: lim });
        const res = await world.hdactlOk(['apply']);
        const changed = res.stdout.split('\n').filter((l) => l && !/ unchanged$/.test(l));
        if (changed.length !== 1 || !changed[0].startsWith(app)) throw new Error(`hdactl apply changed more than ${app}:\n${changed.join('\n')}`);
        return res.ms;
      })],
      ['compose', () => measure('compose', service.container, async () => {
        service.limits = lim;
        await project.write();
        return (await project.up()).ms;
      })],
    ];
    for (const [key, fn] of r % 2 ? [...steps].reverse() : steps) samples[key].push(await fn());
  }
  const med = { hdactl: median(samples.hdactl), compose: median(samples.compose) };
  const n = samples.hdactl.length;
  const name = `4. Limits change on 1 of ${M}`;
  ctx.compare(name, { label: 'hdactl apply (update in place)', ms: med.hdactl, n }, { label: '`docker-compose up -d` (recreates)', ms: med.compose, n: samples.compose.length });
  ctx.check(name, 'container restarts: hdactl / Compose', `${restarts.hdactl} of ${n} / ${restarts.compose} of ${samples.compose.length}`, 'hdactl 0', restarts.hdactl === 0);
  return { apps: M, samplesMs: samples, medianMs: med, restarts, runs: n };
}
