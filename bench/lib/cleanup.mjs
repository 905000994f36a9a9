// Everything the bench creates is recorded here and removed at the end, even
// after a failure or Ctrl-C: containers and networks by this run's labels,
// processes by pid, temp directories by path.
import { rm } from 'node:fs/promises';
import Docker from 'dockerode';
import { mapLimit, progress, sleep } from './util.mjs';

// A call with no answer for 2 minutes fails instead of holding the run forever:
// Debian 12's dockerd (20.10.24) can deadlock while removing containers
// (moby/libnetwork#2649), and then only a restart of dockerd helps.
export const docker = new Docker({ timeout: 120_000 });

/** Label on every container the bench makes without hdactl (floor, Compose). */
export const RUN_LABEL = 'org.amahi.bench.run';
const HDACTL_INSTANCE = 'org.amahi.hdactl.instance';
const COMPOSE_PROJECT = 'com.docker.compose.project';

const pids = new Set();
const dirs = new Set();
const hooks = [];

/** A process to stop at the end (SIGTERM, then SIGKILL), unless forgotten earlier. */
export const trackPid = (pid) => pids.add(pid);
export const forgetPid = (pid) => pids.delete(pid);
/** A directory to delete at the end. */
export const trackDir = (dir) => dirs.add(dir);
/** Anything else to undo at the end (a private Apache). */
export const trackHook = (fn) => hooks.push(fn);

/** True when a container belongs to bench run `runId`, by one of the labels the bench gives it. */
function ownedBy(labels, runId) {
  return labels?.[RUN_LABEL] === runId
    || (labels?.[HDACTL_INSTANCE] ?? '').startsWith(`bench-${runId}-`)
    || (labels?.[COMPOSE_PROJECT] ?? '').startsWith(`bench${runId}`);
}

/** Removes the run's containers matching `filter` (default: all of them), 8 at a time. */
export async function removeContainers(runId, filter = () => true) {
  const list = await docker.listContainers({ all: true });
  const mine = list.filter((c) => ownedBy(c.Labels, runId) && filter(c.Labels ?? {}));
  await mapLimit(mine, 8, (c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch((err) => {
    if (err.statusCode !== 404) progress(`could not remove container ${c.Names?.[0]}: ${err.message}`);
  }));
  return mine.length;
}

/** Removes the networks Compose made for the run's projects (matching `projectFilter`). */
export async function removeNetworks(runId, projectFilter = () => true) {
  const nets = await docker.listNetworks();
  const mine = nets.filter((n) => (n.Labels?.[COMPOSE_PROJECT] ?? '').startsWith(`bench${runId}`) && projectFilter(n.Labels[COMPOSE_PROJECT]));
  await mapLimit(mine, 4, (n) => docker.getNetwork(n.Id).remove().catch((err) => {
    if (err.statusCode !== 404) progress(`could not remove network ${n.Name}: ${err.message}`);
  }));
  return mine.length;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process by pid: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid, graceMs = 10_000) {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Undoes everything the run made. Safe to call twice. `keepDirs` leaves the temp dirs (and logs) for a look. */
export async function cleanupAll(runId, { keepDirs = false } = {}) {
  for (const pid of [...pids]) {
    await stopPid(pid);
    pids.delete(pid);
  }
  for (const fn of hooks.splice(0).reverse()) await fn().catch((err) => progress(`cleanup: ${err.message}`));
  const n = await removeContainers(runId).catch((err) => (progress(`cleanup: ${err.message}`), 0));
  const m = await removeNetworks(runId).catch((err) => (progress(`cleanup: ${err.message}`), 0));
  for (const d of keepDirs ? [] : [...dirs]) {
    await rm(d, { recursive: true, force: true }).catch(() => undefined);
    dirs.delete(d);
  }
  return { containers: n, networks: m };
}
