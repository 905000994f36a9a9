import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startApache, type PrivateApache } from '../support/apache.js';
import { printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { isGone } from '../support/engine.js';
import { createWorld, eventually, httpGet, webApp, type World } from '../support/world.js';

describe('hdactl run keeps containers and Apache vhosts matching the manifests directory', () => {
  printDaemonLogsOnFailure();
  let w: World;
  let apache: PrivateApache;
  let d: Daemon;
  beforeAll(async () => {
    w = await createWorld();
    await mkdir(w.vhostDir, { recursive: true });
    apache = await startApache(w.vhostDir);
    d = await startDaemon(w, { extraFlags: ['--apachectl', apache.apachectl, '--vhost-port', String(apache.port)] });
  });
  afterAll(async () => {
    await stopDaemons();
    await apache?.stop();
    await w?.cleanup();
  });

  /** Polls Apache with `Host: <app>.hda.test` until the page contains `text`. */
  const throughApache = (app: string, text: string) => eventually(async () => {
    const r = await httpGet(apache.port, `${app}.hda.test`);
    return r?.status === 200 && r.body.includes(text) ? r.body : undefined;
  });
  const vhostFile = (app: string) => path.join(w.vhostDir, `${app}.conf`);

  it('a manifest dropped into the directory is served through Apache; an env edit changes the page; deleting the file removes the app', async () => {
    const app = `${w.prefix}blog`;
    await w.writeManifest('blog.yaml', webApp(app, 'first words'));
    expect(await throughApache(app, 'first words')).toContain('first words');

    await w.writeManifest('blog.yaml', webApp(app, 'second thoughts'));
    expect(await throughApache(app, 'second thoughts')).toContain('second thoughts');
    expect((await d.app(app))?.state).toBe('running');

    await rm(path.join(w.manifests, 'blog.yaml'));
    await eventually(() => isGone(app));
    await eventually(async () => !existsSync(vhostFile(app)));
    // Apache was reloaded without the vhost: it answers for the name as for any unknown one.
    const unknown = (await httpGet(apache.port, 'nobody.invalid'))?.status;
    expect(unknown).not.toBe(200);
    await eventually(async () => (await httpGet(apache.port, `${app}.hda.test`))?.status === unknown);
    await eventually(async () => (await d.app(app)) === undefined);
    expect(d.running).toBe(true);
  });

  it('a hand-edited vhost is put back as generated', async () => {
    const app = `${w.prefix}wiki`;
    await w.writeManifest('wiki.yaml', webApp(app, 'wiki home'));
    await throughApache(app, 'wiki home');
    const generated = await readFile(vhostFile(app), 'utf8');
    // Someone points the proxy at another port by hand.
    await writeFile(vhostFile(app), generated.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:1'));
    await eventually(async () => (await readFile(vhostFile(app), 'utf8')) === generated);
    expect(await throughApache(app, 'wiki home')).toContain('wiki home');
  });

  it('a deleted vhost is written again and served', async () => {
    const app = `${w.prefix}photos`;
    await w.writeManifest('photos.yaml', webApp(app, 'photo album'));
    await throughApache(app, 'photo album');
    const generated = await readFile(vhostFile(app), 'utf8');
    await rm(vhostFile(app));
    await eventually(async () => existsSync(vhostFile(app)) && (await readFile(vhostFile(app), 'utf8')) === generated);
    expect(await throughApache(app, 'photo album')).toContain('photo album');
    expect(await d.app(app)).toMatchObject({ vhost: 'in sync' });
  });
});
