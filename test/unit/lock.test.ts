import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, processIdentity } from '../../src/loop/lock.js';

describe('the state dir lock of hdactl run', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hdactl-lock-'));
    file = path.join(dir, 'hdactl.lock');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds our pid and identity, and is gone once released', async () => {
    const lock = await acquireLock(dir);
    expect(await readFile(file, 'utf8')).toBe(`${process.pid}\n${processIdentity(process.pid)}\nrun\n`);
    expect(processIdentity(process.pid)).toMatch(/^[0-9a-f-]{36} \d+$/);
    await lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it('a lock held by a running process is refused, naming its pid', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      await once(holder, 'spawn');
      await writeFile(file, `${holder.pid}\n${processIdentity(holder.pid!)}\n`);
      await expect(acquireLock(dir)).rejects.toThrow(`another hdactl run (pid ${holder.pid}) is working on ${dir}`);
    } finally {
      holder.kill();
    }
  });

  it('apply is refused beside a running daemon, and the daemon beside a running apply, each told what to do', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      await once(holder, 'spawn');
      await writeFile(file, `${holder.pid}\n${processIdentity(holder.pid!)}\nrun\n`);
      await expect(acquireLock(dir, 'apply')).rejects.toThrow(`hdactl run (pid ${holder.pid}) manages ${dir} and applies every manifest change itself: see hdactl status, or stop it to apply by hand`);
      await writeFile(file, `${holder.pid}\n${processIdentity(holder.pid!)}\napply\n`);
      await expect(acquireLock(dir, 'run')).rejects.toThrow(`an hdactl apply (pid ${holder.pid}) is working on ${dir}: wait for it to finish, then start hdactl run`);
      await expect(acquireLock(dir, 'apply')).rejects.toThrow(`an hdactl apply (pid ${holder.pid}) is working on ${dir}: wait for it to finish, then apply again`);
    } finally {
      holder.kill();
    }
    // Its holder gone, the lock is ours.
    await once(holder, 'exit');
    const lock = await acquireLock(dir, 'apply');
    expect((await readFile(file, 'utf8')).split('\n')[2]).toBe('apply');
    await lock.release();
  });

  it('a lock left by a power cut is taken over, although its pid now belongs to another program', async () => {
    // pid 1 runs, but it is not the process that wrote the lock: that one ran in an earlier boot.
    await writeFile(file, '1\n00000000-0000-0000-0000-000000000000 4242\n');
    const lock = await acquireLock(dir);
    expect((await readFile(file, 'utf8')).split('\n')[0]).toBe(String(process.pid));
    await lock.release();
  });

  it('a lock whose pid was given to a later process in the same boot is taken over', async () => {
    const [boot] = processIdentity(1)!.split(' ');
    await writeFile(file, `1\n${boot} 999999999\n`);
    const lock = await acquireLock(dir);
    await lock.release();
  });

  it('a lock whose process is gone is taken over', async () => {
    const gone = spawn('true');
    await once(gone, 'exit');
    await writeFile(file, `${gone.pid}\n${processIdentity(process.pid)}\n`);
    const lock = await acquireLock(dir);
    expect((await readFile(file, 'utf8')).split('\n')[0]).toBe(String(process.pid));
    await lock.release();
  });
});
