import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The vhost that answers, on one address, every request whose Host no vhost
 * names: the first one defined there. Read from Apache's `-D DUMP_VHOSTS`.
 */
export interface DefaultVhost {
  /** `*:80`, `127.0.0.1:8080`. */
  address: string;
  name: string;
  file: string;
}

/** What a configtest found. */
export interface ConfigtestResult {
  ok: boolean;
  /** Apache's output: on failure, what is wrong. */
  output: string;
  /** Each address's default vhost (for a passing test of a real Apache). */
  defaults?: DefaultVhost[];
}

/** Controls the web server that serves the vhosts. */
export interface WebServerControl {
  /** False for `--apachectl none`: files are written, nothing is reloaded. */
  readonly enabled: boolean;
  readonly command: string;
  /** Runs the configtest; resolves with ok and Apache's output. */
  configtest(): Promise<ConfigtestResult>;
  /**
   * A graceful reload: running requests finish on the old config. Call it
   * right after a configtest that passed, with the files left as tested.
   */
  reload(): Promise<void>;
}

/** Names a running Apache parent has in /proc/<pid>/comm. */
const APACHE_NAMES = new Set(['apache2', 'httpd']);

/**
 * Apache through apachectl, or any command line that takes `-t`, `-D` and `-k
 * graceful` (`apache2 -f /srv/hda/httpd.conf` for a private instance).
 *
 * A reload right after a passing configtest is Apache's graceful signal
 * (SIGUSR1) sent straight to the parent named by the PidFile the configtest
 * reported: `-k graceful` would start a second apache2 that parses every
 * vhost again only to send that same signal (60-130 ms with 200 apps). The
 * signal goes only to a live process named apache2 or httpd; otherwise, and
 * with no passing configtest just before, the reload runs `-k graceful`.
 */
export class ApacheControl implements WebServerControl {
  readonly enabled: boolean;
  private readonly argv: string[];
  /** The PidFile of the configtest that passed last, until the reload after it. */
  private testedPidFile: string | undefined;
  /** Counts configtests: only the latest one's result may be signalled on. */
  private tests = 0;

  constructor(readonly command: string) {
    this.argv = command.trim().split(/\s+/).filter(Boolean);
    this.enabled = this.argv.length > 0 && this.argv[0] !== 'none';
  }

  async configtest(): Promise<ConfigtestResult> {
    this.testedPidFile = undefined;
    const n = ++this.tests;
    if (!this.enabled) return { ok: true, output: '' };
    try {
      // The same test prints the run-time settings (PidFile among them) and the vhosts by address.
      const r = await run(this.argv[0]!, [...this.argv.slice(1), '-t', '-D', 'DUMP_RUN_CFG', '-D', 'DUMP_VHOSTS'], { timeout: 30_000 });
      const output = `${r.stdout}${r.stderr}`;
      if (n === this.tests) this.testedPidFile = /^PidFile: "(.+)"$/m.exec(output)?.[1];
      return { ok: true, output: output.trim(), defaults: defaultVhosts(output) };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
    }
  }

  async reload(): Promise<void> {
    if (!this.enabled) return;
    const pidFile = this.testedPidFile;
    this.testedPidFile = undefined;
    const pid = pidFile === undefined ? undefined : runningApache(pidFile);
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGUSR1');
        return;
      } catch {
        // gone meanwhile, or not ours to signal: apachectl decides
      }
    }
    try {
      await run(this.argv[0]!, [...this.argv.slice(1), '-k', 'graceful'], { timeout: 30_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`graceful reload with "${this.command} -k graceful" failed: ${(e.stderr ?? e.message).trim()}`);
    }
  }
}

/**
 * Each address's default vhost, from `-D DUMP_VHOSTS` output:
 *
 *     *:80                   is a NameVirtualHost
 *              default server www.example.org (/etc/apache2/sites-enabled/000-default.conf:1)
 *     127.0.0.1:8080         photos.hda.local (/etc/apache2/hdactl-vhosts/photos.conf:4)
 *
 * (the second form is an address with a single vhost).
 */
export function defaultVhosts(dump: string): DefaultVhost[] {
  const out: DefaultVhost[] = [];
  let address: string | undefined;
  for (const line of dump.split('\n')) {
    const named = /^(\S+)\s+is a NameVirtualHost$/.exec(line);
    if (named) {
      address = named[1];
      continue;
    }
    const dflt = /^\s+default server (\S+) \((.+):\d+\)$/.exec(line);
    if (dflt && address) {
      out.push({ address, name: dflt[1]!, file: dflt[2]! });
      address = undefined;
      continue;
    }
    const single = /^(\S+:\d+)\s+(\S+) \((.+):\d+\)$/.exec(line);
    if (single) out.push({ address: single[1]!, name: single[2]!, file: single[3]! });
  }
  return out;
}

/** The pid in `pidFile` when it is a live Apache (by /proc/<pid>/comm), else undefined. */
export function runningApache(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    return APACHE_NAMES.has(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()) ? pid : undefined;
  } catch {
    return undefined;
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
