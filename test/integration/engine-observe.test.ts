import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/adapters/docker/engine.js';
import { asideName, LABEL } from '../../src/observe/types.js';
import { TEST_IMAGE } from '../support/global-setup.js';
import { docker } from '../support/world.js';

describe('the Engine adapter\'s list for some apps (keyed daemon passes)', () => {
  const p = `t${randomBytes(3).toString('hex')}-`;
  const instance = `obs-${p}`;
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.map((n) => docker.getContainer(n).remove({ force: true }).catch(() => undefined)));
  });

  /** Creates (not starts) a container; `app` makes it this instance's, or `of`'s. */
  async function make(name: string, app?: string, of = instance): Promise<string> {
    made.push(name);
    const labels: Record<string, string> = app ? { [LABEL.app]: app, [LABEL.instance]: of, [LABEL.id]: '7' } : {};
    const c = await docker.createContainer({ name, Image: TEST_IMAGE, Labels: labels });
    return c.id;
  }

  it('finds the apps\' containers, those set aside by a recreate and foreign names, and nothing else', async () => {
    const one = `${p}one`;
    const oneId = await make(one, one);
    const aside = asideName(one, oneId);
    await make(aside, one);
    await make(`${p}onex`, `${p}onex`); // another app whose name starts with the same letters
    await make(`${p}two`); // not hdactl's: a name conflict for app two
    await make(`${p}two-2`);
    await make(`${p}three`, `${p}three`, `other-${p}`); // another hdactl's app

    const engine = connectEngine();
    const some = await engine.listContainers(instance, new Set([one, `${p}two`, `${p}three`]));
    expect(some.owned.map((c) => c.name).sort()).toEqual([one, aside].sort());
    expect(some.owned.every((c) => c.app === one)).toBe(true);
    expect(new Map(some.foreignNames)).toEqual(new Map([[`${p}two`, undefined], [`${p}three`, `other-${p}`]]));

    const all = await engine.listContainers(instance);
    expect(all.owned.map((c) => c.name).sort()).toEqual([one, aside, `${p}onex`].sort());
    expect([...all.foreignNames.keys()]).toEqual(expect.arrayContaining([`${p}two`, `${p}two-2`]));
  });
});
