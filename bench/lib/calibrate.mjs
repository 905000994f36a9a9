// How fast this machine is at the two things the suite's figures move with,
// measured before the scenarios so that runs on different machines (or the
// same VM on different days) can be compared: starting a process, and one
// container's create + start + first HTTP answer on an idle Engine. Neither is
// hdactl's; both are recorded beside the run's table.
import { readFile } from 'node:fs/promises';
import { floorContainer } from '../floor.mjs';
import { docker, removeContainers } from './cleanup.mjs';
import { httpGet, median, now, runOk, waitFor } from './util.mjs';

/**
 * What the machine runs under: the kernel's boot line (`Hypervisor detected:
 * KVM`, `PVM`, …) while dmesg still holds it, else the CPUID vendor lscpu
 * reports (dmesg's ring buffer drops the boot lines after hours of uptime).
 */
async function hypervisor() {
  const r = await runOk('dmesg', [], {}, [0, 1]).catch(() => undefined);
  const detected = /Hypervisor detected:\s*(.+)$/m.exec(r?.stdout ?? '')?.[1]?.trim();
  if (detected) return detected;
  const cpu = await runOk('lscpu', [], {}, [0, 1]).catch(() => undefined);
  const vendor = /^Hypervisor vendor:\s*(.+)$/m.exec(cpu?.stdout ?? '')?.[1]?.trim();
  if (vendor) return `${vendor} (CPUID vendor from lscpu; dmesg no longer has the boot line)`;
  const flags = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /\bhypervisor\b/.test(flags) ? 'a hypervisor (not named by dmesg or lscpu)' : 'none seen';
}

export async function calibrate({ runId, hostPort }) {
  const spawns = [];
  for (let i = 0; i < 20; i++) spawns.push((await runOk('/bin/true', [])).ms);
  const starts = [];
  for (let i = 0; i < 3; i++) {
    const message = `calibrate ${i} ${runId}`;
    const t0 = now();
    const c = await docker.createContainer({ ...floorContainer({ name: `b${runId}-cal-${i}`, hostPort, message, runId }), Labels: { 'org.amahi.bench.run': runId, 'org.amahi.bench.calibrate': '1' } });
    await c.start();
    await waitFor('the calibration container to answer', async () => (await httpGet(hostPort))?.body.includes(message), 60_000, 10);
    starts.push(now() - t0);
    await removeContainers(runId, (l) => l['org.amahi.bench.calibrate'] === '1');
  }
  return { hypervisor: await hypervisor(), spawnMs: median(spawns), containerStartMs: median(starts), samples: { spawnMs: spawns, containerStartMs: starts } };
}
