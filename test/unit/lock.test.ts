import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, processIdentity } from '../../src/loop/lock.js';

/**
 * Starts `count` processes that, once all are ready, each try to take the
 * lock in `dir` at the same moment; the one that takes it holds it until all
 * have answered. Resolves with what each printed: took, or the error's name.
 */
async function contenders(dir: string, count: number): Promise<string[]> {
  const script = path.join(dir, 'contender.mjs');
  await build({ entryPoints: [path.resolve('src/loop/lock.ts')], bundle: true, platform: 'node', format: 'esm', outfile: path.join(dir, 'lock.mjs'), logLevel: 'silent' });
  await writeFile(
    script,
    `import { acquireLock } from './lock.mjs';
import { once } from 'node:events';
process.stdin.setEncoding('utf8');
console.log('ready');
await once(process.stdin, 'data'); // go
try { await acquireLock(process.argv[2], 'apply'); console.log('took'); }
catch (err) { console.log(err.name); }
await once(process.stdin, 'end'); // every contender has answered
`,
  );
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [script, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const waiters: Array<[number, () => void]> = [];
    child.stdout.on('data', (d: Buffer) => {
      lines.push(...d.toString().split('\n').filter(Boolean));
      for (const [n, resolve] of waiters) if (lines.length >= n) resolve();
    });
    const said = (n: number) => new Promise<void>((resolve) => waiters.push([n, resolve]));
    return { child, lines, ready: said(1), answered: said(2) };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.child.stdin.write('go\n');
  await Promise.all(children.map((c) => c.answered));
  for (const c of children) c.child.stdin.end();
  await Promise.all(children.map((c) => (c.child.exitCode === null ? once(c.child, 'exit') : undefined)));
  return children.map((c) => c.lines[1]!);
}

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

  it('a stale lock that several processes find at once is taken by one of them', async () => {
    // After a crash, systemd's restart of the daemon and an apply (or two) may find the dead lock together.
    for (let round = 0; round < 5; round++) {
      await writeFile(file, '1\n00000000-0000-0000-0000-000000000000 4242\nrun\n');
      const said = await contenders(dir, 8);
      expect(said.filter((s) => s === 'took'), said.join(' ')).toHaveLength(1);
      expect(said.filter((s) => s === 'LockHeld')).toHaveLength(7);
      await rm(file, { force: true });
    }
  }, 30_000);
});
