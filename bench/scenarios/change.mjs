// Scenario 3: one app's env changed among M. hdactl apply recreates that
// app; `docker-compose up -d` recreates that one service.
import { median, progress } from '../lib/util.mjs';

export async function change(ctx, { world, project, apps }) {
  const M = apps.length;
  const k = Math.floor(M / 2);
  const app = apps[k];
  const service = project.services[k];
  const samples = { hdactl: [], compose: [] };
  for (let r = 0; r < ctx.reps.change; r++) {
    progress(`one change among ${M}: run ${r + 1}`);
    const message = `changed ${r + 1}`;
    const steps = [
      ['hdactl', async () => {
        await world.writeApp(app, { message });
        const res = await world.hdactlOk(['apply']);
        const changed = res.stdout.split('\n').filter((l) => l && !/ unchanged$/.test(l));
        if (changed.length !== 1 || !changed[0].startsWith(`${app} recreated`)) throw new Error(`hdactl apply did not recreate exactly ${app}:\n${changed.join('\n')}`);
        const page = await world.viaApache(app);
        if (!page?.body.includes(message)) throw new Error(`${app} does not serve "${message}" after apply`);
        return res.ms;
      }],
      ['compose', async () => {
        service.message = message;
        await project.write();
        const res = await project.up();
        const recreated = (res.stderr.match(/Recreating /g) ?? []).length;
        // Compose prints each line twice on a non-tty (start and done).
        if (recreated === 0 || !res.stderr.includes(`Recreating ${service.container}`)) throw new Error(`docker-compose did not recreate ${service.container}:\n${res.stderr.slice(-2000)}`);
        return res.ms;
      }],
    ];
    for (const [key, fn] of r % 2 ? [...steps].reverse() : steps) samples[key].push(await fn());
  }
  const med = { hdactl: median(samples.hdactl), compose: median(samples.compose) };
  ctx.compare(`3. One env change among ${M}`, { label: 'hdactl apply (recreates 1)', ms: med.hdactl, n: samples.hdactl.length },
    { label: '`docker-compose up -d` (recreates 1)', ms: med.compose, n: samples.compose.length }, 0.3);
  return { apps: M, samplesMs: samples, medianMs: med };
}
