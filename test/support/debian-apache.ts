import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopApache } from './apache.js';
import { eventually, httpGet } from './world.js';

const run = promisify(execFile);

/**
 * Debian's own Apache layout, as a user wires hdactl into it, run as a private
 * instance: a copy of /etc/apache2 (mods-, conf- and sites-available/-enabled,
 * the default site) driven by Debian's own a2enmod, a2ensite, a2enconf and
 * apachectl through APACHE_CONFDIR. Only the copy's ports, pid file and run,
 * lock and log directories differ. The system Apache's config is only read.
 */
export interface DebianApache {
  port: number;
  /** The copy of /etc/apache2. */
  confdir: string;
  /** The environment that points Debian's tools at the copy: pass it to hdactl too. */
  env: Record<string, string>;
  /** Runs a Debian tool (a2enmod, a2ensite, apachectl, ...) on the copy. */
  tool(name: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Copies /etc/apache2 into a temp dir, on a free loopback port; not started. */
export async function debianApache(): Promise<DebianApache> {
  const port = await freePort();
  const root = await mkdtemp(path.join(tmpdir(), 'hdactl-debian-apache-'));
  const confdir = path.join(root, 'apache2');
  await cp('/etc/apache2', confdir, { recursive: true, verbatimSymlinks: true });
  for (const d of ['run', 'lock', 'log', 'state']) await mkdir(path.join(root, d));
  await writeFile(path.join(confdir, 'ports.conf'), `Listen 127.0.0.1:${port}\n`);
  const site = path.join(confdir, 'sites-available/000-default.conf');
  await writeFile(site, (await readFile(site, 'utf8')).replaceAll('<VirtualHost *:80>', `<VirtualHost *:${port}>`));
  await writeFile(path.join(confdir, 'envvars'), [
    'export APACHE_RUN_USER=www-data',
    'export APACHE_RUN_GROUP=www-data',
    `export APACHE_PID_FILE=${root}/run/apache2.pid`,
    `export APACHE_RUN_DIR=${root}/run`,
    `export APACHE_LOCK_DIR=${root}/lock`,
    `export APACHE_LOG_DIR=${root}/log`,
    'export LANG=C',
    '',
  ].join('\n'));
  const env = {
    APACHE_CONFDIR: confdir,
    // a2enmod keeps what it enabled here (default /var/lib/apache2).
    APACHE_STATE_DIRECTORY: path.join(root, 'state'),
    // apachectl start would hand over to systemctl on a systemd host.
    APACHE_STARTED_BY_SYSTEMD: 'true',
  };
  const pidFile = path.join(root, 'run/apache2.pid');
  return {
    port,
    confdir,
    env,
    async tool(name, args) {
      return run(`/usr/sbin/${name}`, args, { env: { ...process.env, ...env }, timeout: 30_000 });
    },
    async stop() {
      await stopApache(pidFile);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Starts the copy with Debian's apachectl and waits until it answers. */
export async function startDebianApache(a: DebianApache): Promise<void> {
  await a.tool('apachectl', ['start']);
  await eventually(() => httpGet(a.port), 15_000);
}
