import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TEST_IMAGE } from '../support/global-setup.js';
import { inspect, isGone, pageWith } from '../support/engine.js';
import { hdactlWith } from '../support/daemon.js';
import { createWorld, docker, webApp, type World } from '../support/world.js';

describe('what hdactl leaves alone', () => {
  let w: World | undefined;
  /** Containers a test made by hand, without hdactl: removed by name after it. */
  let handMade: string[] = [];
  afterEach(async () => {
    await Promise.all(handMade.map((n) => docker.getContainer(n).remove({ force: true }).catch(() => undefined)));
    handMade = [];
    await w?.cleanup();
    w = undefined;
  });

  /** Runs a container of the test image by hand, as a user would with docker run. */
  async function runByHand(name: string, labels: Record<string, string> = {}): Promise<string> {
    handMade.push(name);
    const c = await docker.createContainer({ name, Image: TEST_IMAGE, Labels: labels });
    await c.start();
    return c.id;
  }

  it('a manifest file emptied (a write cut short, a > file) does not remove its app; deleting the file does', async () => {
    w = await createWorld();
    const app = `${w.prefix}emptied`;
    const file = await w.writeManifest('emptied.yaml', webApp(app, 'still here'));
    // Another app, so the directory as a whole still defines one (an empty directory is held anyway).
    await w.writeManifest('other.yaml', webApp(`${w.prefix}other`, 'other', { extra: 'state: stopped\n' }));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    await writeFile(file, '');
    // validate says it too, though it reads neither the Engine nor Apache.
    const checked = await w.hdactl(['validate']);
    expect(checked.stdout).toBe(`${file}:1:1: this file holds no app, but app ${app} was installed from it, and stays as it runs (as a write cut short would leave the file): put its manifest back, or delete the file to remove ${app}\n`);
    expect(checked.code).toBe(1);
    const held = await w.hdactl(['apply']);
    expect(held.stdout).toBe(`${app} skipped: not removed while ${file} holds no app (as a write cut short would leave it): put its manifest back, or delete the file to remove ${app}\n${w.prefix}other unchanged\n`);
    expect(held.code).toBe(1);
    expect((await inspect(app)).Id).toBe(before.Id);
    await pageWith(w.portBase + 1, 'still here');
    await rm(file);
    const removed = await w.hdactl(['apply']);
    expect(removed.stdout).toMatch(new RegExp(`^${app} removed: `, 'm'));
    expect(await isGone(app)).toBe(true);
  });

  it('a manifest file cut short after "app: <another valid name>" does not remove the app it defined; once it is whole, the rename does', async () => {
    w = await createWorld();
    const app = `${w.prefix}photos`;
    const file = await w.writeManifest('photos.yaml', webApp(app, 'still here'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    // What a full disk leaves of a rewrite: the first line, cut after a prefix that is itself a valid app name.
    const cut = app.slice(0, -2);
    await writeFile(file, `app: ${cut}\n`);
    const held = await w.hdactl(['apply']);
    expect(held.stderr).toContain(`${file}:1:1: app ${cut}: missing required field "kind": add it`);
    expect(held.stdout).toContain(`${app} skipped: not removed while ${file}, the file it was installed from, has problems (as a write cut short could leave it): fix the file, or delete it to remove ${app}\n`);
    expect(held.code).toBe(1);
    expect((await inspect(app)).Id).toBe(before.Id);
    await pageWith(w.portBase + 1, 'still here');
    // A whole manifest under the new name: a rename, which removes the old app.
    await writeFile(file, webApp(cut, 'renamed'));
    const renamed = await w.hdactl(['apply']);
    expect(renamed.stdout).toMatch(new RegExp(`^${app} removed: renamed to ${cut} in `, 'm'));
    expect(await isGone(app)).toBe(true);
    expect((await inspect(cut)).State.Running).toBe(true);
  });

  it('a typo in one manifest leaves that app running as it was, while an app in another file is created', async () => {
    w = await createWorld();
    const kept = `${w.prefix}kept`;
    const fresh = `${w.prefix}fresh`;
    await w.writeManifest('kept.yaml', webApp(kept, 'original'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(kept);

    // A field name typo (and a bad value): the schema rejects the document, the app is frozen.
    await w.writeManifest('kept.yaml', `app: ${kept}\nkind: container-custom\nrestart: sometimes\nimgae: ${TEST_IMAGE}\nweb: 80\nenv:\n  MESSAGE: "changed"\n`);
    await w.writeManifest('fresh.yaml', webApp(fresh, 'fresh'));
    const r = await w.hdactl(['apply']);
    expect(r.stderr).toContain(`${w.manifests}/kept.yaml:4:1: app ${kept}: unknown field "imgae": did you mean "image"?`);
    expect(r.stdout).toMatch(new RegExp(`^${kept} skipped: its manifest is invalid, so it is left as it runs: .*kept\\.yaml:\\d+`, 'm'));
    // stderr holds the problems alone, in file order: the skip is said once, on stdout, not again as a log record.
    const said = r.stderr.trim().split('\n');
    expect(said.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(said.filter((l) => l.startsWith(w!.manifests)).map((l) => l.slice(0, l.indexOf(': app ')))).toEqual([`${w.manifests}/kept.yaml:3:10`, `${w.manifests}/kept.yaml:4:1`]);
    expect(r.stdout).toMatch(new RegExp(`^${fresh} created: `, 'm'));
    // The valid app was applied, and the run still fails, so a `git pull && hdactl apply` hook shows the typo.
    expect(said.at(-1)).toBe('2 manifest problem(s): fix them and apply again; the apps they name were left as they were');
    expect(r.code).toBe(1);
    const after = await inspect(kept);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.State.Running).toBe(true);
    expect((await inspect(fresh)).State.Running).toBe(true);
    await pageWith(Number(after.HostConfig.PortBindings['80/tcp'][0].HostPort), 'original');

    // A YAML syntax error: the file cannot be read at all, so nothing it may define is removed.
    await w.writeManifest('kept.yaml', `app: ${kept}\nkind: container-custom\nimage: ${TEST_IMAGE}\nenv: { MESSAGE: "unclosed\n`);
    const broken = await w.hdactl(['apply']);
    expect(broken.stderr).toMatch(new RegExp(`${w.manifests}/kept\\.yaml:\\d+:\\d+: YAML syntax`));
    expect(broken.stdout).toContain(`${kept} skipped: not removed while ${w.manifests}/kept.yaml cannot be parsed: fix the file`);
    expect(broken.stdout).toContain(`${fresh} unchanged`);
    expect(broken.code).toBe(1);
    expect((await inspect(kept)).Id).toBe(before.Id);
    expect((await inspect(kept)).State.Running).toBe(true);
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`! ${kept}: not removed while`);
    expect(plan.code).toBe(1);

    // Once fixed, the app is managed again: the change that waited is applied.
    await w.writeManifest('kept.yaml', webApp(kept, 'fixed'));
    const fixed = await w.hdactl(['apply']);
    expect(fixed.stdout).toContain(`${kept} recreated: env.MESSAGE original → fixed`);
    expect(fixed.code).toBe(0);
    await pageWith(Number(after.HostConfig.PortBindings['80/tcp'][0].HostPort), 'fixed');
  });

  it('a container that has the app\'s name but not hdactl\'s labels is reported as a conflict and never touched', async () => {
    w = await createWorld();
    const taken = `${w.prefix}taken`;
    const other = `${w.prefix}other`;
    const foreignId = await runByHand(taken);
    const foreign = await inspect(foreignId);
    await w.writeManifest('taken.yaml', webApp(taken, 'mine'));
    await w.writeManifest('other.yaml', webApp(other, 'other'));

    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`! ${taken}: not created while a container named ${taken} exists that hdactl does not own`);
    expect(plan.code).toBe(1);
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${taken} skipped: not created while a container named ${taken} exists that hdactl does not own: remove or rename it`);
    expect(r.stdout).toMatch(new RegExp(`^${other} created: `, 'm'));
    expect(r.code).toBe(1);

    const after = await inspect(taken);
    expect(after.Id).toBe(foreignId);
    expect(after.State.StartedAt).toBe(foreign.State.StartedAt);
    expect(after.Config.Labels).toEqual(foreign.Config.Labels);
    expect(after.HostConfig.PortBindings).toEqual(foreign.HostConfig.PortBindings);
    expect((await w.containers()).map((c) => c.Names[0])).toEqual([`/${other}`]);

    // Given up: its manifest deleted. It never ran, so its id (and web port) is free again for the next new app.
    const stateFile = path.join(w.stateDir, 'state.json');
    const ids = async () => Object.fromEntries(Object.entries(JSON.parse(await readFile(stateFile, 'utf8')).apps as Record<string, { id: number }>).map(([app, r]) => [app, r.id]));
    expect(await ids()).toEqual({ [other]: 1, [taken]: 2 });
    await rm(path.join(w.manifests, 'taken.yaml'));
    const dropped = await w.hdactl(['apply']);
    expect(dropped.stdout).toBe(`${other} unchanged\n`);
    expect(dropped.code).toBe(0);
    expect(await ids()).toEqual({ [other]: 1 });
    const next = `${w.prefix}next`;
    await w.writeManifest('next.yaml', webApp(next, 'next'));
    const created = await w.hdactl(['apply']);
    expect(created.stdout).toMatch(new RegExp(`^${next} created: .*web on 127\\.0\\.0\\.1:${w.portBase + 2} \\(new app\\)`, 'm'));
    expect(await ids()).toEqual({ [other]: 1, [next]: 2 });
    expect((await inspect(taken)).Id).toBe(foreignId);
  });

  it('containers hdactl does not own survive an apply that removes everything it does own', async () => {
    w = await createWorld();
    const mine = `${w.prefix}mine`;
    // One with no labels at all, one labelled by another hdactl instance.
    const plainId = await runByHand(`${w.prefix}plain`);
    const neighbourId = await runByHand(`${w.prefix}neighbour`, {
      'org.amahi.hdactl.app': `${w.prefix}neighbour`,
      'org.amahi.hdactl.instance': `${w.instance}-other`,
      'org.amahi.hdactl.spec-hash': '0000000000000000',
    });
    const file = await w.writeManifest('mine.yaml', webApp(mine, 'mine'));
    expect((await w.hdactl(['apply'])).stdout).toMatch(new RegExp(`^${mine} created`));

    await rm(file);
    const r = await w.hdactl(['apply', '--allow-empty']);
    expect(r.stdout).toContain(`${mine} removed`);
    expect(r.stdout).not.toContain('plain');
    expect(r.stdout).not.toContain('neighbour');
    expect(r.code).toBe(0);
    expect(await isGone(mine)).toBe(true);
    for (const id of [plainId, neighbourId]) {
      const c = await inspect(id);
      expect(c.State.Running).toBe(true);
      expect(c.RestartCount).toBe(0);
    }
  });

  it('two hdactl configs that share an instance leave each other\'s apps running', async () => {
    // Say a demo checkout run with the real install's --instance: its own
    // manifests, state and vhosts, the same containers' label.
    w = await createWorld();
    const home = `${w.prefix}home`;
    await w.writeManifest('home.yaml', webApp(home, 'family photos'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(home);

    const other = path.join(w.dir, 'other');
    await mkdir(path.join(other, 'manifests'), { recursive: true });
    const demo = `${w.prefix}demo`;
    await writeFile(path.join(other, 'manifests', 'demo.yaml'), webApp(demo, 'demo'));
    const otherFlags = ['--manifests', path.join(other, 'manifests'), '--state-dir', path.join(other, 'state'), '--vhost-dir', path.join(other, 'vhosts')];
    const why = (app: string) =>
      `it runs with this instance's label but this state file never installed it, so it is left running: give each hdactl on this Engine its own --instance, or, if the state file was lost, add its manifest back or remove it with docker rm -f ${app}`;
    const second = await hdactlWith(w, 'none', ['apply'], otherFlags);
    expect(second.stdout).toContain(`${home} skipped: ${why(home)}`);
    expect(second.stdout).toMatch(new RegExp(`^${demo} created: .*web on 127\\.0\\.0\\.1:${w.portBase + 2} `, 'm'));
    expect(second.code).toBe(1);

    // And the first config, run again, leaves the demo alone in turn.
    const first = await w.hdactl(['apply']);
    expect(first.stdout).toContain(`${demo} skipped: ${why(demo)}`);
    expect(first.stdout).toContain(`${home} unchanged`);
    const now = await inspect(home);
    expect(now.Id).toBe(before.Id);
    expect(now.State.StartedAt).toBe(before.State.StartedAt);
    await pageWith(w.portBase + 1, 'family photos');
    expect((await inspect(demo)).State.Running).toBe(true);
  });

  it('a manifests directory that defines no apps (an unmounted disk) removes nothing, until apply --allow-empty', async () => {
    w = await createWorld();
    const a = `${w.prefix}photos`;
    const b = `${w.prefix}music`;
    await w.writeManifest('photos.yaml', webApp(a, 'photos', { extra: 'volumes: ["./library:/library"]\n' }));
    await w.writeManifest('music.yaml', webApp(b, 'music'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await Promise.all([a, b].map((n) => inspect(n)));
    const ports = before.map((c) => Number(c.HostConfig.PortBindings['80/tcp'][0].HostPort));

    // The disk holding the manifests is not mounted: its mount point is an empty directory.
    await rm(path.join(w.manifests, 'photos.yaml'));
    await rm(path.join(w.manifests, 'music.yaml'));
    const why = `not removed: ${w.manifests} defines no apps, as an unmounted disk or an unfinished checkout would look: to remove every app, run hdactl apply --allow-empty`;
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout.split('\n').filter((l) => l).sort()).toEqual([`! ${a}: ${why}`, `! ${b}: ${why}`].sort());
    expect(plan.code).toBe(1);
    const held = await w.hdactl(['apply']);
    expect(held.stdout).toContain(`${a} skipped: ${why}`);
    expect(held.code).toBe(1);
    for (const [i, c] of before.entries()) {
      const now = await inspect(c.Id);
      expect(now.State.Running).toBe(true);
      expect(now.State.StartedAt).toBe(c.State.StartedAt);
      await pageWith(ports[i]!, i === 0 ? 'photos' : 'music');
    }
    // status shows what still runs: the app's port, its URL and its vhost, kept.
    const rows = (await w.hdactl(['status'])).stdout.split('\n').map((l) => l.split(/\s{2,}/));
    const row = rows.find((cells) => cells[0] === a);
    expect(row).toEqual([a, 'running', TEST_IMAGE, `http://${a}.hda.test/`, String(ports[0]), 'kept', 'no', why]);

    // Said on purpose: every app goes, and the data stays.
    const removed = await w.hdactl(['apply', '--allow-empty']);
    expect(removed.stdout.split('\n').filter((l) => l).sort()).toEqual([`${a} removed: manifest deleted; vhost removed`, `${b} removed: manifest deleted; vhost removed`].sort());
    expect(removed.code).toBe(0);
    for (const c of before) expect(await isGone(c.Id)).toBe(true);
    expect(existsSync(path.join(w.dataRoot, a, 'library'))).toBe(true);
    expect((await w.hdactl(['plan'])).stdout).toBe('in sync: 0 app(s), nothing to do\n');
  });

  it('--allow-empty is refused by the commands it does not apply to', async () => {
    w = await createWorld();
    const r = await w.hdactl(['run', '--allow-empty']);
    expect(r.stderr).toBe('hdactl: --allow-empty is for plan and apply: run hdactl apply --allow-empty once to remove every app\n');
    expect(r.code).toBe(1);
  });

  it('a volume that leads through a symlink out of the app\'s data directory (one the app could make itself) is refused: nothing is created there, and the running container stays', async () => {
    w = await createWorld();
    const app = `${w.prefix}notes`;
    const outside = path.join(w.dir, 'outside');
    await mkdir(outside);
    await w.writeManifest('notes.yaml', webApp(app, 'v1', { extra: 'volumes: ["./config:/config", "./cache/tmp:/tmp/cache"]\n' }));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);

    // As the app could through a mount of ./ : its ./cache becomes a link to a directory outside.
    await rm(path.join(w.dataRoot, app, 'cache'), { recursive: true });
    await symlink(outside, path.join(w.dataRoot, app, 'cache'));
    await w.writeManifest('notes.yaml', webApp(app, 'v2', { extra: 'volumes: ["./config:/config", "./cache/tmp:/tmp/cache"]\n' }));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${app} failed: volume source ${path.join(w.dataRoot, app, 'cache', 'tmp')} leads through a symlink to ${path.join(outside, 'tmp')}, outside the app's data directory ${path.join(w.dataRoot, app)}: replace the symlink with a directory`);
    expect(r.code).toBe(1);
    expect(existsSync(path.join(outside, 'tmp'))).toBe(false);
    const after = await inspect(app);
    expect(after.Id).toBe(before.Id);
    expect(after.State.Running).toBe(true);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);

    // Once the link is gone, hdactl makes the directory again and the change goes through.
    await rm(path.join(w.dataRoot, app, 'cache'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    await pageWith(Number((await inspect(app)).HostConfig.PortBindings['80/tcp'][0].HostPort), 'v2');
  });

  it('an allowed host path may be a symlink to another disk, but not a link inside it to a system directory', async () => {
    w = await createWorld();
    const disk = path.join(w.dir, 'disk', 'media');
    const media = path.join(w.dir, 'media');
    await mkdir(disk, { recursive: true });
    await symlink(disk, media);
    await symlink('/etc', path.join(disk, 'etc'));
    await writeFile(path.join(w.dir, 'hdactl.yaml'), `volumePolicy:\n  allow: [${media}]\n`);
    const app = `${w.prefix}photos`;
    await w.writeManifest('photos.yaml', webApp(app, 'photos', { extra: `volumes: ["${media}:/media:ro"]\n` }));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    expect((await inspect(app)).HostConfig.Binds).toEqual([`${media}:/media:ro`]);

    const snoop = `${w.prefix}snoop`;
    await w.writeManifest('snoop.yaml', webApp(snoop, 'snoop', { extra: `volumes: ["${media}/etc:/host-etc:ro"]\n` }));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${snoop} failed: volume source ${media}/etc leads through a symlink to /etc, and mounting /etc is never allowed (/etc is a system directory)`);
    expect(r.code).toBe(1);
    expect(await isGone(snoop)).toBe(true);
  });
});
