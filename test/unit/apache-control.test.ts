import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApacheControl, defaultApachectl, defaultVhosts } from '../../src/adapters/apache/control.js';

describe('the default --apachectl', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('is apachectl when an executable apachectl is on PATH', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hdactl-path-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'apachectl'), '#!/bin/sh\n');
    await chmod(path.join(dir, 'apachectl'), 0o755);
    expect(defaultApachectl(`/nonexistent::${dir}`)).toBe('apachectl');
  });

  it('is none when PATH has no apachectl, or only one that cannot run', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hdactl-path-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'apachectl'), 'not executable\n');
    expect(defaultApachectl(`/nonexistent:${dir}`)).toBe('none');
    expect(defaultApachectl('')).toBe('none');
  });

  it('none writes files only: nothing is run, the configtest counts as passed', async () => {
    const none = new ApacheControl('none');
    expect(none.enabled).toBe(false);
    expect(await none.configtest()).toEqual({ ok: true, output: '' });
  });
});

describe('ApacheControl reload', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  /**
   * A fake apachectl that logs its arguments: `-t` passes (or fails) and
   * reports PidFile as Apache's DUMP_RUN_CFG does; `-k graceful` does nothing.
   */
  async function fake(opts: { testFails?: boolean } = {}) {
    const dir = await mkdtemp(path.join(tmpdir(), 'hdactl-ctl-'));
    dirs.push(dir);
    const log = path.join(dir, 'calls.log');
    const pidFile = path.join(dir, 'httpd.pid');
    const script = path.join(dir, 'apachectl');
    await writeFile(script, [
      '#!/bin/sh',
      `echo "$*" >> ${log}`,
      `if [ "$1" = -t ]; then ${opts.testFails ? `echo 'AH00526: Syntax error on line 1' >&2; exit 1` : `echo 'PidFile: "${pidFile}"'`}; fi`,
      'exit 0',
      '',
    ].join('\n'));
    await chmod(script, 0o755);
    const calls = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
    return { dir, pidFile, ctl: new ApacheControl(script), calls };
  }

  /** A long-running process named `name` (its /proc comm), with its pid written to `pidFile`. */
  async function processNamed(dir: string, name: string, pidFile: string) {
    const bin = path.join(dir, name);
    await copyFile('/bin/sleep', bin);
    await chmod(bin, 0o755);
    const child = spawn(bin, ['300'], { stdio: 'ignore' });
    children.push(child);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await writeFile(pidFile, `${child.pid}\n`);
    return { child, exited };
  }

  it('after a passing configtest, sends the graceful signal to the Apache its PidFile names: no second apachectl runs', async () => {
    const { dir, pidFile, ctl, calls } = await fake();
    const apache = await processNamed(dir, 'apache2', pidFile);
    expect(await ctl.configtest()).toMatchObject({ ok: true });
    await ctl.reload();
    expect(await calls()).toEqual(['-t -D DUMP_RUN_CFG -D DUMP_VHOSTS']);
    // sleep has no SIGUSR1 handler, so the signal ends it: that is how we see it arrived.
    expect(await apache.exited).toBe('SIGUSR1');
  });

  it('never signals a pid file\'s process that is not Apache (a stale pid reused): runs `-k graceful` instead', async () => {
    const { dir, pidFile, ctl, calls } = await fake();
    const other = await processNamed(dir, 'backup-job', pidFile);
    expect(await ctl.configtest()).toMatchObject({ ok: true });
    await ctl.reload();
    expect(await calls()).toEqual(['-t -D DUMP_RUN_CFG -D DUMP_VHOSTS', '-k graceful']);
    expect(other.child.exitCode).toBeNull();
    expect(other.child.signalCode).toBeNull();
    other.child.kill('SIGTERM');
    expect(await other.exited).toBe('SIGTERM');
  });

  it('signals only right after a passing configtest: after a failed one, or a second time, it runs `-k graceful`', async () => {
    const failing = await fake({ testFails: true });
    const apache = await processNamed(failing.dir, 'apache2', failing.pidFile);
    expect(await failing.ctl.configtest()).toMatchObject({ ok: false, output: expect.stringContaining('Syntax error') });
    await failing.ctl.reload();
    expect(await failing.calls()).toEqual(['-t -D DUMP_RUN_CFG -D DUMP_VHOSTS', '-k graceful']);

    const passing = await fake();
    await writeFile(passing.pidFile, `${apache.child.pid}\n`);
    await passing.ctl.configtest();
    await passing.ctl.reload();
    expect(await passing.calls()).toEqual(['-t -D DUMP_RUN_CFG -D DUMP_VHOSTS']);
    expect(await apache.exited).toBe('SIGUSR1');
    await passing.ctl.reload();
    expect(await passing.calls()).toEqual(['-t -D DUMP_RUN_CFG -D DUMP_VHOSTS', '-k graceful']);
  });
});

describe('each address\'s default vhost, from Apache\'s -D DUMP_VHOSTS', () => {
  it('is the default server of a name-based address, or the only vhost of an address', () => {
    // As apache2 2.4 prints it, with the run-time settings of DUMP_RUN_CFG around it.
    const dump = [
      'VirtualHost configuration:',
      '*:8555                 is a NameVirtualHost',
      '         default server default.invalid (/srv/apache/httpd.conf:18)',
      '         port 8555 namevhost default.invalid (/srv/apache/httpd.conf:18)',
      '         port 8555 namevhost photos.hda.local (/srv/vhosts/photos.conf:4)',
      '                 alias photos.example.org',
      '127.0.0.1:8777         aaa.hda.local (/srv/vhosts/aaa.conf:1)',
      'ServerRoot: "/srv/apache"',
      'Main DocumentRoot: "/srv/apache/htdocs"',
      'PidFile: "/srv/apache/httpd.pid"',
      'Define: DUMP_VHOSTS',
      'Syntax OK',
    ].join('\n');
    expect(defaultVhosts(dump)).toEqual([
      { address: '*:8555', name: 'default.invalid', file: '/srv/apache/httpd.conf' },
      { address: '127.0.0.1:8777', name: 'aaa.hda.local', file: '/srv/vhosts/aaa.conf' },
    ]);
  });

  it('is none when Apache printed no vhosts (a fake apachectl, or no vhost at all)', () => {
    expect(defaultVhosts('PidFile: "/run/apache2/apache2.pid"\nSyntax OK\n')).toEqual([]);
  });
});
