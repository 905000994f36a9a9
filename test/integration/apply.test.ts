import { afterEach, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { TEST_IMAGE } from '../support/global-setup.js';
import { inspect, isGone, pageWith } from '../support/engine.js';
import { createWorld, docker, webApp, type World } from '../support/world.js';
import type { CreateRequest } from '../../src/adapters/docker/engine.js';
import { engineStuck } from '../../src/adapters/docker/errors.js';
import { wire } from '../../src/cli/wiring.js';
import { resolveSettings } from '../../src/config/settings.js';
import { runPass } from '../../src/pass.js';

/**
 * After a failed recreate: the old container is back under the app's name,
 * running and serving 'old', with no other container beside it; the next
 * apply makes the change, and the new container serves 'new', alone.
 */
async function expectRestoredThenApplied(w: World, app: string, before: Docker.ContainerInspectInfo): Promise<void> {
  const after = await inspect(app);
  expect(after.Id).toBe(before.Id);
  expect(after.Name).toBe(`/${app}`);
  expect(after.State.Running).toBe(true);
  await pageWith(w.portBase + 1, 'old');
  expect((await w.containers()).map((c) => c.Names[0])).toEqual([`/${app}`]);
  const retry = await w.hdactl(['apply']);
  expect(retry.stdout).toMatch(new RegExp(`^${app} recreated: `));
  await pageWith(w.portBase + 1, 'new');
  expect((await w.containers()).map((c) => c.Names[0])).toEqual([`/${app}`]);
}

describe('hdactl apply', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.cleanup();
    w = undefined;
  });

  it('creates the container the manifest describes, and a second apply changes nothing', async () => {
    w = await createWorld();
    const app = `${w.prefix}full`;
    const extraPort = w.portBase + 60;
    await w.writeManifest('full.yaml', [
      `app: ${app}`,
      'kind: container-custom',
      `image: ${TEST_IMAGE}`,
      `hostname: ${w.prefix}site`,
      'web: 80',
      'ports:',
      `  - "127.0.0.1:${extraPort}:80"`,
      'volumes:',
      '  - ./config:/config',
      '  - ./media/music:/music:ro',
      'env:',
      '  MESSAGE: "id=${APP_IDENTIFIER} host=${APP_HOSTNAME} port=${HOST_PORT}"',
      'limits: { memory: 64m, cpus: 0.5, pids: 64 }',
      'restart: on-failure',
      '',
    ].join('\n'));

    const first = await w.hdactl(['apply']);
    expect(first.stdout).toMatch(new RegExp(`^${app} created: `));
    expect(first.code).toBe(0);

    const c = await inspect(app);
    const webPort = w.portBase + 1;
    expect(c.Name).toBe(`/${app}`);
    expect(c.Config.Labels['org.amahi.hdactl.app']).toBe(app);
    expect(c.Config.Labels['org.amahi.hdactl.instance']).toBe(w.instance);
    expect(c.Config.Labels['org.amahi.hdactl.spec-hash']).toMatch(/^[0-9a-f]{16}$/);
    expect(c.HostConfig.RestartPolicy?.Name).toBe('on-failure');
    expect(c.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(c.HostConfig.NanoCpus).toBe(500_000_000);
    expect(c.HostConfig.PidsLimit).toBe(64);
    expect(c.HostConfig.PortBindings).toEqual({
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(webPort) }, { HostIp: '127.0.0.1', HostPort: String(extraPort) }],
    });
    const appDir = path.join(w.dataRoot, app);
    expect(c.HostConfig.Binds).toEqual([`${appDir}/config:/config`, `${appDir}/media/music:/music:ro`]);
    expect(existsSync(path.join(appDir, 'config'))).toBe(true);
    expect(existsSync(path.join(appDir, 'media/music'))).toBe(true);
    const mounts = Object.fromEntries(c.Mounts.map((m) => [m.Destination, m]));
    expect(mounts['/config']).toMatchObject({ Source: `${appDir}/config`, RW: true });
    expect(mounts['/music']).toMatchObject({ Source: `${appDir}/media/music`, RW: false });
    expect(c.Config.Env).toContain(`MESSAGE=id=${app} host=${w.prefix}site port=${webPort}`);
    expect(c.State.Running).toBe(true);

    // The page is served on the web host port and on the extra port, both on 127.0.0.1 only.
    await pageWith(webPort, `id=${app} host=${w.prefix}site port=${webPort}`);
    await pageWith(extraPort, `id=${app} host=${w.prefix}site port=${webPort}`);

    const second = await w.hdactl(['apply']);
    expect(second.stdout).toBe(`${app} unchanged\n`);
    expect(second.code).toBe(0);
    const after = await inspect(app);
    expect(after.Id).toBe(c.Id);
    expect(after.State.StartedAt).toBe(c.State.StartedAt);
    expect(after.RestartCount).toBe(0);
  });

  it('an env change recreates the container on the same host port, and the page shows the new value', async () => {
    w = await createWorld();
    const app = `${w.prefix}env`;
    const other = `${w.prefix}other`;
    await w.writeManifest('env.yaml', webApp(app, 'before'));
    await w.writeManifest('other.yaml', webApp(other, 'bystander'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    const otherBefore = await inspect(other);
    const port = Number(before.HostConfig.PortBindings['80/tcp'][0].HostPort);
    await pageWith(port, 'before');

    await w.writeManifest('env.yaml', webApp(app, 'after'));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${app} recreated: env.MESSAGE before → after`);
    expect(r.stdout).toContain(`${other} unchanged`);
    expect(r.code).toBe(0);

    const after = await inspect(app);
    expect(after.Id).not.toBe(before.Id);
    expect(after.Config.Labels['org.amahi.hdactl.spec-hash']).not.toBe(before.Config.Labels['org.amahi.hdactl.spec-hash']);
    expect(after.HostConfig.PortBindings['80/tcp'][0].HostPort).toBe(String(port));
    expect(after.Config.Labels['org.amahi.hdactl.id']).toBe(before.Config.Labels['org.amahi.hdactl.id']);
    await pageWith(port, 'after');
    // The old container is gone, not left aside under another name.
    expect(await isGone(before.Id)).toBe(true);
    expect((await w.containers()).map((c) => c.Names[0]).sort()).toEqual([`/${app}`, `/${other}`].sort());
    // The other app was not touched.
    expect((await inspect(other)).State.StartedAt).toBe(otherBefore.State.StartedAt);
  });

  it('a recreate whose new container cannot start puts the old one back, running as it was', async () => {
    w = await createWorld();
    const app = `${w.prefix}phoenix`;
    await w.writeManifest('phoenix.yaml', webApp(app, 'old'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    await pageWith(w.portBase + 1, 'old');

    // Another program holds the host port the new container wants: its start fails.
    const blocker = createServer().listen(w.portBase + 70, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      await w.writeManifest('phoenix.yaml', webApp(app, 'new', { extra: `ports: ["127.0.0.1:${w.portBase + 70}:8080"]\n` }));
      const r = await w.hdactl(['apply']);
      expect(r.stdout).toMatch(new RegExp(`^${app} failed: start container: .*${w.portBase + 70}`));
      // The Engine's words do not say where to fix it; hdactl adds the manifest.
      expect(r.stdout).toContain(`Host port ${w.portBase + 70} is taken by another program or container: stop what listens there, or choose another host port in ports: at ${w.manifests}/phoenix.yaml:7`);
      expect(r.code).toBe(1);
    } finally {
      blocker.close();
    }
    // With the port free again the change goes through.
    await expectRestoredThenApplied(w, app, before);
  });

  it('a container left dead by a removal that failed is removed again and the app created afresh, once the Engine can remove it', async () => {
    w = await createWorld();
    const app = `${w.prefix}ghost`;
    await w.writeManifest('ghost.yaml', webApp(app, 'ghost'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    // An immutable file in its writable layer: the Engine cannot delete it, so `docker rm -f` leaves the container dead.
    const stuck = path.join((before.GraphDriver.Data as unknown as { UpperDir: string }).UpperDir, 'www');
    const chattr = (flag: string) => promisify(execFile)('chattr', [flag, stuck]);
    await chattr('+i');
    try {
      await expect(docker.getContainer(before.Id).remove({ force: true })).rejects.toThrow(/failed to remove root filesystem/);
      expect((await inspect(app)).State.Status).toBe('dead');
      const planned = await w.hdactl(['plan']);
      expect(planned.stdout).toContain(`- remove ${app}: container dead: the Engine cannot start it`);
      expect(planned.stdout).toMatch(new RegExp(`^\\+ create ${app}: .*\\(in place of its dead container\\)$`, 'm'));
      // While the Engine still cannot remove it, apply says why, and leaves it.
      const failed = await w.hdactl(['apply']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(new RegExp(`^${app} failed: remove container: .*failed to remove root filesystem`, 'm'));
      expect((await inspect(app)).Id).toBe(before.Id);
    } finally {
      await chattr('-i');
    }
    const fixed = await w.hdactl(['apply']);
    expect(fixed.stdout).toMatch(new RegExp(`^${app} recreated: container dead: the Engine cannot start it; image .*\\(in place of its dead container\\)$`, 'm'));
    expect(fixed.code).toBe(0);
    const after = await inspect(app);
    expect(after.Id).not.toBe(before.Id);
    expect(after.State.Running).toBe(true);
    await pageWith(w.portBase + 1, 'ghost');
  });

  it('a recreate whose create timed out, and then happened late, removes the late container and puts the old one back, running', async () => {
    w = await createWorld();
    const app = `${w.prefix}latecomer`;
    await w.writeManifest('late.yaml', webApp(app, 'old'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    await pageWith(w.portBase + 1, 'old');

    await w.writeManifest('late.yaml', webApp(app, 'new'));
    const flags = Object.fromEntries(w.flags.flatMap((f, i) => (f.startsWith('--') ? [[f.slice(2), w!.flags[i + 1]!]] : [])));
    const deps = wire(resolveSettings(flags, {}, w.dir, 'none'), { logFd: 2, logLevel: 'silent' });
    const real = deps.engine;
    // The Engine carries out the create, but answers after hdactl has given up on it.
    const late = new Proxy(real, {
      get(target, key) {
        if (key === 'createContainer') {
          return async (req: CreateRequest) => {
            await target.createContainer(req);
            throw engineStuck(`create container ${req.name}`, target.endpoint, 60_000);
          };
        }
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await runPass({ ...deps, engine: late });
    const result = r.results.find((x) => x.app === app)!;
    expect(result.outcome).toBe('failed');
    expect(result.transient).toBe(true);

    // The next pass, with an Engine that answers, makes the change.
    await expectRestoredThenApplied(w, app, before);
  });

  it('a host port that an outgoing connection holds fails the start with "apply again", and the next apply, once it is closed, starts the app', async () => {
    w = await createWorld();
    const app = `${w.prefix}lent`;
    // A connection whose local port the kernel chose: nothing listens on that port, yet the Engine cannot publish it.
    const accepted: Socket[] = [];
    const peer = createServer((s) => accepted.push(s)).listen(0, '127.0.0.1');
    await once(peer, 'listening');
    const client = connect((peer.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const lent = client.localPort!;
    try {
      await w.writeManifest('lent.yaml', webApp(app, 'lent', { extra: `ports: ["127.0.0.1:${lent}:8080"]\n` }));
      const r = await w.hdactl(['apply']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`^${app} failed: start container: .*${lent}: bind: address already in use`, 'm'));
      expect(r.stdout).toContain(`Nothing listens on host port ${lent}, so an outgoing connection holds it (the kernel lends ports `);
      expect(r.stdout).toContain(`after hdactl apply, apply again. To keep the kernel off this port for good: sysctl -w net.ipv4.ip_local_reserved_ports=${lent}`);
    } finally {
      // The peer ends it: a port whose own side closes first stays held a minute (TIME_WAIT).
      const closed = once(client, 'close');
      for (const s of accepted) s.destroy();
      await closed;
      peer.close();
    }
    const retry = await w.hdactl(['apply']);
    expect(retry.stdout).toMatch(new RegExp(`^${app} started: `, 'm'));
    expect(retry.code).toBe(0);
    await pageWith(w.portBase + 1, 'lent');
  });

  it('an app whose vhost log directory cannot be made fails alone, its data left as it is, and applies once the directory can be made', async () => {
    w = await createWorld();
    const blocked = `${w.prefix}a`;
    const fine = `${w.prefix}b`;
    // A file where the app's data directory belongs: mkdir <dataRoot>/<app>/logs fails with ENOTDIR.
    await mkdir(w.dataRoot, { recursive: true });
    await writeFile(path.join(w.dataRoot, blocked), 'not a directory\n');
    await w.writeManifest('a.yaml', webApp(blocked, 'a'));
    await w.writeManifest('b.yaml', webApp(fine, 'b'));
    const first = await w.hdactl(['apply']);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`${blocked} failed: cannot create ${path.join(w.dataRoot, blocked, 'logs')} for its vhost's logs: ENOTDIR`);
    expect(first.stdout).toMatch(new RegExp(`^${fine} created: `, 'm'));
    expect(existsSync(path.join(w.vhostDir, `${fine}.conf`))).toBe(true);
    expect(existsSync(path.join(w.vhostDir, `${blocked}.conf`))).toBe(false);
    expect(await readFile(path.join(w.dataRoot, blocked), 'utf8')).toBe('not a directory\n');

    await rm(path.join(w.dataRoot, blocked));
    const second = await w.hdactl(['apply']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^${blocked} configured: `, 'm'));
    expect(existsSync(path.join(w.vhostDir, `${blocked}.conf`))).toBe(true);
  });

  it('keeps every app\'s id and host port across runs, even when the state file is lost', async () => {
    w = await createWorld();
    const a = `${w.prefix}a`;
    const b = `${w.prefix}b`;
    await w.writeManifest('a.yaml', webApp(a, 'a'));
    await w.writeManifest('b.yaml', webApp(b, 'b'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const portOf = async (name: string) => (await inspect(name)).HostConfig.PortBindings['80/tcp'][0].HostPort;
    const ports = { a: await portOf(a), b: await portOf(b) };
    expect(new Set([ports.a, ports.b])).toEqual(new Set([String(w.portBase + 1), String(w.portBase + 2)]));

    // An app added later gets a new port; the others keep theirs.
    const c = `${w.prefix}0c`;
    await w.writeManifest('c.yaml', webApp(c, 'c'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    expect(await portOf(c)).toBe(String(w.portBase + 3));
    // Without the state file the ids come back from the containers' labels.
    await rm(w.stateDir, { recursive: true, force: true });
    await w.writeManifest('a.yaml', webApp(a, 'a2'));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${a} recreated`);
    expect(r.code).toBe(0);
    expect({ a: await portOf(a), b: await portOf(b), c: await portOf(c) }).toEqual({ ...ports, c: String(w.portBase + 3) });
    await pageWith(Number(ports.a), 'a2');
    const plan = await w.hdactl(['plan']);
    expect(plan.code).toBe(0);

    // A container removed by hand comes back on its own port.
    await docker.getContainer(b).remove({ force: true });
    const back = await w.hdactl(['apply']);
    expect(back.stdout).toContain(`${b} created: image ${TEST_IMAGE}, web on 127.0.0.1:${ports.b} (container missing: removed outside hdactl, or never created)`);
    expect(await portOf(b)).toBe(ports.b);
    await pageWith(Number(ports.b), 'b');
  });

  it('a new app is not given a web port another program listens on', async () => {
    w = await createWorld();
    const app = `${w.prefix}dodge`;
    // Something outside Docker holds what would be the app's port (portBase + 1), on any address.
    const blocker = createServer().listen(w.portBase + 1);
    await once(blocker, 'listening');
    try {
      await w.writeManifest('dodge.yaml', webApp(app, 'dodged'));
      const r = await w.hdactl(['apply']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${app} created: image ${TEST_IMAGE}, web on 127.0.0.1:${w.portBase + 2} (new app)`);
      await pageWith(w.portBase + 2, 'dodged');
    } finally {
      blocker.close();
    }
    // The id is the app's for life: with the port free again it stays where it is.
    await w.writeManifest('dodge.yaml', webApp(app, 'still there'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    await pageWith(w.portBase + 2, 'still there');
  });

  it('a new app is not given a web port that a connection\'s local end holds either', async () => {
    w = await createWorld();
    const app = `${w.prefix}sidestep`;
    const peer = createServer().listen(0, '127.0.0.1');
    await once(peer, 'listening');
    // A connection out of what would be the app's port (portBase + 1), as an outgoing connection's ephemeral port would be.
    const client = connect({ port: (peer.address() as AddressInfo).port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: w.portBase + 1 });
    await once(client, 'connect');
    try {
      await w.writeManifest('sidestep.yaml', webApp(app, 'sidestepped'));
      const r = await w.hdactl(['apply']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${app} created: image ${TEST_IMAGE}, web on 127.0.0.1:${w.portBase + 2} (new app)`);
      await pageWith(w.portBase + 2, 'sidestepped');
    } finally {
      client.destroy();
      peer.close();
    }
  });

  it('state: stopped stops the app, state: running starts it again, and a container stopped or paused by hand runs again', async () => {
    w = await createWorld();
    const app = `${w.prefix}toggle`;
    await w.writeManifest('toggle.yaml', webApp(app, 'up'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const created = await inspect(app);

    await w.writeManifest('toggle.yaml', webApp(app, 'up', { extra: 'state: stopped\n' }));
    const stop = await w.hdactl(['apply']);
    expect(stop.stdout).toBe(`${app} stopped: state: stopped\n`);
    expect(stop.code).toBe(0);
    const stopped = await inspect(app);
    expect(stopped.Id).toBe(created.Id);
    expect(stopped.State.Running).toBe(false);
    expect((await w.hdactl(['apply'])).stdout).toBe(`${app} unchanged\n`);

    await w.writeManifest('toggle.yaml', webApp(app, 'up', { extra: 'state: running\n' }));
    const start = await w.hdactl(['apply']);
    expect(start.stdout).toMatch(new RegExp(`^${app} started: container exited`));
    const started = await inspect(app);
    expect(started.Id).toBe(created.Id);
    expect(started.State.Running).toBe(true);
    await pageWith(w.portBase + 1, 'up');

    await docker.getContainer(app).stop({ t: 5 });
    expect((await inspect(app)).State.Running).toBe(false);
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`> start ${app}: container exited`);
    expect(plan.code).toBe(2);
    const restart = await w.hdactl(['apply']);
    expect(restart.stdout).toMatch(new RegExp(`^${app} started`));
    const again = await inspect(app);
    expect(again.Id).toBe(created.Id);
    expect(again.State.Running).toBe(true);
    await pageWith(w.portBase + 1, 'up');

    // Paused by hand: "start" means unpause, not a failure on every run.
    await docker.getContainer(app).pause();
    const unpause = await w.hdactl(['apply']);
    expect(unpause.stdout).toMatch(new RegExp(`^${app} started: container up .*\\(paused\\)\\n$`));
    expect(unpause.code).toBe(0);
    const resumed = await inspect(app);
    expect(resumed.Id).toBe(created.Id);
    expect(resumed.State.Paused).toBe(false);
    expect(resumed.State.StartedAt).toBe(again.State.StartedAt);
    await pageWith(w.portBase + 1, 'up');
  });

  it('a new app with state: stopped is created but not started', async () => {
    w = await createWorld();
    const app = `${w.prefix}cold`;
    await w.writeManifest('cold.yaml', webApp(app, 'cold', { extra: 'state: stopped\n' }));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toMatch(new RegExp(`^${app} created: .*new app \\(state: stopped\\)`));
    const c = await inspect(app);
    expect(c.State.Status).toBe('created');
    expect((await w.hdactl(['apply'])).stdout).toBe(`${app} unchanged\n`);
  });

  it('deleting a manifest removes the container and keeps the app\'s data', async () => {
    w = await createWorld();
    const app = `${w.prefix}gone`;
    const file = await w.writeManifest('gone.yaml', webApp(app, 'bye', { extra: 'volumes: ["./config:/config"]\n' }));
    // Another app stays: with none left, apply removes nothing without --allow-empty (safety.test.ts).
    const stays = `${w.prefix}stays`;
    await w.writeManifest('stays.yaml', webApp(stays, 'still here'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const kept = await inspect(stays);
    const c = await inspect(app);
    const appDir = path.join(w.dataRoot, app);
    await writeFile(path.join(appDir, 'config', 'settings.ini'), 'keep=me\n');

    await rm(file);
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toBe(`${app} removed: manifest deleted; vhost removed\n${stays} unchanged\n`);
    expect(existsSync(path.join(w.vhostDir, `${app}.conf`))).toBe(false);
    expect(r.code).toBe(0);
    expect(await isGone(c.Id)).toBe(true);
    expect(await readFile(path.join(appDir, 'config', 'settings.ini'), 'utf8')).toBe('keep=me\n');
    expect((await w.containers()).map((c) => c.Id)).toEqual([kept.Id]);
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toBe('in sync: 1 app(s), nothing to do\n');
    expect(plan.code).toBe(0);
  });

  it('an app renamed in its manifest file is created under the new name, and the old one is removed saying where its data stays', async () => {
    w = await createWorld();
    const before = `${w.prefix}photos`;
    const after = `${w.prefix}pics`;
    await w.writeManifest('photos.yaml', webApp(before, 'same app', { extra: 'volumes: ["./config:/config"]\n' }));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    await writeFile(path.join(w.dataRoot, before, 'config', 'settings.ini'), 'keep=me\n');

    await w.writeManifest('photos.yaml', webApp(after, 'same app', { extra: 'volumes: ["./config:/config"]\n' }));
    const why = `renamed to ${after} in ${path.join(w.manifests, 'photos.yaml')}; its data stays in ${path.join(w.dataRoot, before)}`;
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`- remove ${before}: ${why}\n`);
    expect(plan.stdout).toMatch(new RegExp(`^\\+ create ${after}: .*\\(new app, renamed from ${before}: its data directory starts empty\\)$`, 'm'));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toContain(`${before} removed: ${why}; vhost removed\n`);
    expect(r.code).toBe(0);
    expect((await w.containers()).map((c) => c.Names[0])).toEqual([`/${after}`]);
    expect(await readFile(path.join(w.dataRoot, before, 'config', 'settings.ini'), 'utf8')).toBe('keep=me\n');
  });

  it('a host port moved from one app to another, or kept by an app renamed in its file, goes through in one apply', async () => {
    w = await createWorld();
    const port = w.portBase + 80;
    const withPort = { extra: `ports: ["127.0.0.1:${port}:8080"]\n` };
    const published = async (name: string) => (await inspect(name)).HostConfig.PortBindings['8080/tcp']?.[0]?.HostPort;
    const giver = `${w.prefix}giver`;
    const taker = `${w.prefix}taker`;
    await w.writeManifest('giver.yaml', webApp(giver, 'giver', withPort));
    expect((await w.hdactl(['apply'])).code).toBe(0);

    // One commit: giver drops the port and taker takes it. Taker's start waits for giver's recreate to free it.
    await w.writeManifest('giver.yaml', webApp(giver, 'giver'));
    await w.writeManifest('taker.yaml', webApp(taker, 'taker', withPort));
    const moved = await w.hdactl(['apply']);
    expect(moved.code, moved.stdout).toBe(0);
    expect(await published(taker)).toBe(String(port));
    expect(await published(giver)).toBeUndefined();

    // Renamed in its file, port and all: the new name waits for the old one's removal.
    const renamed = `${w.prefix}taken`;
    await w.writeManifest('taker.yaml', webApp(renamed, 'taker', withPort));
    const r = await w.hdactl(['apply']);
    expect(r.code, r.stdout).toBe(0);
    expect(await published(renamed)).toBe(String(port));
    expect(await isGone(taker)).toBe(true);
  });

  it('two apps that swap host ports in one change are both left running as they were, told how to do it', async () => {
    w = await createWorld();
    const [p1, p2] = [w.portBase + 91, w.portBase + 92];
    const on = (port: number) => ({ extra: `ports: ["127.0.0.1:${port}:8080"]\n` });
    const a = `${w.prefix}swapa`;
    const b = `${w.prefix}swapb`;
    await w.writeManifest('a.yaml', webApp(a, 'a', on(p1)));
    await w.writeManifest('b.yaml', webApp(b, 'b', on(p2)));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = { a: await inspect(a), b: await inspect(b) };

    await w.writeManifest('a.yaml', webApp(a, 'a', on(p2)));
    await w.writeManifest('b.yaml', webApp(b, 'b', on(p1)));
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`! ${a}: not changed: it takes host port ${p2}/tcp from app ${b}, which takes one of its own, in the same change; no order can apply that, and the apps run as they were: move one app to a spare port first, apply, then finish the swap\n`);
    expect(plan.stdout).toContain(`! ${b}: not changed: it takes host port ${p1}/tcp from app ${a}, which`);
    const r = await w.hdactl(['apply']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual([`${a} skipped`, `${b} skipped`]);
    for (const app of [a, b] as const) {
      const now = await inspect(app);
      expect(now.Id).toBe(before[app === a ? 'a' : 'b'].Id);
      expect(now.State.StartedAt).toBe(before[app === a ? 'a' : 'b'].State.StartedAt);
    }

    // The way out works: one app to a spare port, then the swap's second half.
    const spare = w.portBase + 93;
    await w.writeManifest('a.yaml', webApp(a, 'a', on(spare)));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    await w.writeManifest('a.yaml', webApp(a, 'a', on(p2)));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    expect((await inspect(a)).HostConfig.PortBindings['8080/tcp'][0].HostPort).toBe(String(p2));
    expect((await inspect(b)).HostConfig.PortBindings['8080/tcp'][0].HostPort).toBe(String(p1));
  });
});
