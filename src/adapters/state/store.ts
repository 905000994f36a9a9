import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Limits } from '../../desired/model.js';
import { replaceFile } from '../host/files.js';

/** What hdactl remembers about an app between runs. */
export interface AppRecord {
  /** The app's id for life: its web host port is portBase + id. */
  id: number;
  /**
   * The manifest file that defined the app at the last pass that planned it:
   * the daemon reconciles an app when that file changes (a rename of the app in it removes the old one).
   */
  source?: string;
  /** Limits applied live to this container, which its labels cannot show. */
  limits?: { containerId: string; limits: Limits };
  /** Content hash of the manifest last applied. */
  generation?: string;
  /**
   * Why the last attempt to apply the app failed, until one succeeds: what
   * `hdactl status` shows when no daemon answers.
   */
  lastError?: { message: string; time: string };
}

/** The state file: `<stateDir>/state.json`. */
export interface State {
  version: 1;
  apps: Record<string, AppRecord>;
}

/**
 * Reads and writes the state file. A write replaces the file durably (see
 * replaceFile), and the changes that arrive while one is written go to disk
 * together in the next, so fifty apps installed at once cost a few writes,
 * not fifty one after another.
 */
export class StateStore {
  readonly file: string;
  private pending: { change: (s: State) => void; done: (err?: unknown) => void }[] = [];
  private flushing = false;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
  }

  async read(): Promise<State> {
    try {
      const s = JSON.parse(await readFile(this.file, 'utf8')) as State;
      return { version: 1, apps: s.apps ?? {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, apps: {} };
      throw new Error(`cannot read the state file ${this.file} (${(err as Error).message}): fix or move it; hdactl rebuilds ids from container labels`);
    }
  }

  /** Applies `change` to the current state and writes it; resolves once it is on disk. */
  update(change: (s: State) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ change, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      try {
        const s = await this.read();
        for (const p of batch) p.change(s);
        await mkdir(this.dir, { recursive: true });
        await replaceFile(this.file, `${JSON.stringify(s, null, 2)}\n`, `${this.file}.${process.pid}.tmp`);
        for (const p of batch) p.done();
      } catch (err) {
        for (const p of batch) p.done(err);
      }
    }
    this.flushing = false;
  }
}
