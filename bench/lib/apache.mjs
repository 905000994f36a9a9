// A private Apache on a loopback port, as in test/support/apache.ts: its own
// minimal config that includes one vhost directory. It never touches the
// system Apache's config.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { stopPid, trackDir, trackHook } from './cleanup.mjs';
import { httpGet, runOk, waitFor } from './util.mjs';

/** A free loopback port, chosen by the kernel. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

/**
 * Starts apache2 under `root` with mod_proxy, listening on 127.0.0.1:<free
 * port> and including `vhostDir/*.conf`; resolves once it answers.
 * Returns { port, conf, apachectl, stop() }; stop() is also run at cleanup.
 */
export async function startApache(root, vhostDir) {
  const port = await freePort();
  await mkdir(path.join(root, 'empty'), { recursive: true });
  await mkdir(vhostDir, { recursive: true });
  trackDir(root);
  const mods = '/usr/lib/apache2/modules';
  const conf = path.join(root, 'httpd.conf');
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
    // Unknown names land here: a plain 404 rather than the first app.
    `<VirtualHost *:${port}>`,
    '  ServerName default.invalid',
    `  DocumentRoot ${root}/empty`,
    '</VirtualHost>',
    `IncludeOptional ${vhostDir}/*.conf`,
    '',
  ].join('\n'));
  const env = { ...process.env, APACHE_RUN_DIR: root, APACHE_LOCK_DIR: root, APACHE_LOG_DIR: root };
  await runOk('/usr/sbin/apache2', ['-f', conf, '-t'], { env });
  const child = spawn('/usr/sbin/apache2', ['-f', conf, '-k', 'start'], { env, stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  const stop = async () => {
    const pid = Number((await readFile(path.join(root, 'httpd.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0) await stopPid(pid, 15_000);
  };
  trackHook(stop);
  await waitFor('the private Apache to answer', () => httpGet(port, 'nobody.invalid'), 15_000);
  return { port, conf, apachectl: `/usr/sbin/apache2 -f ${conf}`, stop };
}
