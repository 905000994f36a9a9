import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The parse results of manifest files, kept on disk between runs
 * (`<stateDir>/manifest-cache.json`), keyed by each file's path and the
 * sha256 of its text. Parsing YAML was the largest part of a one-shot
 * `hdactl plan` over many apps; JSON.parse of the cache costs a fraction.
 *
 * Only the parse is cached: every document is still validated and planned on
 * every run. An entry is used only when the file's text is byte for byte the
 * one it was made from, by the same cache format; a missing, unreadable or
 * corrupt cache is ignored, and a cache that cannot be written is skipped.
 */
export interface CachedDoc {
  index: number;
  value: unknown;
  appName?: string;
  generation: string;
  /** Where the document's content starts. */
  line: number;
  col: number;
}

interface CacheFile {
  format: string;
  files: Record<string, { sha: string; docs: CachedDoc[] }>;
}

/** Bump when the parse's output changes (the yaml library's version is part of it). */
const FORMAT = 'hdactl-manifest-cache/1 yaml/2';

export function textSha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Parse results by file: `T` in memory for this process (the daemon re-reads
 * every manifest on every pass), and their plain `CachedDoc` form on disk for
 * the next process. One instance per cache file, shared across passes.
 */
export class ParseCache<T> {
  private readonly memory = new Map<string, { sha: string; value: T }>();
  private stored?: CacheFile['files'];
  private dirty = false;

  constructor(readonly file?: string) {}

  /** This process's parse of `file`, when its text is unchanged. */
  get(file: string, sha: string): T | undefined {
    const e = this.memory.get(file);
    return e?.sha === sha ? e.value : undefined;
  }

  /** The stored documents of `file` from an earlier run, when its text is unchanged. */
  getStored(file: string, sha: string): CachedDoc[] | undefined {
    const e = this.disk()[file];
    return e?.sha === sha ? e.docs : undefined;
  }

  /** Keeps a parse; `docs` (a clean parse's documents) are stored on disk too, when JSON carries them. */
  set(file: string, sha: string, value: T, docs?: CachedDoc[]): void {
    this.memory.set(file, { sha, value });
    const disk = this.disk();
    if (docs && docs.every((d) => isJson(d.value))) {
      if (disk[file]?.sha !== sha) {
        disk[file] = { sha, docs };
        this.dirty = true;
      }
    } else if (disk[file]) {
      delete disk[file];
      this.dirty = true;
    }
  }

  /** Forgets files not read this pass, and writes the cache file when it changed. */
  endPass(files: Set<string>): void {
    for (const f of this.memory.keys()) if (!files.has(f)) this.memory.delete(f);
    const disk = this.disk();
    for (const f of Object.keys(disk)) {
      if (!files.has(f)) {
        delete disk[f];
        this.dirty = true;
      }
    }
    if (!this.dirty || !this.file) return;
    this.dirty = false;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ format: FORMAT, files: disk } satisfies CacheFile));
      renameSync(tmp, this.file);
    } catch {
      // A read-only state directory (a user running `hdactl plan`) only costs speed.
    }
  }

  private disk(): CacheFile['files'] {
    return (this.stored ??= this.file ? read(this.file) : {});
  }
}

function read(file: string): CacheFile['files'] {
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheFile>;
    return c.format === FORMAT && c.files && typeof c.files === 'object' ? c.files : {};
  } catch {
    return {};
  }
}

/** True when JSON carries the value unchanged (YAML's .inf and .nan do not survive it). */
function isJson(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJson);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).every(isJson);
  return false;
}
