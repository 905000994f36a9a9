import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { answersAsUnknown, startApache, type PrivateApache } from '../support/apache.js';
import { TEST_IMAGE } from '../support/global-setup.js';
import { inspect, pageWith } from '../support/engine.js';
import { CLI, createWorld, eventually, httpGet, webApp, type World } from '../support/world.js';

describe('Apache vhosts', () => {
  let w: World | undefined;
  let apache: PrivateApache | undefined;
  /** Worlds a test makes besides `w`. */
  let others: World[] = [];
  afterEach(async () => {
    await apache?.stop();
    await Promise.all(others.map((o) => o.cleanup()));
    others = [];
    await w?.cleanup();
    apache = undefined;
    w = undefined;
  });

  /** A world whose hdactl drives its own private Apache. */
  async function webWorld(): Promise<{ w: World; apache: PrivateApache; vhost: (app: string) => string }> {
    w = await createWorld();
    await mkdir(w.vhostDir, { recursive: true });
    apache = await startApache(w.vhostDir);
    w.flags.push('--apachectl', apache.apachectl, '--vhost-port', String(apache.port));
    const dir = w.vhostDir;
    return { w, apache, vhost: (app) => path.join(dir, `${app}.conf`) };
  }

  it('a web app is reached through Apache at <app>.<domain>, shows env changes, and is unreachable once removed', async () => {
    const { w, apache, vhost } = await webWorld();
    const app = `${w.prefix}site`;
    const file = await w.writeManifest('site.yaml', webApp(app, 'first'));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toMatch(new RegExp(`^${app} created: .*; vhost ${app}\\.hda\\.test → 127\\.0\\.0\\.1:${w.portBase + 1}\\n$`));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const conf = await readFile(vhost(app), 'utf8');
    expect(conf).toContain(`<VirtualHost *:${apache.port}>`);
    expect(conf).toContain(`ServerName ${app}.hda.test`);
    expect(conf).toContain(`ProxyPass / http://127.0.0.1:${w.portBase + 1}/`);
    await pageWith(apache.port, 'first', `${app}.hda.test`);

    await w.writeManifest('site.yaml', webApp(app, 'second'));
    const changed = await w.hdactl(['apply']);
    expect(changed.stdout).toBe(`${app} recreated: env.MESSAGE first → second\n`);
    await pageWith(apache.port, 'second', `${app}.hda.test`);

    await rm(file);
    // Its last app: removing every app is said on purpose (safety.test.ts).
    const removed = await w.hdactl(['apply', '--allow-empty']);
    expect(removed.stdout).toBe(`${app} removed: manifest deleted; vhost removed\n`);
    expect(removed.code).toBe(0);
    expect(existsSync(vhost(app))).toBe(false);
    await answersAsUnknown(apache.port, `${app}.hda.test`);
  });

  it('goes live by sending the running Apache its graceful signal after the configtest: no second apache2 re-reads the config', async () => {
    const { w, apache } = await webWorld();
    // An apachectl that logs how it is called, then runs the private Apache's command.
    const calls = path.join(w.dir, 'apachectl-calls.log');
    const wrapper = path.join(w.dir, 'apachectl');
    await writeFile(wrapper, `#!/bin/sh\necho "$*" >> ${calls}\nexec ${apache.apachectl} "$@"\n`);
    await chmod(wrapper, 0o755);
    w.flags[w.flags.lastIndexOf('--apachectl') + 1] = wrapper;
    const parent = (await readFile(apache.pidFile, 'utf8')).trim();
    const app = `${w.prefix}signalled`;
    await w.writeManifest('signalled.yaml', webApp(app, 'reloaded by signal'));
    const r = await w.hdactl(['apply']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await pageWith(apache.port, 'reloaded by signal', `${app}.hda.test`);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual(['-t -D DUMP_RUN_CFG -D DUMP_VHOSTS']);
    // A graceful restart: the same parent serves on.
    expect((await readFile(apache.pidFile, 'utf8')).trim()).toBe(parent);
  });

  it('an app whose container fails to start gets no vhost, while the other app of the same apply goes live', async () => {
    const { w, apache, vhost } = await webWorld();
    // A port someone else holds: the Engine cannot publish it, so the container fails to start.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const held = (holder.address() as AddressInfo).port;
    try {
      const ok = `${w.prefix}ok`;
      const clash = `${w.prefix}clash`;
      await w.writeManifest('ok.yaml', webApp(ok, 'ok here'));
      await w.writeManifest('clash.yaml', webApp(clash, 'never', { extra: `ports: ["127.0.0.1:${held}:81"]\n` }));
      const r = await w.hdactl(['apply']);
      expect(r.stdout).toMatch(new RegExp(`^${clash} failed: .*`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^${ok} created: .*; vhost ${ok}\\.hda\\.test`, 'm'));
      expect(r.code).toBe(1);
      expect(existsSync(vhost(clash))).toBe(false);
      expect(existsSync(vhost(ok))).toBe(true);
      await pageWith(apache.port, 'ok here', `${ok}.hda.test`);
      await answersAsUnknown(apache.port, `${clash}.hda.test`);
    } finally {
      holder.close();
    }
  });

  it('a hand-edited vhost shows as drift in plan and status and is restored; a deleted one is recreated', async () => {
    const { w, apache, vhost } = await webWorld();
    const app = `${w.prefix}drift`;
    await w.writeManifest('drift.yaml', webApp(app, 'drift'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const managed = await readFile(vhost(app), 'utf8');
    const url = `http://${app}.hda.test:${apache.port}/`;
    const status = await w.hdactl(['status']);
    expect(status.stdout).toMatch(new RegExp(`^${app} +running .*${url.replace(/[.]/g, '\\.')} +${w.portBase + 1} +in sync +yes`, 'm'));
    expect(status.code).toBe(0);

    // Someone points the vhost elsewhere by hand.
    await writeFile(vhost(app), managed.replace(`http://127.0.0.1:${w.portBase + 1}/`, 'http://127.0.0.1:9/'));
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toBe(`~ vhost ${app}: drifted (edited outside hdactl)\n`);
    expect(plan.code).toBe(2);
    expect((await w.hdactl(['status'])).stdout).toMatch(new RegExp(`^${app} +running .* drifted +no`, 'm'));
    const fix = await w.hdactl(['apply']);
    expect(fix.stdout).toBe(`${app} configured: vhost drifted (edited outside hdactl)\n`);
    expect(fix.code).toBe(0);
    expect(await readFile(vhost(app), 'utf8')).toBe(managed);
    await pageWith(apache.port, 'drift', `${app}.hda.test`);

    await rm(vhost(app));
    expect((await w.hdactl(['plan'])).stdout).toBe(`+ vhost ${app}: drifted (deleted outside hdactl)\n`);
    const back = await w.hdactl(['apply']);
    expect(back.stdout).toBe(`${app} configured: vhost drifted (deleted outside hdactl)\n`);
    expect(await readFile(vhost(app), 'utf8')).toBe(managed);
    await pageWith(apache.port, 'drift', `${app}.hda.test`);
    expect((await w.hdactl(['plan'])).code).toBe(0);
  });

  it('a template that fails the configtest fails its apps, rolls every vhost file back, and Apache keeps serving the old config', async () => {
    const { w, apache, vhost } = await webWorld();
    const old = `${w.prefix}old`;
    const neu = `${w.prefix}new`;
    await w.writeManifest('old.yaml', webApp(old, 'still here'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    await pageWith(apache.port, 'still here', `${old}.hda.test`);
    const oldConf = await readFile(vhost(old), 'utf8');

    const templates = path.join(w.dir, 'templates');
    await mkdir(templates);
    await writeFile(path.join(templates, 'container.conf'), [
      '<VirtualHost *:VHOST_PORT>',
      '  ServerName APP_HOSTNAME',
      '  NoSuchDirective on',
      '  ProxyPass / http://127.0.0.1:APP_PORT/',
      '</VirtualHost>',
      '',
    ].join('\n'));
    await w.writeManifest('new.yaml', webApp(neu, 'new'));
    const r = await w.hdactl(['apply', '--templates', templates]);
    // Both apps' vhost changes failed the transaction; tried one by one, each fails on its own file.
    const error = (app: string) => `apache configtest failed with this app's vhost, so it was rolled back and Apache keeps its old config: AH00526: Syntax error on line 6 of ${vhost(app)}: Invalid command 'NoSuchDirective'`;
    expect(r.stdout.split('\n').filter((l) => l).map((l) => l.slice(0, l.indexOf(': ') + 2 + error(l.slice(0, l.indexOf(' '))).length)).sort()).toEqual([
      `${neu} failed: ${error(neu)}`,
      `${old} failed: ${error(old)}`,
    ]);
    expect(r.code).toBe(1);
    expect(await readFile(vhost(old), 'utf8')).toBe(oldConf);
    expect(existsSync(vhost(neu))).toBe(false);
    // The new app's container runs; only its vhost waits.
    expect((await inspect(neu)).State.Running).toBe(true);
    await pageWith(apache.port, 'still here', `${old}.hda.test`);
    await answersAsUnknown(apache.port, `${neu}.hda.test`);

    // Without the broken template the next apply brings the new vhost.
    const next = await w.hdactl(['apply']);
    // (The planner cannot tell a rolled-back vhost from one deleted by hand, so it says "drifted".)
    expect(next.stdout).toMatch(new RegExp(`^${neu} configured: vhost .*\\n${old} unchanged\\n$`));
    expect(next.code).toBe(0);
    expect(await readFile(vhost(neu), 'utf8')).toContain(`ProxyPass / http://127.0.0.1:${w.portBase + 2}/`);
    await pageWith(apache.port, 'new', `${neu}.hda.test`);
  });

  it('two hdactl configs that share the vhost directory (each its own --instance and state dir) leave each other\'s vhosts, and Apache serves both', async () => {
    const { w, apache, vhost } = await webWorld();
    const other = await createWorld();
    others.push(other);
    other.flags.push('--vhost-dir', w.vhostDir, '--apachectl', apache.apachectl, '--vhost-port', String(apache.port));
    const mine = `${w.prefix}mine`;
    const theirs = `${other.prefix}theirs`;
    await w.writeManifest('mine.yaml', webApp(mine, 'mine'));
    await other.writeManifest('theirs.yaml', webApp(theirs, 'theirs'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const left = (app: string) => `${app} skipped: its vhost file ${app}.conf carries hdactl's marks but this state file never installed ${app}, so it is left: another hdactl may use it (one that shares the vhost directory or the --instance); if none does, remove it by hand (rm ${vhost(app)})`;
    const second = await other.hdactl(['apply']);
    expect(second.stdout).toContain(`${left(mine)}\n`);
    expect(second.stdout).toMatch(new RegExp(`^${theirs} created: `, 'm'));
    const again = await w.hdactl(['apply']);
    expect(again.stdout).toContain(`${left(theirs)}\n`);
    expect(again.stdout).toContain(`${mine} unchanged\n`);
    await pageWith(apache.port, 'mine', `${mine}.hda.test`);
    await pageWith(apache.port, 'theirs', `${theirs}.hda.test`);
  });

  it('a vhost removal rolled back by a configtest that fails anyway keeps the app\'s record, and the next apply removes the vhost', async () => {
    const { w, apache, vhost } = await webWorld();
    const app = `${w.prefix}gone`;
    const file = await w.writeManifest('gone.yaml', webApp(app, 'here'));
    await w.writeManifest('keep.yaml', webApp(`${w.prefix}keep`, 'kept'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    // Someone else's broken site in the same directory: every configtest fails, with or without hdactl's change.
    const broken = path.join(w.vhostDir, 'zz-broken.conf');
    await writeFile(broken, 'NoSuchDirective on\n');
    await rm(file);
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${app} failed: apache configtest fails with or without these vhost changes, so they were rolled back and are tried again: fix Apache's config: `);
    expect(existsSync(vhost(app))).toBe(true);
    expect(JSON.parse(await readFile(path.join(w.stateDir, 'state.json'), 'utf8')).apps[app]).toBeDefined();
    await rm(broken);
    const retried = await w.hdactl(['apply']);
    // Its container went in the first apply; only the vhost was left to remove.
    expect(retried.stdout).toContain(`${app} configured: vhost removed (manifest deleted)\n`);
    expect(existsSync(vhost(app))).toBe(false);
    expect(JSON.parse(await readFile(path.join(w.stateDir, 'state.json'), 'utf8')).apps[app]).toBeUndefined();
    await answersAsUnknown(apache.port, `${app}.hda.test`);
  });

  it('an apply killed while its vhost is written but not yet tested (a recreate waiting for the old container to stop) leaves no untested vhost behind: the next apply puts it back, then applies it, tested and live', async () => {
    const { w, apache, vhost } = await webWorld();
    const app = `${w.prefix}slow`;
    // The test image's web server ignores SIGTERM as PID 1: a stop waits out stopTimeout.
    const slow = 'stopTimeout: 10s\n';
    await w.writeManifest('slow.yaml', webApp(app, 'before', { extra: slow }));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    await pageWith(apache.port, 'before', `${app}.hda.test`);

    // A new host name: the recreate stops the old container while the new vhost waits for its test.
    await w.writeManifest('slow.yaml', webApp(app, 'after all', { extra: `${slow}hostname: ${app}-new\n` }));
    const first = spawn('node', [CLI, 'apply', ...w.flags], { cwd: w.dir, stdio: 'ignore' });
    const exited = new Promise((resolve) => first.on('exit', resolve));
    await eventually(async () => (await readFile(vhost(app), 'utf8')).includes(`ServerName ${app}-new.hda.test`), 30_000, 20);
    first.kill('SIGKILL');
    await exited;
    expect(await readFile(vhost(app), 'utf8')).toContain(`ServerName ${app}-new.hda.test`);
    // plan takes no lock and changes nothing, but says so.
    const planned = await w.hdactl(['plan']);
    expect(planned.stderr).toContain(`! the vhost changes of hdactl pid ${first.pid} were cut short before their test (${app}): the next hdactl apply or run puts them back first, then applies them again\n`);

    const r = await w.hdactl(['apply']);
    expect(r.stderr).toContain('which stopped before testing them, were put back');
    expect(r.stdout).toBe(`${app} recreated: env.MESSAGE before → after all; vhost server name ${app}.hda.test → ${app}-new.hda.test\n`);
    expect(r.code).toBe(0);
    await pageWith(apache.port, 'after all', `${app}-new.hda.test`);
  });

  it('one app whose vhost breaks the configtest fails alone: the other new app in the same pass is served', async () => {
    const { w, apache, vhost } = await webWorld();
    const fine = `${w.prefix}fine`;
    const bad = `${w.prefix}bad`;
    const templates = path.join(w.dir, 'templates');
    await mkdir(templates);
    await writeFile(path.join(templates, 'container-broken.conf'), '<VirtualHost *:VHOST_PORT>\n  ServerName APP_HOSTNAME\n  NoSuchDirective on\n</VirtualHost>\n');
    await w.writeManifest('fine.yaml', webApp(fine, 'fine'));
    await w.writeManifest('bad.yaml', webApp(bad, 'bad').replace('kind: container-custom', 'kind: container-broken'));
    const r = await w.hdactl(['apply', '--templates', templates]);
    expect(r.stdout).toContain(`${bad} failed: apache configtest failed with this app's vhost, so it was rolled back and Apache keeps its old config: AH00526: Syntax error on line 6 of ${vhost(bad)}: Invalid command 'NoSuchDirective'`);
    expect(r.stdout).toMatch(new RegExp(`^${fine} created: .*vhost ${fine}\\.hda\\.test`, 'm'));
    expect(r.code).toBe(1);
    expect(existsSync(vhost(bad))).toBe(false);
    await pageWith(apache.port, 'fine', `${fine}.hda.test`);
  });

  it('a hand-written <app>.conf without hdactl\'s header is never touched, and apply says so', async () => {
    const { w, apache, vhost } = await webWorld();
    const app = `${w.prefix}hand`;
    const handWritten = [
      '# my own vhost, do not touch',
      `<VirtualHost *:${apache.port}>`,
      `  ServerName ${app}.hda.test`,
      '  <Location />',
      '    Require all denied',
      '  </Location>',
      '</VirtualHost>',
      '',
    ].join('\n');
    await writeFile(vhost(app), handWritten);
    await w.writeManifest('hand.yaml', webApp(app, 'hand'));
    const warning = `vhost file ${app}.conf exists without hdactl's header, so hdactl leaves it alone`;

    const r = await w.hdactl(['apply']);
    expect(r.stdout).toMatch(new RegExp(`^${app} created: .*\\n! ${app}: ${warning}: delete or rename it`));
    expect(r.code).toBe(0);
    expect(await readFile(vhost(app), 'utf8')).toBe(handWritten);
    await pageWith(w.portBase + 1, 'hand');

    // Nothing else to do: the app is reported as skipped for its vhost, and that is no failure.
    const again = await w.hdactl(['apply']);
    expect(again.stdout).toMatch(new RegExp(`^${app} skipped: ${warning}`));
    expect(again.code).toBe(0);
    expect(await readFile(vhost(app), 'utf8')).toBe(handWritten);
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`! ${app}: ${warning}`);
    expect(plan.code).toBe(0);
    expect((await w.hdactl(['status'])).stdout).toMatch(new RegExp(`^${app} .* conflict `, 'm'));
    // Apache serves the hand-written vhost, not a proxy to the app.
    expect((await eventually(() => httpGet(apache.port, `${app}.hda.test`))).status).toBe(403);
  });

  it('aliases reach the app through Apache, and templates/<kind>.conf is used for apps of that kind', async () => {
    const { w, apache, vhost } = await webWorld();
    const special = `${w.prefix}special`;
    const plain = `${w.prefix}plain`;
    const alias = `${w.prefix}alias.example.test`;
    const templates = path.join(w.dir, 'templates');
    await mkdir(templates);
    // A kind template that keeps /private behind Apache.
    await writeFile(path.join(templates, 'container-special.conf'), [
      '<VirtualHost *:VHOST_PORT>',
      '  ServerName APP_HOSTNAME',
      '  APP_ALIASES',
      '  <Location /private>',
      '    Require all denied',
      '  </Location>',
      '  ProxyPass /private !',
      '  ProxyPass / http://127.0.0.1:APP_PORT/',
      '</VirtualHost>',
      '',
    ].join('\n'));
    await w.writeManifest('special.yaml', `app: ${special}\nkind: container-special\nimage: ${TEST_IMAGE}\nweb: 80\naliases: [${alias}]\nenv: { MESSAGE: special }\n`);
    await w.writeManifest('plain.yaml', webApp(plain, 'plain', { extra: `aliases: [${w.prefix}other.example.test]\n` }));
    const r = await w.hdactl(['apply', '--templates', templates]);
    expect(r.code).toBe(0);

    expect(await readFile(vhost(special), 'utf8')).toContain(`  ServerAlias ${alias}\n`);
    expect(await readFile(vhost(special), 'utf8')).toContain('<Location /private>');
    expect(await readFile(vhost(plain), 'utf8')).toContain(`  ServerAlias ${w.prefix}other.example.test\n`);
    expect(await readFile(vhost(plain), 'utf8')).not.toContain('<Location /private>');
    await pageWith(apache.port, 'special', `${special}.hda.test`);
    await pageWith(apache.port, 'special', alias);
    await pageWith(apache.port, 'plain', `${w.prefix}other.example.test`);
    // /private: denied by the kind template, passed through to the app (which has no such page) otherwise.
    expect((await eventually(() => httpGet(apache.port, alias, '/private'))).status).toBe(403);
    expect((await eventually(() => httpGet(apache.port, `${plain}.hda.test`, '/private'))).status).toBe(404);
  });

  it('a headless app gets no vhost, and an app that drops web loses its vhost', async () => {
    const { w, apache, vhost } = await webWorld();
    const headless = `${w.prefix}headless`;
    const shrinking = `${w.prefix}shrink`;
    await w.writeManifest('headless.yaml', `app: ${headless}\nkind: container-custom\nimage: ${TEST_IMAGE}\nenv: { MESSAGE: headless }\n`);
    await w.writeManifest('shrink.yaml', webApp(shrinking, 'shrinking'));
    const r = await w.hdactl(['apply']);
    expect(r.code).toBe(0);
    expect(existsSync(vhost(headless))).toBe(false);
    expect((await inspect(headless)).HostConfig.PortBindings).toEqual({});
    await pageWith(apache.port, 'shrinking', `${shrinking}.hda.test`);
    expect((await w.hdactl(['status'])).stdout).toMatch(new RegExp(`^${headless} +running +${TEST_IMAGE} +- +- +- `, 'm'));

    await w.writeManifest('shrink.yaml', `app: ${shrinking}\nkind: container-custom\nimage: ${TEST_IMAGE}\nenv:\n  MESSAGE: "shrinking"\n`);
    const drop = await w.hdactl(['apply']);
    expect(drop.stdout).toContain(`${shrinking} recreated: ports 127.0.0.1:${w.portBase + 2}:80/tcp → none; vhost removed (app has no web port any more)\n`);
    expect(drop.code).toBe(0);
    expect(existsSync(vhost(shrinking))).toBe(false);
    expect((await inspect(shrinking)).HostConfig.PortBindings).toEqual({});
    await answersAsUnknown(apache.port, `${shrinking}.hda.test`);
    expect((await w.hdactl(['plan'])).code).toBe(0);
  });
});
