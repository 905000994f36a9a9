import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadManifestDir } from '../../src/manifest/load.js';
import { checkSchema } from '../../src/manifest/validate.js';

// Each cache file path gets its own in-memory cache in a process, so a run
// that reads a copy of a cache file sees only what is on disk, as the next
// `hdactl plan` would.
describe('the parse cache between runs (<stateDir>/manifest-cache.json)', () => {
  let dir: string;
  let manifests: string;
  let n = 0;
  const nextCache = () => path.join(dir, `cache-${++n}.json`);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hdactl-cache-'));
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs "the next process": loads with a fresh copy of `from`. */
  async function nextRun(from: string) {
    const to = nextCache();
    await copyFile(from, to);
    return { loaded: await loadManifestDir(manifests, to), cache: to };
  }

  it('the next run takes an unchanged file from the cache, with the same documents and positions', async () => {
    await writeFile(path.join(manifests, 'web.yaml'), '# two apps\napp: one\nkind: container-custom\nimage: busybox\n---\napp: two\nkind: container-custom\nimage: busybox\n');
    const cache = nextCache();
    const first = await loadManifestDir(manifests, cache);
    expect(first.docs.map((d) => d.start.line)).toEqual([2, 6]);

    // Proof that the second run read the cache, not the file: a value changed in the cache shows up.
    const stored = JSON.parse(await readFile(cache, 'utf8')) as { files: Record<string, { docs: Array<{ value: { image: string } }> }> };
    stored.files[path.join(manifests, 'web.yaml')]!.docs[1]!.value.image = 'from-the-cache';
    await writeFile(cache, JSON.stringify(stored));
    const { loaded } = await nextRun(cache);
    expect(loaded.docs.map((d) => [d.appName, (d.value as { image: string }).image, d.start.line, d.generation]))
      .toEqual([['one', 'busybox', 2, first.docs[0]!.generation], ['two', 'from-the-cache', 6, first.docs[1]!.generation]]);
  });

  it('a file whose text changed is parsed again, not taken from the cache', async () => {
    const file = path.join(manifests, 'web.yaml');
    await writeFile(file, 'app: one\nkind: container-custom\nimage: busybox:1\n');
    const cache = nextCache();
    await loadManifestDir(manifests, cache);
    await writeFile(file, 'app: one\nkind: container-custom\nimage: busybox:2\n');
    const { loaded } = await nextRun(cache);
    expect((loaded.docs[0]!.value as { image: string }).image).toBe('busybox:2');
  });

  it('a schema error in a cached document is still reported at its line and column', async () => {
    await writeFile(path.join(manifests, 'bad.yaml'), 'app: bad\nkind: container-custom\nimage: busybox\nweb: eighty\n');
    const cache = nextCache();
    const first = await loadManifestDir(manifests, cache);
    const { loaded } = await nextRun(cache);
    for (const l of [first, loaded]) {
      const { problems } = checkSchema(l.docs[0]!);
      expect(problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual(['4:6 web must be integer, not "eighty"']);
    }
  });

  it('a corrupt cache file is ignored and replaced; a file with YAML errors is never cached', async () => {
    await writeFile(path.join(manifests, 'ok.yaml'), 'app: ok\nkind: container-custom\nimage: busybox\n');
    await writeFile(path.join(manifests, 'broken.yaml'), 'app: [unclosed\n');
    const cache = nextCache();
    await writeFile(cache, '{"format": "hdactl-manifest-cache/1 yaml/2", "files": {');
    const loaded = await loadManifestDir(manifests, cache);
    expect(loaded.docs.map((d) => d.appName)).toEqual(['ok']);
    expect([...loaded.brokenFiles]).toEqual([path.join(manifests, 'broken.yaml')]);
    const stored = JSON.parse(await readFile(cache, 'utf8')) as { files: Record<string, unknown> };
    expect(Object.keys(stored.files)).toEqual([path.join(manifests, 'ok.yaml')]);

    const { loaded: again } = await nextRun(cache);
    expect(again.problems.map((p) => `${path.basename(p.file)}:${p.line}`)).toEqual(loaded.problems.map((p) => `${path.basename(p.file)}:${p.line}`));
    expect([...again.brokenFiles]).toEqual([path.join(manifests, 'broken.yaml')]);
  });

  it('a removed file leaves the cache, and an unwritable cache location only costs speed', async () => {
    await writeFile(path.join(manifests, 'a.yaml'), 'app: aa\nkind: container-custom\nimage: busybox\n');
    await writeFile(path.join(manifests, 'b.yaml'), 'app: bb\nkind: container-custom\nimage: busybox\n');
    const cache = nextCache();
    await loadManifestDir(manifests, cache);
    await rm(path.join(manifests, 'b.yaml'));
    await loadManifestDir(manifests, cache);
    const stored = JSON.parse(await readFile(cache, 'utf8')) as { files: Record<string, unknown> };
    expect(Object.keys(stored.files)).toEqual([path.join(manifests, 'a.yaml')]);

    // The cache's directory is a file: nothing can be written there.
    const blocked = path.join(dir, 'a-file', 'cache.json');
    await writeFile(path.join(dir, 'a-file'), '');
    const loaded = await loadManifestDir(manifests, blocked);
    expect(loaded.docs.map((d) => d.appName)).toEqual(['aa']);
  });
});
