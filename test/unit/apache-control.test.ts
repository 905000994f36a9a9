import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApacheControl, defaultApachectl } from '../../src/adapters/apache/control.js';

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
