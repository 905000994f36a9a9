import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { readVhostHeader } from '../../desired/vhost.js';
import type { ObservedVhost } from '../../observe/types.js';
import { replaceFile, syncDir } from '../host/files.js';

/**
 * Where hdactl writes a vhost file before renaming it into place: a
 * subdirectory of the vhost directory (the same file system, so the rename is
 * atomic). Apache's `IncludeOptional <dir>/*.conf` never reads into it, and a
 * write there is no event for the vhost directory's watcher, which re-reads
 * the whole directory on every event.
 */
export const VHOST_TEMP_DIR = '.hdactl-tmp';

/** The vhost directory: one `<app>.conf` per web app. */
export interface VhostStore {
  readonly dir: string;
  /**
   * Managed files by app, and the apps whose `<app>.conf` hdactl does not own;
   * with `apps`, only those apps' files are read.
   */
  list(apps?: ReadonlySet<string>): Promise<{ managed: Map<string, ObservedVhost>; foreign: Set<string> }>;
  /** The file's content, or undefined when it does not exist. */
  read(app: string): Promise<string | undefined>;
  /** Writes atomically and durably: a temp file in VHOST_TEMP_DIR, flushed, then renamed. */
  write(app: string, content: string): Promise<void>;
  remove(app: string): Promise<void>;
  /**
   * True when `<app>.conf` is as this process last left it (written, or
   * removed): a watcher event for it is an echo of hdactl's own write.
   */
  isAsLeft(app: string): boolean;
}

/** The file-system vhost store. */
export class FileVhostStore implements VhostStore {
  /** What this process last wrote to each app's file; null for removed. */
  private readonly left = new Map<string, string | null>();
  /** Changes in flight, by app. */
  private readonly changing = new Map<string, number>();

  constructor(readonly dir: string) {}

  fileOf(app: string): string {
    return path.join(this.dir, `${app}.conf`);
  }

  async list(apps?: ReadonlySet<string>) {
    const managed = new Map<string, ObservedVhost>();
    const foreign = new Set<string>();
    let names: string[];
    try {
      names = apps ? [...apps].map((a) => `${a}.conf`) : (await readdir(this.dir)).filter((n) => n.endsWith('.conf'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { managed, foreign };
      throw err;
    }
    // Read synchronously, as the manifests are: many small reads through the thread pool cost more.
    for (const name of names) {
      const file = path.join(this.dir, name);
      let content: string;
      try {
        content = readFileSync(file, 'utf8');
      } catch {
        continue; // removed since readdir
      }
      const header = readVhostHeader(content);
      const stem = name.slice(0, -'.conf'.length);
      if (!header || header.app !== stem) foreign.add(stem);
      else managed.set(stem, { app: stem, file, content, intact: header.intact });
    }
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
    const tmpDir = path.join(this.dir, VHOST_TEMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${app}.conf.${process.pid}.tmp`);
    await this.leaving(app, content, () => replaceFile(this.fileOf(app), content, tmp));
  }

  async remove(app: string): Promise<void> {
    await this.leaving(app, null, async () => {
      await rm(this.fileOf(app), { force: true });
      await syncDir(this.dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // no directory: nothing was removed
      });
    });
  }

  /**
   * Changes the file and records what it was left as. While the change is in
   * flight the file may be in either state, and the watcher's event may
   * already arrive: it counts as hdactl's own.
   */
  private async leaving(app: string, content: string | null, change: () => Promise<void>): Promise<void> {
    this.changing.set(app, (this.changing.get(app) ?? 0) + 1);
    try {
      await change();
      this.left.set(app, content);
    } catch (err) {
      this.left.delete(app);
      throw err;
    } finally {
      this.changing.set(app, this.changing.get(app)! - 1);
    }
  }

  isAsLeft(app: string): boolean {
    if (this.changing.get(app)) return true;
    const left = this.left.get(app);
    if (left === undefined) return false;
    try {
      return readFileSync(this.fileOf(app), 'utf8') === left;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' && left === null;
    }
  }
}
