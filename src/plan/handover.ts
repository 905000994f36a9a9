import type { AppPlan, Plan } from './actions.js';

/** The host ports a container publishes, as `8080/tcp`, whatever the address: 0.0.0.0 and 127.0.0.1 clash too. */
function hostPorts(spec: { ports: { hostPort: number; protocol: string }[] } | undefined): string[] {
  return (spec?.ports ?? []).map((p) => `${p.hostPort}/${p.protocol}`);
}

/** The host ports an app's steps free (a removal, a recreate's old container) and take (a create, a recreate's new one). */
const freed = (a: AppPlan) => a.actions.flatMap((x) => (x.type === 'remove' || x.type === 'recreate' ? hostPorts(x.container.spec) : []));
const taken = (a: AppPlan) => a.actions.flatMap((x) => (x.type === 'create' || x.type === 'recreate' ? hostPorts(x.desired.spec) : []));

/**
 * Apps that swap host ports in one change, two of them or in a ring: each
 * takes a port another frees, and following those takes leads back to it, so
 * none can go first (a recreate puts its old container back when the new one
 * cannot start, and would do so at every retry). Returns each such app with
 * the app it takes ports from, those ports, and the ring.
 */
export function portSwaps(apps: readonly AppPlan[]): Map<string, { with: string; ports: string[]; ring: string[] }> {
  const moving = apps.filter((a) => a.actions.length);
  // a → the apps it takes host ports from, and which
  const from = new Map(moving.map((a) => {
    const wants = new Set(taken(a));
    return [a.app, moving.filter((b) => b !== a).map((b) => ({ app: b.app, ports: freed(b).filter((port) => wants.has(port)) })).filter((e) => e.ports.length)] as const;
  }));
  const swaps = new Map<string, { with: string; ports: string[]; ring: string[] }>();
  for (const a of moving) {
    // The shortest way back to `a`, if any.
    const back = new Map<string, string>();
    const queue = [a.app];
    while (queue.length && !back.has(a.app)) {
      const x = queue.shift()!;
      for (const e of from.get(x) ?? []) if (!back.has(e.app)) (back.set(e.app, x), queue.push(e.app));
    }
    if (!back.has(a.app)) continue;
    // a → ring[1] → … → a, read backwards from the step that closes it.
    const path: string[] = [];
    for (let x = back.get(a.app)!; x !== a.app; x = back.get(x)!) path.unshift(x);
    const ring = [a.app, ...path];
    const first = from.get(a.app)!.find((e) => e.app === ring[1])!;
    swaps.set(a.app, { with: first.app, ports: first.ports, ring });
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
