import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/** Held by one `hdactl run`, or one `hdactl apply` while it works, per state dir. */
export interface Lock {
  file: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What tells a process from a later one with the same pid: the boot it runs
 * in and its start time (field 22 of /proc/<pid>/stat, in clock ticks since
 * boot). Undefined where /proc cannot tell.
 */
export function processIdentity(pid: number): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which may hold spaces and parentheses, start at field 3.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
    return start ? `${boot} ${start}` : undefined;
  } catch {
    return undefined;
  }
}

/** True when the process that wrote the lock still runs: the pid alone is not enough after a reboot, which hands pids out again. */
function holderRuns(pid: number, identity: string | undefined): boolean {
  if (!alive(pid)) return false;
  return identity === undefined || processIdentity(pid) === identity;
}

/** The commands that change what a state dir describes, and so hold its lock. */
export type LockHolder = 'run' | 'apply';

/** The lock is held by a live process: `holder` (pid) is working on the state dir. */
export class LockHeld extends Error {
  override readonly name = 'LockHeld';
  constructor(
    message: string,
    readonly holder: LockHolder,
    readonly pid: number,
  ) {
    super(message);
  }
}

/** Why `command` cannot have the lock that `holder` (pid) has. */
function heldBy(holder: LockHolder, pid: number, command: LockHolder, stateDir: string): string {
  if (holder === 'apply') return `an hdactl apply (pid ${pid}) is working on ${stateDir}: wait for it to finish, then ${command === 'run' ? 'start hdactl run' : 'apply again'}`;
  if (command === 'apply') return `hdactl run (pid ${pid}) manages ${stateDir} and applies every manifest change itself: see hdactl status, or stop it to apply by hand`;
  return `another hdactl run (pid ${pid}) is working on ${stateDir}: stop it first, or use another --state-dir`;
}

/**
 * Takes `<stateDir>/hdactl.lock`, holding our pid, our identity and the
 * command, so that `hdactl apply` never races a daemon (or another apply)
 * over the same containers. A lock whose process is gone (killed with -9, or
 * a power cut, after which its pid may belong to another program) is stale
 * and taken over; a live one is an error that names its pid and command.
 */
export async function acquireLock(stateDir: string, command: LockHolder = 'run'): Promise<Lock> {
  await mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, 'hdactl.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n${processIdentity(process.pid) ?? ''}\n${command}\n`);
      await fh.close();
      return { file, release: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidLine = '', identity, holder] = (await readFile(file, 'utf8').catch(() => '')).split('\n').map((l) => l.trim());
      const pid = Number(pidLine);
      if (pid > 0 && pid !== process.pid && holderRuns(pid, identity || undefined)) {
        // A lock from before the command was recorded is a daemon's.
        const by = holder === 'apply' ? 'apply' : 'run';
        throw new LockHeld(heldBy(by, pid, command, stateDir), by, pid);
      }
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`cannot take the lock ${file}: remove it if no hdactl run or apply is working on ${stateDir}`);
}
