import type { AppPlan, Plan } from './actions.js';

/** The host ports a container publishes, as `8080/tcp`, whatever the address: 0.0.0.0 and 127.0.0.1 clash too. */
function hostPorts(spec: { ports: { hostPort: number; protocol: string }[] } | undefined): string[] {
  return (spec?.ports ?? []).map((p) => `${p.hostPort}/${p.protocol}`);
}

/**
 * A host port moved from one app to another in one change (or kept by an app
 * renamed in its file) is free only once the app that held it is removed or
 * recreated: the app that takes it over waits for that, instead of failing
 * with "port is already allocated". Apps that free ports run first; an app
 * waits only for apps before it, so no two wait for each other.
 */
export function portHandovers(p: Plan): { order: AppPlan[]; waitFor: Map<string, string[]> } {
  const freed = (a: AppPlan) => a.actions.flatMap((x) => (x.type === 'remove' || x.type === 'recreate' ? hostPorts(x.container.spec) : []));
  const taken = (a: AppPlan) => a.actions.flatMap((x) => (x.type === 'create' || x.type === 'recreate' ? hostPorts(x.desired.spec) : []));
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
