import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
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
 * Creates `file` holding `content`, unless it exists. The content is written
 * first and linked into place, so no other process ever reads the file empty
 * (and takes a lock being written for a stale one).
 */
async function create(file: string, content: string): Promise<boolean> {
  const draft = `${file}.${process.pid}`;
  try {
    await writeFile(draft, content);
    await link(draft, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(draft, { force: true });
  }
}

/** The pid, identity and command a lock file records; a lock from before the command was recorded is a daemon's. */
function parse(content: string): { pid: number; identity: string | undefined; holder: LockHolder } {
  const [pid = '', identity, holder] = content.split('\n').map((l) => l.trim());
  return { pid: Number(pid), identity: identity || undefined, holder: holder === 'apply' ? 'apply' : 'run' };
}

/** True when a lock file's content names a live process other than us. */
function held(content: string): boolean {
  const { pid, identity } = parse(content);
  return pid > 0 && pid !== process.pid && holderRuns(pid, identity);
}

/**
 * Removes the stale lock `file` (whose content was `stale`), unless another
 * process replaced it meanwhile. Reading and then removing is not atomic: two
 * processes that found the same dead lock could each remove it and then the
 * other's fresh one, and both go on as its holder. So one process at a time
 * does it, holding a guard file; a guard whose process is gone (killed in
 * those few microseconds) is removed. Either way the caller then looks at
 * the lock again.
 */
async function removeStale(file: string, stale: string, me: string): Promise<void> {
  const guard = `${file}.takeover`;
  if (!(await create(guard, me))) {
    const content = await readFile(guard, 'utf8').catch(() => '');
    if (held(content)) await setTimeout(5);
    else await rm(guard, { force: true });
    return;
  }
  try {
    if ((await readFile(file, 'utf8').catch(() => undefined)) === stale) await rm(file, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}

/**
 * Takes `<stateDir>/hdactl.lock`, holding our pid, our identity and the
 * command, so that `hdactl apply` never races a daemon (or another apply)
 * over the same containers. A lock whose process is gone (killed with -9, or
 * a power cut, after which its pid may belong to another program) is stale
 * and taken over, by one of the processes that find it; a live one is an
 * error that names its pid and command.
 */
export async function acquireLock(stateDir: string, command: LockHolder = 'run'): Promise<Lock> {
  await mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, 'hdactl.lock');
  const me = `${process.pid}\n${processIdentity(process.pid) ?? ''}\n`;
  // Each round ends with the lock ours, held by another, or its holder found gone; a second's worth of rounds is many.
  for (let round = 0; round < 200; round++) {
    if (await create(file, `${me}${command}\n`)) return { file, release: () => rm(file, { force: true }) };
    const content = await readFile(file, 'utf8').catch(() => undefined);
    if (content === undefined) continue; // released just now
    if (held(content)) {
      const { pid, holder } = parse(content);
      throw new LockHeld(heldBy(holder, pid, command, stateDir), holder, pid);
    }
    await removeStale(file, content, me);
  }
  throw new Error(`cannot take the lock ${file}: remove it if no hdactl run or apply is working on ${stateDir}`);
}

/**
 * `acquireLock` for `hdactl run`, which waits out an apply's lock (an apply
 * ends, and a daemon that exits at once would soon hit systemd's start
 * limit) and fails on another daemon's. `waiting` is told once per holder.
 */
export async function acquireLockWaiting(stateDir: string, waiting: (held: LockHeld) => void, pollMs = 250): Promise<Lock> {
  let told = 0;
  for (;;) {
    try {
      return await acquireLock(stateDir, 'run');
    } catch (err) {
      if (!(err instanceof LockHeld) || err.holder !== 'apply') throw err;
      if (told !== err.pid) waiting(err);
      told = err.pid;
      await setTimeout(pollMs);
    }
  }
}
