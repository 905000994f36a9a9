import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile, syncDir } from '../host/files.js';

/** Each vhost file a commit changes, and its content before (null: there was none). */
export type JournalEntries = Record<string, string | null>;

/**
 * The vhost files a commit has changed but not yet tested and made live (or
 * rolled back), kept in the state directory while it runs. A process killed
 * in that window (a Ctrl-C during a long pull, a SIGKILL) leaves the journal,
 * and the next hdactl to hold the lock puts those files back: otherwise they
 * would sit untested in Apache's include directory, read at its next restart,
 * and match the manifests, so no later pass would test or reload them.
 */
export interface VhostJournal {
  begin(entries: JournalEntries): Promise<void>;
  end(): Promise<void>;
  /** What a commit cut short left, if one did. */
  read(): Promise<{ pid: number; entries: JournalEntries } | undefined>;
}

/** The journal as `<stateDir>/vhost-journal.json`, written durably. */
export class FileVhostJournal implements VhostJournal {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'vhost-journal.json');
  }

  async begin(entries: JournalEntries): Promise<void> {
    await replaceFile(this.file, `${JSON.stringify({ pid: process.pid, entries })}\n`, `${this.file}.${process.pid}.tmp`);
  }

  async end(): Promise<void> {
    await rm(this.file, { force: true });
    await syncDir(path.dirname(this.file));
  }

  async read(): Promise<{ pid: number; entries: JournalEntries } | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    // Written whole, then renamed into place: never half a file.
    return JSON.parse(text) as { pid: number; entries: JournalEntries };
  }
}
