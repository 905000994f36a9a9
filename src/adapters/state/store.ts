import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Limits } from '../../desired/model.js';

/** What hdactl remembers about an app between runs. */
export interface AppRecord {
  /** The app's id for life: its web host port is portBase + id. */
  id: number;
  /** The manifest file that last defined the app, so a broken file freezes its apps. */
  source?: string;
  /** Limits applied live to this container, which its labels cannot show. */
  limits?: { containerId: string; limits: Limits };
  /** Content hash of the manifest last applied. */
  generation?: string;
}

/** The state file: `<stateDir>/state.json`. */
export interface State {
  version: 1;
  apps: Record<string, AppRecord>;
}

/** Reads and writes the state file; writes are atomic (temp file, then rename). */
export class StateStore {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();

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

  /** Applies `change` to the current state and writes it; calls are serialised. */
  update(change: (s: State) => void): Promise<void> {
    const next = this.writing.then(async () => {
      const s = await this.read();
      change(s);
      await mkdir(this.dir, { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(s, null, 2)}\n`);
      await rename(tmp, this.file);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
