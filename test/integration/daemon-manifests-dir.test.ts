import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deployed, printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { inspect, isGone, pageWith } from '../support/engine.js';
import { createWorld, eventually, webApp, type World } from '../support/world.js';

/**
 * The manifests directory as a git checkout: replaced as a whole, its files
 * renamed. The resync is pushed out of reach (30 min), so only the watchers
 * can make these tests pass.
 */
describe('hdactl run follows the manifests directory when it is replaced or its files renamed', () => {
  let w: World;
  let d: Daemon;
  const start = async () => {
    w = await createWorld();
    d = await startDaemon(w, { extraFlags: ['--resync', '30m'] });
  };
  afterEach(async () => {
    await stopDaemons();
    await w?.cleanup();
  });
  // After hooks run last-registered first: this one prints before the one above stops them.
  printDaemonLogsOnFailure();

  const passes = (result: 'ok' | 'error') => d.metric('hdactl_reconcile_passes_total', { result });
  const idOf = async (app: string) => (await inspect(app)).Id;
  /** Runs `change`, then waits until the daemon has reconciled after it and has nothing left to do (no retry pending either). */
  const settled = async (change: () => Promise<void> | void) => {
    const before = (await passes('ok')) + (await passes('error'));
    await change();
    await eventually(async () => (await passes('ok')) + (await passes('error')) > before);
    await d.idle();
  };

  it('mv manifests away and a new checkout in its place: nothing is removed while it is missing, then it is read in full and its files are watched', async () => {
    await start();
    const keep = await deployed(w, d, 'keep', 'kept as it is');
    const edit = await deployed(w, d, 'edit', 'before the checkout');
    const gone = await deployed(w, d, 'gone', 'not in the new checkout');
    await d.idle();
    const ids = { keep: await idOf(keep.app), edit: await idOf(edit.app), gone: await idOf(gone.app) };

    // Missing for a moment (mv manifests manifests.old; git clone … manifests has not begun):
    // passes fail, and their retries, longer apart than a removal's second look, remove nothing.
    const old = `${w.manifests}.old`;
    const errors = await passes('error');
    await rename(w.manifests, old);
    await eventually(async () => (await passes('error')) >= errors + 2);
    for (const id of Object.values(ids)) expect((await inspect(id)).State.Running).toBe(true);

    // The new checkout: keep and edit as they were, gone no more, one app new.
    const next = `${w.manifests}.new`;
    await mkdir(next);
    await cp(path.join(old, 'keep.yaml'), path.join(next, 'keep.yaml'));
    await cp(path.join(old, 'edit.yaml'), path.join(next, 'edit.yaml'));
    const added = `${w.prefix}added`;
    await writeFile(path.join(next, 'added.yaml'), webApp(added, 'came with the checkout'));
    await rename(next, w.manifests);

    await eventually(() => isGone(gone.app));
    expect(await d.output()).toContain(`${gone.app} is gone from the manifests; removing it if it is still gone in 1000 ms`);
    await pageWith(Number(await eventually(async () => (await d.app(added))?.hostPort)), 'came with the checkout');
    expect(await idOf(keep.app)).toBe(ids.keep);
    expect(await idOf(edit.app)).toBe(ids.edit);

    // The new directory's files are watched: an edit, and a file added.
    await w.writeManifest('edit.yaml', webApp(edit.app, 'edited in the new checkout'));
    await pageWith(edit.port, 'edited in the new checkout');
    const later = await deployed(w, d, 'later', 'added to the new checkout');
    expect((await inspect(later.app)).State.Running).toBe(true);
    expect(await idOf(keep.app)).toBe(ids.keep);
  });

  it('rm -rf manifests && cp -r, then a symlink switched to another checkout: edits to the new files are picked up each time', async () => {
    await start();
    const app = await deployed(w, d, 'copied', 'before the copy');
    const copy = path.join(w.dir, 'copy');
    await cp(w.manifests, copy, { recursive: true });

    await settled(async () => {
      await rm(w.manifests, { recursive: true });
      await cp(copy, w.manifests, { recursive: true });
    });
    await w.writeManifest('copied.yaml', webApp(app.app, 'edited after the copy'));
    await pageWith(app.port, 'edited after the copy');

    // Releases side by side, and manifests a symlink to the current one (ln -sfn, then mv -T).
    const releases = [path.join(w.dir, 'release1'), path.join(w.dir, 'release2')];
    for (const r of releases) await cp(w.manifests, r, { recursive: true });
    const link = async (target: string) => {
      await symlink(target, `${w.manifests}.tmp`);
      await rename(`${w.manifests}.tmp`, w.manifests);
    };
    await settled(async () => {
      await rm(w.manifests, { recursive: true });
      await link(releases[0]!);
    });
    await w.writeManifest('copied.yaml', webApp(app.app, 'edited in release 1'));
    await pageWith(app.port, 'edited in release 1');

    // release2 has the app as it was before release 1's edit: the switch alone puts that back.
    await settled(() => link(releases[1]!));
    await pageWith(app.port, 'edited after the copy');
    await w.writeManifest('copied.yaml', webApp(app.app, 'edited in release 2'));
    await pageWith(app.port, 'edited in release 2');
  });

  it('a directory replaced in one shell command (cp -r, rm -rf, mv) is watched anew too', async () => {
    await start();
    const app = await deployed(w, d, 'swift', 'before the swap');
    await d.idle();
    const m = JSON.stringify(w.manifests);
    // The new directory is read in full once its watch is ready.
    await settled(() => {
      execFileSync('sh', ['-c', `cp -r ${m} ${m}.copy && rm -rf ${m} && mv ${m}.copy ${m}`]);
    });
    await w.writeManifest('swift.yaml', webApp(app.app, 'edited after the swap'));
    await pageWith(app.port, 'edited after the swap');
  });

  it('git mv of a manifest, then its app renamed in the new file: the old app is removed and the new one installed', async () => {
    await start();
    const first = await deployed(w, d, 'first', 'one name');
    await d.idle();
    const ok = await passes('ok');
    await rename(first.file, path.join(w.manifests, 'renamed.yaml'));
    // The rename is reconciled (nothing to do), and the daemon settles.
    await eventually(async () => (await passes('ok')) > ok);
    await d.idle();
    expect((await inspect(first.app)).State.Running).toBe(true);

    const second = `${w.prefix}second`;
    await w.writeManifest('renamed.yaml', webApp(second, 'another name'));
    await pageWith(Number(await eventually(async () => (await d.app(second))?.hostPort)), 'another name');
    await eventually(() => isGone(first.app));
    expect(await d.output()).toContain(`${first.app} is gone from the manifests; removing it if it is still gone in 1000 ms`);
    await eventually(async () => (await d.app(first.app)) === undefined);

    // A pass that changes nothing writes no state: the same text written again.
    await d.idle();
    const stateFile = path.join(w.stateDir, 'state.json');
    const written = (await stat(stateFile)).mtimeMs;
    const before = await passes('ok');
    await w.writeManifest('renamed.yaml', webApp(second, 'another name'));
    await eventually(async () => (await passes('ok')) > before);
    await d.idle();
    expect((await stat(stateFile)).mtimeMs).toBe(written);
  });

  it('an app renamed in its file, keeping its extra host port: the new name waits for the old one\'s removal, then runs, with no failure between', async () => {
    await start();
    const port = w.portBase + 90;
    const withPort = { extra: `ports: ["127.0.0.1:${port}:8080"]\n` };
    const old = await deployed(w, d, 'photos', 'same app', withPort);
    await d.idle();
    const renamed = `${w.prefix}pics`;
    await w.writeManifest('photos.yaml', webApp(renamed, 'same app', withPort));
    await eventually(async () => (await inspect(renamed).catch(() => undefined))?.State.Running || undefined, 20_000);
    expect((await inspect(renamed)).HostConfig.PortBindings['8080/tcp'][0].HostPort).toBe(String(port));
    expect(await isGone(old.app)).toBe(true);
    await d.idle();
    // Newest first; no failure among them.
    const events = (await d.status()).events.filter((e) => e.app === renamed || e.app === old.app).map((e) => `${e.app} ${e.type}: ${e.message}`);
    expect(events).toEqual([
      expect.stringMatching(new RegExp(`^${renamed} created: .*\\(new app, renamed from ${old.app}: its data directory starts empty\\)`)),
      `${old.app} removed: renamed to ${renamed} in ${path.join(w.manifests, 'photos.yaml')}; its data stays in ${path.join(w.dataRoot, old.app)}; vhost removed`,
      expect.stringMatching(new RegExp(`^${old.app} created: .*\\(new app\\)`)),
    ]);
    expect(await d.output()).toContain(`${renamed} waits for the removal of ${old.app}, which holds its host ports`);
  });
});
