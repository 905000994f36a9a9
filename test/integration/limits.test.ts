import { afterEach, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { TEST_IMAGE } from '../support/global-setup.js';
import { inspect, pageWith } from '../support/engine.js';
import { createWorld, type World } from '../support/world.js';

function limited(app: string, limits: string): string {
  return `app: ${app}\nkind: container-custom\nimage: ${TEST_IMAGE}\nweb: 80\nenv: { MESSAGE: limited }\n${limits}`;
}

describe('resource limits', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.cleanup();
    w = undefined;
  });

  it('a CPU limit above the host\'s CPUs, which only the Engine can refuse, fails with the file that sets it, and the running container keeps its limits', async () => {
    w = await createWorld();
    const app = `${w.prefix}greedy`;
    const file = await w.writeManifest('greedy.yaml', limited(app, 'limits: { cpus: 0.5 }\n'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const cpus = availableParallelism();
    await w.writeManifest('greedy.yaml', limited(app, `limits: { cpus: ${cpus + 62} }\n`));
    const r = await w.hdactl(['apply']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${app} failed: update container: Range of CPUs is from 0\\.01 to ${cpus}\\.00, as there (are|is) only ${cpus} CPUs? available: lower limits\\.cpus at ${file}:6\\n$`));
    expect((await inspect(app)).HostConfig.NanoCpus).toBe(500_000_000);
  });

  it('a limits change is applied live: same container, not restarted, new limits in the Engine', async () => {
    w = await createWorld();
    const app = `${w.prefix}lim`;
    await w.writeManifest('lim.yaml', limited(app, 'limits: { memory: 64m, cpus: 0.5, pids: 64 }\n'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    await pageWith(w.portBase + 1, 'limited');

    await w.writeManifest('lim.yaml', limited(app, 'limits: { memory: 96m, cpus: 1.5, pids: 128 }\n'));
    const plan = await w.hdactl(['plan']);
    expect(plan.stdout).toBe(`~ update-limits ${app}: memory 64m → 96m, cpus 0.5 → 1.5, pids 64 → 128\n`);
    expect(plan.code).toBe(2);
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toBe(`${app} limits-updated: memory 64m → 96m, cpus 0.5 → 1.5, pids 64 → 128\n`);
    expect(r.code).toBe(0);

    const after = await inspect(app);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.State.Running).toBe(true);
    expect(after.HostConfig.Memory).toBe(96 * 1024 * 1024);
    expect(after.HostConfig.NanoCpus).toBe(1_500_000_000);
    expect(after.HostConfig.PidsLimit).toBe(128);
    await pageWith(w.portBase + 1, 'limited');

    // The live limits are remembered: the next run sees nothing to do.
    const again = await w.hdactl(['apply']);
    expect(again.stdout).toBe(`${app} unchanged\n`);
    expect((await inspect(app)).HostConfig.Memory).toBe(96 * 1024 * 1024);
  });

  it('adding limits to an app without any is applied live, and dropping the pids limit lifts it live', async () => {
    w = await createWorld();
    const app = `${w.prefix}add`;
    await w.writeManifest('add.yaml', limited(app, ''));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);
    expect(before.HostConfig.Memory).toBe(0);

    await w.writeManifest('add.yaml', limited(app, 'limits: { memory: 32m, pids: 50 }\n'));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toBe(`${app} limits-updated: memory none → 32m, pids none → 50\n`);
    const mid = await inspect(app);
    expect(mid.Id).toBe(before.Id);
    expect(mid.State.StartedAt).toBe(before.State.StartedAt);
    expect(mid.HostConfig.Memory).toBe(32 * 1024 * 1024);
    expect(mid.HostConfig.PidsLimit).toBe(50);

    await w.writeManifest('add.yaml', limited(app, 'limits: { memory: 32m }\n'));
    const lift = await w.hdactl(['apply']);
    expect(lift.stdout).toBe(`${app} limits-updated: pids 50 → none\n`);
    const after = await inspect(app);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.HostConfig.PidsLimit ?? 0).toBeLessThanOrEqual(0);
    expect(after.HostConfig.Memory).toBe(32 * 1024 * 1024);
    expect((await w.hdactl(['apply'])).stdout).toBe(`${app} unchanged\n`);
  });

  it('dropping a memory limit recreates the container, since the Engine cannot lift it live', async () => {
    w = await createWorld();
    const app = `${w.prefix}drop`;
    await w.writeManifest('drop.yaml', limited(app, 'limits: { memory: 64m }\n'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const before = await inspect(app);

    await w.writeManifest('drop.yaml', limited(app, ''));
    const r = await w.hdactl(['apply']);
    expect(r.stdout).toBe(`${app} recreated: memory 64m → none (the Engine cannot lift it live)\n`);
    const after = await inspect(app);
    expect(after.Id).not.toBe(before.Id);
    expect(after.HostConfig.Memory).toBe(0);
    await pageWith(w.portBase + 1, 'limited');
    expect((await w.hdactl(['apply'])).stdout).toBe(`${app} unchanged\n`);
  });
});
