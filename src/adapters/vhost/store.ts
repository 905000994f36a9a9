import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readVhostHeader } from '../../desired/vhost.js';
import type { ObservedVhost } from '../../observe/types.js';

/** The vhost directory: one `<app>.conf` per web app. */
export interface VhostStore {
  readonly dir: string;
  /** Managed files by app, and the apps whose `<app>.conf` hdactl does not own. */
  list(): Promise<{ managed: Map<string, ObservedVhost>; foreign: Set<string> }>;
  /** The file's content, or undefined when it does not exist. */
  read(app: string): Promise<string | undefined>;
  /** Writes atomically: a temp file in the same directory, then rename. */
  write(app: string, content: string): Promise<void>;
  remove(app: string): Promise<void>;
}

/** The file-system vhost store. */
export class FileVhostStore implements VhostStore {
  constructor(readonly dir: string) {}

  fileOf(app: string): string {
    return path.join(this.dir, `${app}.conf`);
  }

  async list() {
    const managed = new Map<string, ObservedVhost>();
    const foreign = new Set<string>();
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.conf'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { managed, foreign };
      throw err;
    }
    await Promise.all(names.map(async (name) => {
      const file = path.join(this.dir, name);
      const content = await readFile(file, 'utf8').catch(() => undefined);
      if (content === undefined) return;
      const header = readVhostHeader(content);
      const stem = name.slice(0, -'.conf'.length);
      if (!header || header.app !== stem) foreign.add(stem);
      else managed.set(stem, { app: stem, file, content, intact: header.intact });
    }));
    return { managed, foreign };
  }

  async read(app: string): Promise<string | undefined> {
    try {
      return await readFile(this.fileOf(app), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(app: string, content: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // The temp name does not end in .conf, so Apache's IncludeOptional never reads a half-written file.
    const tmp = path.join(this.dir, `.${app}.conf.${process.pid}.tmp`);
    await writeFile(tmp, content);
    await rename(tmp, this.fileOf(app));
  }

  async remove(app: string): Promise<void> {
    await rm(this.fileOf(app), { force: true });
  }
}
