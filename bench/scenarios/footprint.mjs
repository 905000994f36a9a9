// Scenario 6: hdactl run's footprint while idle: CPU seconds over the idle
// window (/proc/<pid>/stat utime+stime) and peak RSS (/proc/<pid>/status
// VmHWM), for the M-app world and the L-app world of stopped apps. Both
// daemons idle in the same window; each is measured on its own process.
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { progress, sleep } from '../lib/util.mjs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds a process has used, user plus system. */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which sits in parentheses and may hold spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime: fields 14 and 15
}

/** A process's memory in MB: { hwm: peak resident, rss: resident now }. */
export async function memoryMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}

/**
 * Waits until a daemon has finished starting up: its first pass is done, and
 * its CPU use over one second falls under 2 % of a core (the file watcher's
 * first scan of the manifests and vhosts goes on after the first pass).
 * Resolves with the CPU seconds it used until then.
 */
async function settled(pid, maxSeconds) {
  const deadline = Date.now() + maxSeconds * 1000;
  let before = await cpuSeconds(pid);
  for (;;) {
    await sleep(1000);
    const after = await cpuSeconds(pid);
    if (after - before < 0.02 || Date.now() > deadline) return after;
    before = after;
  }
}

/** Measures `daemons` ([{ name, apps, daemon }]) over one idle window of `seconds`, once each is idle. */
export async function footprint(ctx, daemons, seconds) {
  const startup = [];
  for (const d of daemons) {
    startup.push({ cpuSeconds: await settled(d.daemon.pid, ctx.quick ? 10 : 60), seconds: (Date.now() - d.daemon.startedAt) / 1000 });
  }
  const start = await Promise.all(daemons.map(async (d) => ({
    cpu: await cpuSeconds(d.daemon.pid),
    m: await d.daemon.metrics(),
  })));
  progress(`footprint: idle for ${seconds} s (${daemons.map((d) => `${d.apps} apps`).join(', ')})`);
  await sleep(seconds * 1000);
  const out = {};
  for (const [i, d] of daemons.entries()) {
    const cpu = (await cpuSeconds(d.daemon.pid)) - start[i].cpu;
    const mem = await memoryMb(d.daemon.pid);
    const m = await d.daemon.metrics();
    const passes = m['hdactl_reconcile_passes_total{result="ok"}'] - start[i].m['hdactl_reconcile_passes_total{result="ok"}'];
    const engineCalls = m.hdactl_engine_api_calls - start[i].m.hdactl_engine_api_calls;
    const pct = (cpu / seconds) * 100;
    out[d.name] = { apps: d.apps, stoppedApps: d.stopped, startupCpuSeconds: startup[i].cpuSeconds, secondsToIdle: startup[i].seconds, idleSeconds: seconds, cpuSeconds: cpu, cpuPercentOfCore: pct, peakRssMb: mem.hwm, rssMb: mem.rss, passesInWindow: passes, engineCallsInWindow: engineCalls };
    const name = `6. Footprint of hdactl run, ${d.apps} apps${d.stopped ? ' (stopped: created, not running)' : ''}`;
    ctx.check(name, `idle CPU over ${seconds} s (${passes} resync pass(es), ${engineCalls} Engine calls)`, `${cpu.toFixed(2)} CPU s = ${pct.toFixed(2)} % of a core`, '≤ 1 % of a core', pct <= 1);
    ctx.check(name, 'start-up until idle: CPU (wall)', `${startup[i].cpuSeconds.toFixed(2)} CPU s (${startup[i].seconds.toFixed(1)} s)`, '—', undefined);
    ctx.check(name, 'peak RSS (VmHWM)', `${mem.hwm.toFixed(1)} MB`, d.rssTarget ? `≤ ${d.rssTarget} MB` : '—', d.rssTarget ? mem.hwm <= d.rssTarget : undefined);
  }
  return out;
}
