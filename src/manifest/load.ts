import { readFileSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { ParseCache, textSha } from './cache.js';
import type { Position, Problem } from './problem.js';

/** One YAML document from a manifest file, with the means to locate its nodes. */
export interface ManifestDoc {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** The plain JS value of the document. */
  value: unknown;
  /** The app name when the document names one as a string, even if it is otherwise invalid. */
  appName?: string;
  /** Content hash of this document's text: the manifest generation. */
  generation: string;
  /** Where the document's content starts. */
  start: Position;
  /** Position of the node at a path (`['ports', 0]`), or of its key when `key` is set. */
  locate(pathSegments: (string | number)[], key?: boolean): Position;
}

/** The result of reading a manifests directory. */
export interface LoadedManifests {
  docs: ManifestDoc[];
  /** Problems that made a whole file or document unreadable. */
  problems: Problem[];
  /** Files that could not be read or parsed in full: their apps must be left alone. */
  brokenFiles: Set<string>;
  /** Files that hold no app (empty, or comments only): an app one of them defined is not removed for it. */
  emptyFiles: Set<string>;
}

const LEFTOVER = [/^\./, /~$/, /\.swp$/, /\.swx$/, /^#.*#$/];

/** True for files hdactl reads: `*.yaml`/`*.yml`, not dotfiles or editor leftovers. */
export function isManifestFile(name: string): boolean {
  if (LEFTOVER.some((re) => re.test(name))) return false;
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

type Parsed = ReturnType<typeof parseManifestText>;

/**
 * Parse caches by cache file ('' for none). What a cache holds is shared
 * between passes, so nothing downstream may modify a parsed document.
 */
const caches = new Map<string, ParseCache<Parsed>>();

/**
 * Reads every manifest file directly in `dir`. A missing or unreadable
 * directory is an error (thrown), never "no apps": that would remove them all.
 * `cacheFile` keeps parse results between runs (see ParseCache).
 */
export async function loadManifestDir(dir: string, cacheFile?: string): Promise<LoadedManifests> {
  let names: string[];
  const links = new Set<string>();
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    // A manifest may be a symlink to a file elsewhere (a checkout, a stow-style layout).
    for (const e of entries) if (e.isSymbolicLink()) links.add(e.name);
    names = entries.filter((e) => (e.isFile() || e.isSymbolicLink()) && isManifestFile(e.name)).map((e) => e.name).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot read the manifests directory ${dir} (${code}): create it or pass --manifests DIR`);
  }
  const cache = caches.get(cacheFile ?? '') ?? new ParseCache<Parsed>(cacheFile);
  caches.set(cacheFile ?? '', cache);
  const out: LoadedManifests = { docs: [], problems: [], brokenFiles: new Set(), emptyFiles: new Set() };
  const seen = new Set<string>();
  for (const name of names) {
    const file = path.join(dir, name);
    // Read synchronously: manifests are a few hundred bytes each, and 200 small
    // reads take a few milliseconds this way, many times that through the thread pool.
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A file removed between readdir and read is simply gone; anything else breaks the file.
      const target = code === 'ENOENT' && links.has(name) ? linkTarget(file) : undefined;
      if (code === 'ENOENT' && target === undefined) continue;
      out.brokenFiles.add(file);
      const message = target !== undefined
        ? `is a symlink to ${target}, which does not exist: fix the link or remove it`
        : code === 'EISDIR' ? 'is a directory (or a link to one), not a manifest: rename it or remove it' : `cannot read file (${code ?? 'error'}): check its permissions`;
      out.problems.push({ file, line: 1, col: 1, message });
      continue;
    }
    seen.add(file);
    const parsed = cachedParse(cache, file, text);
    out.docs.push(...parsed.docs);
    out.problems.push(...parsed.problems);
    if (parsed.broken) out.brokenFiles.add(file);
    else if (parsed.docs.length === 0) out.emptyFiles.add(file);
  }
  cache.endPass(seen);
  return out;
}

/** Where a symlink points, or undefined when it is gone. */
function linkTarget(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

function cachedParse(cache: ParseCache<Parsed>, file: string, text: string): Parsed {
  const sha = textSha(text);
  const live = cache.get(file, sha);
  if (live) return live;
  const stored = cache.getStored(file, sha);
  if (stored) {
    // Positions are needed only for messages: parse again when one is asked for.
    let reparsed: Parsed | undefined;
    const docs = stored.map(({ line, col, ...d }): ManifestDoc => ({
      file,
      ...d,
      start: { file, line, col },
      locate: (p, key) => (reparsed ??= parseManifestText(file, text)).docs.find((x) => x.index === d.index)!.locate(p, key),
    }));
    const parsed = { docs, problems: [], broken: false };
    cache.set(file, sha, parsed, stored);
    return parsed;
  }
  const parsed = parseManifestText(file, text);
  const clean = !parsed.broken && parsed.problems.length === 0;
  cache.set(file, sha, parsed, clean ? parsed.docs.map(({ index, value, appName, generation, start }) => ({ index, value, appName, generation, line: start.line, col: start.col })) : undefined);
  return parsed;
}

/**
 * The first line after `line` (1-based) that holds text indented deeper than
 * `line` does: where a key indented one space too many (`   cpus: 1` under
 * `  memory: 1g`) makes the parser read it as the value above going on.
 */
function indentedDeeper(text: string, line: number): { line: number; col: number } | undefined {
  const lines = text.split('\n');
  const indent = (l: string) => l.length - l.trimStart().length;
  const base = indent(lines[line - 1] ?? '');
  for (let i = line; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === '' || l.trimStart().startsWith('#')) continue;
    return indent(l) > base ? { line: i + 1, col: indent(l) + 1 } : undefined;
  }
  return undefined;
}

/** Parses one file's text into its documents; YAML syntax errors make the file broken. */
export function parseManifestText(file: string, text: string): { docs: ManifestDoc[]; problems: Problem[]; broken: boolean } {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  const docs: ManifestDoc[] = [];
  const list = Array.isArray(documents) ? documents : [];
  const posOf = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  let broken = !Array.isArray(documents);
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      broken = true;
      const said = new Set<number>();
      for (const e of doc.errors) {
        // The parser may find two things wrong at one place (a key indented too deep): one problem.
        if (said.has(e.pos[0])) continue;
        said.add(e.pos[0]);
        // An error found at the end of the file (a flow map never closed) is about its last line, not the one after.
        const p = posOf(Math.min(e.pos[0], Math.max(0, text.trimEnd().length - 1)));
        const deeper = e.code === 'MULTILINE_IMPLICIT_KEY' || e.code === 'BLOCK_AS_IMPLICIT_KEY' ? indentedDeeper(text, p.line) : undefined;
        problems.push(deeper
          ? { file, line: deeper.line, col: deeper.col, message: `YAML syntax: this line is indented deeper than line ${p.line}, so it reads as the rest of that line's value: indent it as line ${p.line} is` }
          : { ...p, message: `YAML syntax: ${firstLine(e.message)}: fix the YAML at this line` });
      }
      return;
    }
    // An empty document (a `---` at the end, or two in a row) holds no app. The
    // parser gives it a null scalar with no source text, not null contents.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && !doc.contents.source)) return;
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    const appNode = isMap(doc.contents) ? doc.contents.get('app', true) : undefined;
    const appName = isScalar(appNode) && typeof appNode.value === 'string' ? appNode.value : undefined;
    const range = doc.contents.range;
    const generation = textSha(text.slice(range[0], range[2])).slice(0, 12);
    docs.push({ file, index, value, appName, generation, start: posOf(range[0]), locate: (p, key) => locate(doc, p, key, posOf) });
  });
  return { docs, problems, broken };
}

function locate(doc: Document, segments: (string | number)[], key: boolean | undefined, posOf: (o: number) => Position): Position {
  // Walk down as far as the path exists, so a missing field points at its parent.
  let node: YamlNode | null | undefined = doc.contents as YamlNode;
  let keyNode: YamlNode | undefined;
  for (const seg of segments) {
    if (!node || !('get' in node)) break;
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as YamlNode;
      node = pair.value as YamlNode | null;
    } else {
      const next = (node as { get(k: unknown, keep: true): unknown }).get(seg, true) as YamlNode | undefined;
      if (!next) break;
      keyNode = undefined;
      node = next;
    }
  }
  const target = key && keyNode ? keyNode : node ?? keyNode;
  const offset = target?.range?.[0] ?? 0;
  return posOf(offset);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
