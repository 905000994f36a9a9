import type { Engine } from '../adapters/docker/engine.js';
import type { State } from '../adapters/state/store.js';
import type { VhostStore } from '../adapters/vhost/store.js';
import type { Observed } from './types.js';

/**
 * Reads the world in one list call and one directory read: this instance's
 * containers (by label alone), other containers' names, and the vhost files.
 * Limits applied live come from the state file, since labels cannot change;
 * those of the apps in `limitsChanged` (the Engine reported an update of
 * their container, perhaps a `docker update` by hand) from an inspect.
 * With `apps`, only what concerns those apps is read (the daemon's keyed passes).
 */
export async function observe(engine: Engine, vhosts: VhostStore, instance: string, state: State, apps?: ReadonlySet<string>, limitsChanged?: ReadonlySet<string>): Promise<Observed> {
  const [{ owned, foreignNames }, files] = await Promise.all([engine.listContainers(instance, apps), vhosts.list(apps)]);
  for (const c of owned) {
    const live = state.apps[c.app]?.limits;
    if (live && live.containerId === c.id) c.limits = live.limits;
  }
  await Promise.all(owned.filter((c) => c.name === c.app && limitsChanged?.has(c.app)).map(async (c) => {
    // Gone meanwhile: the list's answer stands, and the next pass sees it go.
    const d = await engine.inspectDetails(c.id).catch(() => undefined);
    if (d) c.limits = d.limits;
  }));
  return { containers: owned, foreignNames, vhosts: files.managed, foreignVhosts: files.foreign };
}
