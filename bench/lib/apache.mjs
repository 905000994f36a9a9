// A private Apache on a loopback port, as in test/support/apache.ts: its own
// minimal config (written by scripts/apache-up.sh) that includes one vhost directory. It never touches the
// system Apache's config.
import { mkdir, readFile } from 'node:fs/promises';
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

const APACHE_UP = new URL('../../scripts/apache-up.sh', import.meta.url).pathname;

/**
 * Starts apache2 under `root` through scripts/apache-up.sh (mod_proxy,
 * listening on 127.0.0.1:<free port>, including `vhostDir/*.conf`); resolves
 * once it answers. Returns { port, conf, apachectl, stop() }; stop() is also
 * run at cleanup.
 */
export async function startApache(root, vhostDir) {
  const port = await freePort();
  await mkdir(vhostDir, { recursive: true });
  trackDir(root);
  const conf = path.join(root, 'httpd.conf');
  const stop = async () => {
    const pid = Number((await readFile(path.join(root, 'httpd.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0) await stopPid(pid, 15_000);
  };
  trackHook(stop);
  await runOk('bash', [APACHE_UP, root, vhostDir, String(port)]);
  await waitFor('the private Apache to answer', () => httpGet(port, 'nobody.invalid'), 15_000);
  return { port, conf, apachectl: `/usr/sbin/apache2 -f ${conf}`, stop };
}
