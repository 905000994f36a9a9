import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { escapesDir } from '../../src/apply/volumes.js';

describe("a relative volume source, checked on the disk against the app's data directory", () => {
  let dir: string;
  let appDir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hdactl-volumes-'));
    appDir = path.join(dir, 'data', 'app');
    await mkdir(appDir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stays inside when it does not exist yet, or is a plain directory', async () => {
    expect(await escapesDir(path.join(appDir, 'config', 'sub'), appDir)).toBeUndefined();
    await mkdir(path.join(appDir, 'config'));
    expect(await escapesDir(path.join(appDir, 'config'), appDir)).toBeUndefined();
  });

  it('stays inside through a symlink to another directory of the app', async () => {
    await mkdir(path.join(appDir, 'real'));
    await symlink(path.join(appDir, 'real'), path.join(appDir, 'config'));
    expect(await escapesDir(path.join(appDir, 'config', 'x'), appDir)).toBeUndefined();
  });

  it("stays inside when the app's data directory itself is a symlink to another disk", async () => {
    const disk = path.join(dir, 'disk', 'app');
    await mkdir(disk, { recursive: true });
    const linked = path.join(dir, 'linked');
    await symlink(disk, linked);
    expect(await escapesDir(path.join(linked, 'config'), linked)).toBeUndefined();
  });

  it('leads out through a symlink to a directory elsewhere, and says where', async () => {
    await symlink('/etc', path.join(appDir, 'config'));
    expect(await escapesDir(path.join(appDir, 'config', 'ssh'), appDir)).toBe(`leads through a symlink to /etc/ssh, outside the app's data directory ${appDir}: replace the symlink with a directory, or mount the target by its own absolute path (allowed in hdactl.yaml's volumePolicy)`);
  });

  it('names a symlink to nothing on the way, since creating the rest would follow it', async () => {
    await symlink(path.join(dir, 'nowhere'), path.join(appDir, 'config'));
    expect(await escapesDir(path.join(appDir, 'config', 'sub'), appDir)).toBe(`leads through ${path.join(appDir, 'config')} -> ${path.join(dir, 'nowhere')}, a symlink to a path that does not exist: replace it with a directory, or create its target`);
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });
});
