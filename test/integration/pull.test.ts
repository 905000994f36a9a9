import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../support/global-setup.js';
import { inspect, isGone, pageWith } from '../support/engine.js';
import { startRegistry, type PrivateRegistry } from '../support/registry.js';
import { createWorld, docker, type World } from '../support/world.js';

/** True when the Engine has the image locally. */
async function hasImage(ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

describe('images that are not here yet', () => {
  let registry: PrivateRegistry;
  let w: World | undefined;
  const pushed: string[] = [];
  beforeAll(async () => {
    registry = await startRegistry(5000);
  });
  afterEach(async () => {
    await w?.cleanup();
    w = undefined;
  });
  afterAll(async () => {
    await Promise.all(pushed.map((ref) => docker.getImage(ref).remove().catch(() => undefined)));
    await registry?.stop();
  });

  it('a missing image is pulled from its registry, then the app is created', async () => {
    w = await createWorld();
    const ref = await registry.pushAway(TEST_IMAGE, `hdactl/web:pull-${w.id}`);
    pushed.push(ref);
    expect(await hasImage(ref)).toBe(false);
    const app = `${w.prefix}pulled`;
    await w.writeManifest('pulled.yaml', `app: ${app}\nkind: container-custom\nimage: ${ref}\nweb: 80\nenv: { MESSAGE: pulled }\n`);

    const r = await w.hdactl(['apply']);
    expect(r.stderr).toContain(`${app}: pulling ${ref}`);
    expect(r.stdout).toMatch(new RegExp(`^${app} created: image ${ref.replace(/[.]/g, '\\.')}`));
    expect(r.code).toBe(0);
    expect(await hasImage(ref)).toBe(true);
    expect((await inspect(app)).Config.Image).toBe(ref);
    await pageWith(w.portBase + 1, 'pulled');
  });

  it('apps that share a missing image pull it once, and all of them are created', async () => {
    w = await createWorld();
    const ref = await registry.pushAway(TEST_IMAGE, `hdactl/web:shared-${w.id}`);
    pushed.push(ref);
    const apps = ['one', 'two', 'three'].map((n) => `${w!.prefix}${n}`);
    for (const app of apps) await w.writeManifest(`${app}.yaml`, `app: ${app}\nkind: container-custom\nimage: ${ref}\n`);

    const r = await w.hdactl(['apply']);
    expect(r.stderr.split('\n').filter((l) => l.endsWith(`: pulling ${ref}`))).toHaveLength(1);
    for (const app of apps) expect(r.stdout).toMatch(new RegExp(`^${app} created: image ${ref.replace(/[.]/g, '\\.')}`, 'm'));
    expect(r.code).toBe(0);
    for (const app of apps) expect((await inspect(app)).State.Running).toBe(true);
  });

  it('an image that exists nowhere fails its app, while the other app in the same apply is created', async () => {
    w = await createWorld();
    const missing = `${registry.host}/nope/missing:1`;
    const broken = `${w.prefix}broken`;
    const fine = `${w.prefix}fine`;
    await w.writeManifest('broken.yaml', `app: ${broken}\nkind: container-custom\nimage: ${missing}\nweb: 80\n`);
    await w.writeManifest('fine.yaml', `app: ${fine}\nkind: container-custom\nimage: ${TEST_IMAGE}\nweb: 80\nenv: { MESSAGE: fine }\n`);

    const r = await w.hdactl(['apply']);
    expect(r.stdout).toMatch(new RegExp(`^${broken} failed: pull ${missing.replace(/[.]/g, '\\.')} failed: .*`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${fine} created: `, 'm'));
    expect(r.code).toBe(1);
    expect(await isGone(broken)).toBe(true);
    expect(await hasImage(missing)).toBe(false);
    const port = Number((await inspect(fine)).HostConfig.PortBindings['80/tcp'][0].HostPort);
    await pageWith(port, 'fine');

    // The failure is not remembered as success: the next run tries again.
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toContain(`+ create ${broken}`);
    expect(plan.code).toBe(2);
  });
});
