import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFile } from '../../src/adapters/host/files.js';
import { StateStore } from '../../src/adapters/state/store.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hdactl-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the state file (<stateDir>/state.json)', () => {
  it('keeps every one of many updates made at once, and leaves no temp file', async () => {
    const store = new StateStore(path.join(dir, 'state'));
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.update((s) => {
      s.apps[`app${i}`] = { id: i + 1 };
    })));
    const onDisk = JSON.parse(await readFile(store.file, 'utf8'));
    expect(Object.keys(onDisk.apps)).toHaveLength(50);
    expect(onDisk.apps.app49).toEqual({ id: 50 });
    expect(await readdir(store.dir)).toEqual(['state.json']);
  });

  it('resolves an update only once the change can be read back', async () => {
    const store = new StateStore(dir);
    await store.update((s) => {
      s.apps.hydra = { id: 7, generation: 'g1' };
    });
    expect((await new StateStore(dir).read()).apps.hydra).toEqual({ id: 7, generation: 'g1' });
  });

  it('fails the updates of a batch whose change throws, and goes on with the next', async () => {
    const store = new StateStore(dir);
    await expect(store.update(() => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    await store.update((s) => {
      s.apps.hydra = { id: 1 };
    });
    expect((await store.read()).apps).toEqual({ hydra: { id: 1 } });
  });

  it('names the file and the fix when the state file is unreadable, and keeps it', async () => {
    const store = new StateStore(dir);
    await writeFile(store.file, '{"apps": {"hydra": ');
    await expect(store.read()).rejects.toThrow(`cannot read the state file ${store.file}`);
    await expect(store.update(() => undefined)).rejects.toThrow('fix or move it');
    expect(await readFile(store.file, 'utf8')).toBe('{"apps": {"hydra": ');
  });
});

describe('replaceFile', () => {
  it('replaces the content and leaves no temp file', async () => {
    const file = path.join(dir, 'a.conf');
    await writeFile(file, 'old');
    await replaceFile(file, 'new', path.join(dir, 'a.tmp'));
    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['a.conf']);
  });

  it('leaves the old file whole when the new content cannot be written', async () => {
    const file = path.join(dir, 'a.conf');
    await writeFile(file, 'old');
    await expect(replaceFile(file, 'new', path.join(dir, 'missing', 'a.tmp'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(file, 'utf8')).toBe('old');
  });
});
