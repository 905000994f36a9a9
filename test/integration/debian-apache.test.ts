import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { debianApache, startDebianApache, type DebianApache } from '../support/debian-apache.js';
import { pageWith } from '../support/engine.js';
import { createWorld, eventually, httpGet, webApp, type World } from '../support/world.js';

/** The title of the page Debian's default site serves. */
const DEBIAN_PAGE = 'Apache2 Debian Default Page';

describe("hdactl wired into Debian's Apache layout", () => {
  let w: World | undefined;
  let apache: DebianApache | undefined;
  afterEach(async () => {
    await apache?.stop();
    await w?.cleanup();
    apache = undefined;
    w = undefined;
  });

  /**
   * A world with two web apps, and a copy of /etc/apache2 with the proxy
   * modules enabled and hdactl's snippet saved in `dir` and enabled with
   * `enable`, started; then `hdactl apply` with Debian's apachectl.
   */
  async function applyWired(dir: 'sites-available' | 'conf-available', enable: 'a2ensite' | 'a2enconf') {
    w = await createWorld();
    apache = await debianApache();
    await mkdir(w.vhostDir, { recursive: true });
    await apache.tool('a2enmod', ['-q', 'proxy', 'proxy_http']);
    const snippet = await w.hdactl(['apache-config']);
    expect(snippet.code).toBe(0);
    await writeFile(path.join(apache.confdir, dir, 'hdactl.conf'), snippet.stdout);
    await apache.tool(enable, ['-q', 'hdactl']);
    await startDebianApache(apache);
    // The default --apachectl is apachectl: Debian's, pointed at the copy by APACHE_CONFDIR.
    w.flags[w.flags.lastIndexOf('--apachectl') + 1] = 'apachectl';
    w.flags.push('--vhost-port', String(apache.port));
    const apps = [`${w.prefix}alpha`, `${w.prefix}beta`];
    for (const app of apps) await w.writeManifest(`${app}.yaml`, webApp(app, `hello from ${app}`));
    const r = await w.hdactl(['apply'], { env: apache.env });
    return { w, apache, apps, r };
  }

  it('as the snippet says (a site after the default one), each app answers at its name and unknown names still get the default site', async () => {
    const { apache, apps, r } = await applyWired('sites-available', 'a2ensite');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const app of apps) await pageWith(apache.port, `hello from ${app}`, `${app}.hda.test`);
    for (const host of ['nothere.hda.test', undefined]) {
      const page = await eventually(() => httpGet(apache.port, host));
      expect(page.status).toBe(200);
      expect(page.body).toContain(DEBIAN_PAGE);
    }
  });

  it('enabled as a conf, which Debian loads before the sites, the first app would answer every unknown name: apply says so and how to fix it', async () => {
    const { w, apache, apps, r } = await applyWired('conf-available', 'a2enconf');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`with app ${apps[0]} (${path.join(w.vhostDir, `${apps[0]}.conf`)})`);
    expect(r.stderr).toContain('a2ensite hdactl');
    // What the warning is about: a name no vhost claims reaches the first app, not the default site.
    const page = await eventually(async () => {
      const p = await httpGet(apache.port, 'nothere.hda.test');
      return p?.body.includes(`hello from ${apps[0]}`) ? p : undefined;
    });
    expect(page.body).not.toContain(DEBIAN_PAGE);
  });
});
