import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually, httpGet } from './world.js';

const run = promisify(execFile);

/** A private Apache instance on a loopback port. It never touches the system Apache's config. */
export interface PrivateApache {
  port: number;
  conf: string;
  /** The --apachectl value for hdactl: `apache2 -f <conf>`. */
  apachectl: string;
  /** The parent process's pid file. */
  pidFile: string;
  stop(): Promise<void>;
}

/** A free loopback port, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Polls until Apache answers for `host` exactly as for a name no vhost claims
 * (the default site), and returns that answer. Both names are asked in the
 * same poll: a graceful restart resets a few connections, so one request
 * alone proves nothing.
 */
export async function answersAsUnknown(port: number, host: string): Promise<{ status: number; body: string }> {
  return eventually(async () => {
    const [mine, unknown] = await Promise.all([httpGet(port, host), httpGet(port, 'nobody.invalid')]);
    if (mine && unknown && mine.status === unknown.status && mine.body === unknown.body) return mine;
    throw new Error(`${host} got ${mine?.status ?? 'no answer'}, nobody.invalid got ${unknown?.status ?? 'no answer'}`);
  });
}

/** Stops the Apache whose parent's pid is in `pidFile` (SIGTERM), and waits until it is gone. */
export async function stopApache(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  await eventually(async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 15_000);
}

const APACHE_UP = new URL('../../scripts/apache-up.sh', import.meta.url).pathname;

/**
 * Starts Debian's apache2 through scripts/apache-up.sh (the one place that
 * writes a private instance's config: Listen on 127.0.0.1:<port>, mod_proxy
 * and mod_proxy_http, IncludeOptional of the vhost directory, and a default
 * vhost that answers names no app claims with 403). Waits until it answers.
 */
export async function startApache(vhostDir: string): Promise<PrivateApache> {
  const port = await freePort();
  const root = await mkdtemp(path.join(tmpdir(), 'hdactl-apache-'));
  const conf = path.join(root, 'httpd.conf');
  await run('bash', [APACHE_UP, root, vhostDir, String(port)]);
  await eventually(() => httpGet(port, 'nobody.invalid'), 15_000);
  return {
    port,
    conf,
    apachectl: `/usr/sbin/apache2 -f ${conf}`,
    pidFile: path.join(root, 'httpd.pid'),
    async stop() {
      await stopApache(path.join(root, 'httpd.pid'));
      await rm(root, { recursive: true, force: true });
    },
  };
}
