import type { AppPlan, Plan } from './actions.js';

/** The host ports a container publishes, as `8080/tcp`, whatever the address: 0.0.0.0 and 127.0.0.1 clash too. */
function hostPorts(spec: { ports: { hostPort: number; protocol: string }[] } | undefined): string[] {
  return (spec?.ports ?? []).map((p) => `${p.hostPort}/${p.protocol}`);
}

/** The host ports an app's steps free (a removal, a recreate's old container) and take (a create, a recreate's new one). */
const freed = (a: AppPlan) => a.actions.flatMap((x) => (x.type === 'remove' || x.type === 'recreate' ? hostPorts(x.container.spec) : []));
const taken = (a: AppPlan) => a.actions.flatMap((x) => (x.type === 'create' || x.type === 'recreate' ? hostPorts(x.desired.spec) : []));

/**
 * Apps that swap host ports with another in one change: each takes a port the
 * other frees, so neither can go first (a recreate puts its old container
 * back when the new one cannot start, and would do so at every retry).
 * Returns each such app with the other and the ports it wants from it.
 */
export function portSwaps(apps: readonly AppPlan[]): Map<string, { with: string; ports: string[] }> {
  const swaps = new Map<string, { with: string; ports: string[] }>();
  const moving = apps.filter((a) => a.actions.length);
  for (const a of moving) {
    for (const b of moving) {
      if (a === b) continue;
      const wanted = new Set(freed(b));
      const ports = taken(a).filter((port) => wanted.has(port));
      const back = new Set(freed(a));
      if (ports.length && taken(b).some((port) => back.has(port))) swaps.set(a.app, { with: b.app, ports });
    }
  }
  return swaps;
}

/**
 * A host port moved from one app to another in one change (or kept by an app
 * renamed in its file) is free only once the app that held it is removed or
 * recreated: the app that takes it over waits for that, instead of failing
 * with "port is already allocated". Apps that free ports run first; an app
 * waits only for apps before it, so no two wait for each other.
 */
export function portHandovers(p: Plan): { order: AppPlan[]; waitFor: Map<string, string[]> } {
  const rank = (a: AppPlan) => (freed(a).length ? (taken(a).length ? 1 : 0) : 2);
  const order = p.apps.map((a, i) => ({ a, i })).sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i).map((x) => x.a);
  const waitFor = new Map<string, string[]>();
  order.forEach((a, i) => {
    const wants = new Set(taken(a));
    const from = order.slice(0, i).filter((b) => b.app !== a.app && freed(b).some((port) => wants.has(port))).map((b) => b.app);
    if (from.length) waitFor.set(a.app, from);
  });
  return { order, waitFor };
}
