import { describe, expect, it } from 'vitest';
import type { AppPlan } from '../../src/plan/actions.js';
import { portHandovers, portSwaps } from '../../src/plan/handover.js';

/** An app's plan that moves its extra host ports from `was` to `will` (a recreate), or only creates or removes. */
function moving(app: string, was: number[] | undefined, will: number[] | undefined): AppPlan {
  const spec = (ports: number[]) => ({ ports: ports.map((hostPort) => ({ hostIp: '127.0.0.1', hostPort, containerPort: 8080, protocol: 'tcp' })) });
  const container = was && { app, name: app, spec: spec(was) };
  const desired = will && { app, spec: spec(will) };
  const action = container && desired ? { type: 'recreate', container, desired, changes: [] } : container ? { type: 'remove', container, reason: 'manifest deleted' } : { type: 'create', desired, reason: 'new app' };
  return { app, actions: [action] } as unknown as AppPlan;
}

describe('host ports handed over between apps in one change', () => {
  it('a port moved from one app to another: the taker waits for the giver, which runs first', () => {
    const plan = { apps: [moving('a-taker', undefined, [1883]), moving('b-giver', [1883], [])] };
    const { order, waitFor } = portHandovers(plan);
    expect(order.map((a) => a.app)).toEqual(['b-giver', 'a-taker']);
    expect(Object.fromEntries(waitFor)).toEqual({ 'a-taker': ['b-giver'] });
    expect(portSwaps(plan.apps).size).toBe(0);
  });

  it('two apps swapping ports, or three in a ring, are each found with the app they take from; the others are not', () => {
    const pair = [moving('a', [1], [2]), moving('b', [2], [1]), moving('c', [3], [4])];
    expect(Object.fromEntries(portSwaps(pair))).toEqual({
      a: { with: 'b', ports: ['2/tcp'], ring: ['a', 'b'] },
      b: { with: 'a', ports: ['1/tcp'], ring: ['b', 'a'] },
    });
    const ring = [moving('x', [1], [2]), moving('y', [2], [3]), moving('z', [3], [1]), moving('free', undefined, [4])];
    expect(Object.fromEntries(portSwaps(ring))).toEqual({
      x: { with: 'y', ports: ['2/tcp'], ring: ['x', 'y', 'z'] },
      y: { with: 'z', ports: ['3/tcp'], ring: ['y', 'z', 'x'] },
      z: { with: 'x', ports: ['1/tcp'], ring: ['z', 'x', 'y'] },
    });
    // A chain that ends (the last port was free) is no ring: it is applied in order.
    expect(portSwaps([moving('x', [1], [2]), moving('y', [2], [3]), moving('z', [3], [])]).size).toBe(0);
  });
});
