import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
 * Starts Debian's apache2 with a minimal config of its own: Listen on
 * 127.0.0.1:<port>, mod_proxy and mod_proxy_http, and IncludeOptional of the
 * given vhost directory. Waits until it answers.
 */
export async function startApache(vhostDir: string): Promise<PrivateApache> {
  const port = await freePort();
  const root = await mkdtemp(path.join(tmpdir(), 'hdactl-apache-'));
  const mods = '/usr/lib/apache2/modules';
  const conf = path.join(root, 'httpd.conf');
  await mkdir(path.join(root, 'empty'));
  await writeFile(conf, [
    `ServerRoot ${root}`,
    `PidFile ${root}/httpd.pid`,
    `ErrorLog ${root}/error.log`,
    'LogLevel warn',
    `Listen 127.0.0.1:${port}`,
    'ServerName 127.0.0.1',
    `LoadModule mpm_event_module ${mods}/mod_mpm_event.so`,
    `LoadModule authz_core_module ${mods}/mod_authz_core.so`,
    `LoadModule setenvif_module ${mods}/mod_setenvif.so`,
    `LoadModule proxy_module ${mods}/mod_proxy.so`,
    `LoadModule proxy_http_module ${mods}/mod_proxy_http.so`,
    'User www-data',
    'Group www-data',
    'LogFormat "%h %l %u %t \\"%r\\" %>s %b" combined',
    // Requests for unknown names land here rather than on the first app: an empty
    // DocumentRoot, so 403 for / (no index, no autoindex) and 404 for any other path.
    `<VirtualHost *:${port}>`,
    '  ServerName default.invalid',
    `  DocumentRoot ${root}/empty`,
    '</VirtualHost>',
    `IncludeOptional ${vhostDir}/*.conf`,
    '',
  ].join('\n'));
  const env = { ...process.env, APACHE_RUN_DIR: root, APACHE_LOCK_DIR: root, APACHE_LOG_DIR: root };
  await run('/usr/sbin/apache2', ['-f', conf, '-t'], { env });
  const child = spawn('/usr/sbin/apache2', ['-f', conf, '-k', 'start'], { env, stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  await eventually(() => httpGet(port, 'nobody.invalid'), 15_000);
  return {
    port,
    conf,
    apachectl: `/usr/sbin/apache2 -f ${conf}`,
    async stop() {
      const pid = Number((await readFile(path.join(root, 'httpd.pid'), 'utf8').catch(() => '')).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
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
      await rm(root, { recursive: true, force: true });
    },
  };
}
