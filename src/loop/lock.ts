import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/** Held by one `hdactl run` per state dir. */
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
 * Takes `<stateDir>/hdactl.lock`, holding our pid. A lock whose process is
 * gone (killed with -9) is stale and taken over; a live one is an error that
 * names its pid.
 */
export async function acquireLock(stateDir: string): Promise<Lock> {
  await mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, 'hdactl.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { file, release: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`another hdactl run (pid ${pid}) is working on ${stateDir}: stop it first, or use another --state-dir`);
      }
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`cannot take the lock ${file}: remove it if no hdactl run is working on ${stateDir}`);
}
