// Scenario 5: the daemon's reaction. With `hdactl run` idle over the M-app
// world, from writing a new app's manifest to the app answering through
// Apache; against the floor: dockerode create + start + first HTTP answer on
// the host port, from a process that is already running.
import { docker, removeContainers } from '../lib/cleanup.mjs';
import { floorContainer } from '../floor.mjs';
import { httpGet, median, now, progress, waitFor } from '../lib/util.mjs';

const POLL_MS = 10;

export async function reaction(ctx, { world, daemon }) {
  const { runId, ports } = ctx;
  const samples = { hdactl: [], floor: [] };
  // Idle: nothing queued, and no trigger still settling. The daemon looks at an
  // app again 2 s after its last Engine event; a run that started inside that
  // window would time two passes at once.
  const settle = () => waitFor('the daemon to go idle', async () => {
    const m = await daemon.metrics();
    return m?.hdactl_queue_depth === 0 && m.hdactl_triggers_scheduled === 0;
  }, 30_000, 50);
  for (let r = 0; r < ctx.reps.reaction; r++) {
    progress(`daemon reaction: run ${r + 1}`);
    const steps = [
      ['hdactl', async () => {
        const app = `b${runId}-react-${r + 1}`;
        const message = `reacted ${r + 1} ${runId}`;
        const t0 = now();
        await world.writeApp(app, { message });
        await waitFor(`${app} to answer through Apache`, async () => {
          const res = await world.viaApache(app);
          return res?.status === 200 && res.body.includes(message);
        }, 60_000, POLL_MS);
        const ms = now() - t0;
        // Untimed: take the app away again and wait until the daemon has.
        await world.removeApp(app);
        // Both names asked in the same poll: a graceful restart resets a few connections.
        await waitFor(`${app} to be removed`, async () => {
          const gone = (await world.containers()).every((c) => c.Labels['org.amahi.hdactl.app'] !== app);
          const [mine, unknown] = await Promise.all([world.viaApache(app), world.viaApache('nobody')]);
          return gone && mine !== undefined && unknown !== undefined && mine.status === unknown.status;
        }, 60_000, 50);
        await settle();
        return ms;
      }],
      ['floor', async () => {
        const name = `b${runId}-rf-${r + 1}`;
        const message = `floor ${r + 1} ${runId}`;
        const hostPort = ports.reactionFloor + r;
        const t0 = now();
        const c = await docker.createContainer({ ...floorContainer({ name, hostPort, message, runId }), Labels: { 'org.amahi.bench.run': runId, 'org.amahi.bench.reaction': '1' } });
        await c.start();
        await waitFor(`${name} to answer`, async () => {
          const res = await httpGet(hostPort);
          return res?.status === 200 && res.body.includes(message);
        }, 60_000, POLL_MS);
        const ms = now() - t0;
        await removeContainers(runId, (l) => l['org.amahi.bench.reaction'] === '1');
        return ms;
      }],
    ];
    for (const [key, fn] of r % 2 ? [...steps].reverse() : steps) samples[key].push(await fn());
  }
  const med = { hdactl: median(samples.hdactl), floor: median(samples.floor) };
  const over = med.hdactl - med.floor;
  ctx.compare(`5. Daemon reaction, ${ctx.sizes.world} apps running`,
    { label: 'hdactl run: manifest written → answers through Apache', ms: med.hdactl, n: samples.hdactl.length },
    { label: 'floor: create + start + first HTTP answer', ms: med.floor, n: samples.floor.length },
    undefined, { target: '≤ floor + 300 ms', ratio: `${over >= 0 ? '+' : ''}${Math.round(over)} ms`, pass: over <= 300 });
  return { samplesMs: samples, medianMs: med, overFloorMs: over, pollMs: POLL_MS };
}
