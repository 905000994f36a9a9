import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { startApache, type PrivateApache } from '../support/apache.js';
import { createWorld, eventually, httpGet, type World } from '../support/world.js';
import { TEST_IMAGE } from '../support/global-setup.js';

describe('a web app applied from a manifest', () => {
  let w: World;
  let apache: PrivateApache;
  beforeAll(async () => {
    w = await createWorld();
    await mkdir(w.vhostDir, { recursive: true });
    apache = await startApache(w.vhostDir);
    w.flags.push('--apachectl', apache.apachectl, '--vhost-port', String(apache.port));
  });
  afterAll(async () => {
    await apache?.stop();
    await w?.cleanup();
  });

  it('answers on its host port and through Apache at <hostname>.<domain>', async () => {
    const app = `${w.prefix}demo`;
    await w.writeManifest('demo.yaml', `app: ${app}\nkind: container-custom\nimage: ${TEST_IMAGE}\nweb: 80\nenv: { MESSAGE: smoke-ok }\n`);
    const r = await w.hdactl(['apply']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`${app} created`);
    expect(r.code).toBe(0);
    const direct = await eventually(() => httpGet(w.portBase + 1));
    expect(direct.body).toContain('smoke-ok');
    const proxied = await eventually(async () => {
      const res = await httpGet(apache.port, `${app}.hda.test`);
      return res?.status === 200 ? res : undefined;
    });
    expect(proxied.body).toContain('smoke-ok');
  });
});
