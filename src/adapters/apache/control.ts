import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Controls the web server that serves the vhosts. */
export interface WebServerControl {
  /** False for `--apachectl none`: files are written, nothing is reloaded. */
  readonly enabled: boolean;
  readonly command: string;
  /** Runs the configtest; resolves with ok and Apache's output. */
  configtest(): Promise<{ ok: boolean; output: string }>;
  /** A graceful reload: running requests finish on the old config. */
  reload(): Promise<void>;
}

/**
 * Apache through apachectl, or any command line that takes `-t` and `-k
 * graceful` (`apache2 -f /srv/hda/httpd.conf` for a private instance).
 */
export class ApacheControl implements WebServerControl {
  readonly enabled: boolean;
  private readonly argv: string[];

  constructor(readonly command: string) {
    this.argv = command.trim().split(/\s+/).filter(Boolean);
    this.enabled = this.argv.length > 0 && this.argv[0] !== 'none';
  }

  async configtest(): Promise<{ ok: boolean; output: string }> {
    if (!this.enabled) return { ok: true, output: '' };
    try {
      const r = await run(this.argv[0]!, [...this.argv.slice(1), '-t'], { timeout: 30_000 });
      return { ok: true, output: `${r.stdout}${r.stderr}`.trim() };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
    }
  }

  async reload(): Promise<void> {
    if (!this.enabled) return;
    try {
      await run(this.argv[0]!, [...this.argv.slice(1), '-k', 'graceful'], { timeout: 30_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`graceful reload with "${this.command} -k graceful" failed: ${(e.stderr ?? e.message).trim()}`);
    }
  }
}

/**
 * The default --apachectl: apachectl when it is on PATH, else none. Looked up
 * in PATH directly, which costs every command less than spawning a shell.
 */
export function defaultApachectl(pathEnv = process.env.PATH ?? ''): string {
  for (const dir of pathEnv.split(':')) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'apachectl'), constants.X_OK);
      return 'apachectl';
    } catch {
      // not in this directory
    }
  }
  return 'none';
}
