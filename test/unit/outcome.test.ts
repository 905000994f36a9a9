import { mkdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/adapters/docker/errors.js';
import { HostError, isTransient } from '../../src/apply/outcome.js';

describe('which failures the daemon retries', () => {
  it('the host\'s own errors are retried: a disk full, a path under a file, a symlink to a disk not mounted yet', async () => {
    const underFile = await mkdir('/dev/null/x').catch((e: unknown) => e);
    expect((underFile as NodeJS.ErrnoException).code).toBe('ENOTDIR');
    expect(isTransient(underFile)).toBe(true);
    const full = await writeFile('/dev/full', 'x').catch((e: unknown) => e);
    expect((full as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(isTransient(full)).toBe(true);
    expect(isTransient(new HostError('a symlink to a disk not mounted yet'))).toBe(true);
  });

  it('the Engine says which of its errors are worth retrying; anything else waits for the manifest', () => {
    expect(isTransient(new EngineError('cannot reach the Docker Engine', true))).toBe(true);
    expect(isTransient(new EngineError('create container: invalid mount config', false, 400))).toBe(false);
    expect(isTransient(new Error('memory limit is below the Engine\'s minimum'))).toBe(false);
  });
});
