import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { answersAsUnknown, startApache, type PrivateApache } from '../support/apache.js';
import { conditionOf, printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { inspect, isGone } from '../support/engine.js';
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
    // Another app stays: with no app left at all, the daemon removes nothing (the test below).
    const stays = `${w.prefix}stays`;
    await w.writeManifest('stays.yaml', webApp(stays, 'still here'));
    await w.writeManifest('blog.yaml', webApp(app, 'first words'));
    expect(await throughApache(app, 'first words')).toContain('first words');

    await w.writeManifest('blog.yaml', webApp(app, 'second thoughts'));
    expect(await throughApache(app, 'second thoughts')).toContain('second thoughts');
    expect((await d.app(app))?.state).toBe('running');

    await rm(path.join(w.manifests, 'blog.yaml'));
    await eventually(() => isGone(app));
    await eventually(async () => !existsSync(vhostFile(app)));
    // Apache was reloaded without the vhost: it answers for the name as for any unknown one.
    expect((await answersAsUnknown(apache.port, `${app}.hda.test`)).status).not.toBe(200);
    await eventually(async () => (await d.app(app)) === undefined);
    expect(await throughApache(stays, 'still here')).toContain('still here');
    expect(d.running).toBe(true);
  });

  it('manifests that vanish all at once (a disk not mounted) remove nothing: every app keeps serving, and status says why', async () => {
    const app = `${w.prefix}album`;
    await w.writeManifest('album.yaml', webApp(app, 'holiday pictures'));
    expect(await throughApache(app, 'holiday pictures')).toContain('holiday pictures');
    await d.idle();
    const before = (await w.containers()).map((c) => ({ id: c.Id, app: c.Labels['org.amahi.hdactl.app']! })).sort((a, b) => a.app.localeCompare(b.app));
    expect(before.length).toBeGreaterThanOrEqual(2);

    const served = (await d.app(app))!;
    expect(served).toMatchObject({ state: 'running', vhost: 'in sync' });
    expect(served.hostPort).toMatch(/^\d+$/);
    expect(served.url).toContain(`${app}.hda.test`);

    // Every file leaves the directory, as when the disk it lives on is not mounted.
    const away = path.join(w.dir, 'manifests-away');
    await mkdir(away);
    const files = (await readdir(w.manifests)).filter((f) => f.endsWith('.yaml'));
    for (const f of files) await rename(path.join(w.manifests, f), path.join(away, f));
    for (const { app: a } of before) {
      await eventually(async () => (await d.app(a))?.lastError?.includes(`${w.manifests} defines no apps`) || undefined);
    }
    await d.idle();
    expect((await w.containers()).map((c) => c.Id).sort()).toEqual(before.map((c) => c.id).sort());
    for (const { id } of before) expect((await inspect(id)).State.Running).toBe(true);
    expect(await throughApache(app, 'holiday pictures')).toContain('holiday pictures');
    expect(existsSync(vhostFile(app))).toBe(true);
    expect(await d.app(app)).toMatchObject({ state: 'running', hostPort: served.hostPort, url: served.url, vhost: 'kept' });

    // Mounted again: the apps are as they were, and nothing is reported any more.
    for (const f of files) await rename(path.join(away, f), path.join(w.manifests, f));
    await eventually(async () => {
      const a = await d.app(app);
      return (a && a.lastError === undefined && conditionOf(a, 'Degraded')?.status === 'False') || undefined;
    });
    await d.idle();
    expect((await w.containers()).map((c) => c.Id).sort()).toEqual(before.map((c) => c.id).sort());
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

  it('a vhost held back by someone\'s own broken site goes live by itself once that site is fixed, without a manifest change', async () => {
    const app = `${w.prefix}diary`;
    // A site outside hdactl, in the same directory, with a typo Apache rejects.
    const own = path.join(w.vhostDir, 'aaa-own-site.conf');
    await writeFile(own, '<VirtualHost *:80>\n  ServerNme own.example\n</VirtualHost>\n');
    try {
      await w.writeManifest('diary.yaml', webApp(app, 'dear diary'));
      const held = await eventually(async () => {
        const a = await d.app(app);
        return a?.lastError?.includes('with or without these vhost changes') ? a : undefined;
      });
      expect(held.lastError).toContain('ServerNme');
      expect(existsSync(vhostFile(app))).toBe(false);
      expect((await inspect(app)).State.Running).toBe(true);
    } finally {
      await rm(own, { force: true });
    }
    expect(await throughApache(app, 'dear diary')).toContain('dear diary');
    await eventually(async () => ((await d.app(app))?.lastError === undefined) || undefined);
  });

  it('a manifest that is a symlink to a file in a checkout elsewhere is served, and an edit there (in place or by rename) changes the page', async () => {
    const app = `${w.prefix}linked`;
    const checkout = path.join(w.dir, 'checkout');
    await mkdir(checkout, { recursive: true });
    const target = path.join(checkout, 'linked.yaml');
    await writeFile(target, webApp(app, 'from the checkout'));
    await symlink(target, path.join(w.manifests, 'linked.yaml'));
    expect(await throughApache(app, 'from the checkout')).toContain('from the checkout');

    await writeFile(target, webApp(app, 'edited in place'));
    expect(await throughApache(app, 'edited in place')).toContain('edited in place');
    await writeFile(`${target}.tmp`, webApp(app, 'replaced by rename'));
    await rename(`${target}.tmp`, target);
    expect(await throughApache(app, 'replaced by rename')).toContain('replaced by rename');
  });

  it('removing every app on purpose while the daemon runs: delete the manifests, run apply --allow-empty, and the daemon shows no app', async () => {
    const apps = (await w.containers()).map((c) => c.Labels['org.amahi.hdactl.app']!);
    expect(apps.length).toBeGreaterThanOrEqual(2);
    for (const f of (await readdir(w.manifests)).filter((f) => f.endsWith('.yaml'))) await rm(path.join(w.manifests, f));
    for (const a of apps) await eventually(async () => (await d.app(a))?.lastError?.includes('defines no apps') || undefined);

    // The person's command, with the same Apache as the daemon's (the last value of a flag wins).
    const flags = w.flags;
    w.flags = [...flags, '--apachectl', apache.apachectl, '--vhost-port', String(apache.port)];
    const r = await w.hdactl(['apply', '--allow-empty']).finally(() => (w.flags = flags));
    expect(r.stdout.split('\n').filter((l) => l).sort()).toEqual(apps.map((a) => `${a} removed: manifest deleted; vhost removed`).sort());
    expect(r.code).toBe(0);
    expect(await w.containers()).toEqual([]);
    for (const a of apps) {
      expect(existsSync(vhostFile(a))).toBe(false);
      // apply signals Apache's graceful restart; the old config serves until it is done.
      await answersAsUnknown(apache.port, `${a}.hda.test`);
      await eventually(async () => (await d.app(a)) === undefined);
    }
    expect(d.running).toBe(true);
  });
});
