import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/loop/clock.js';
import { Debouncer } from '../../../src/loop/debounce.js';

describe('Debouncer', () => {
  it('fires once, a quiet period after the last poke of a burst', () => {
    const clock = new ManualClock();
    const fired: Array<[string, number]> = [];
    const d = new Debouncer(clock, 100, (k) => fired.push([k, clock.now()]));
    // An editor's atomic save and a git pull: ten touches, 30 ms apart.
    for (let i = 0; i < 10; i++) {
      d.poke('gitlab.yaml');
      clock.advance(30);
    }
    expect(fired).toEqual([]);
    clock.advance(69);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([['gitlab.yaml', 370]]);
    clock.advance(10_000);
    expect(fired).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('debounces each key on its own', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const d = new Debouncer(clock, 100, (k) => fired.push(k));
    d.poke('a');
    clock.advance(60);
    d.poke('b');
    clock.advance(40);
    expect(fired).toEqual(['a']);
    d.poke('a');
    clock.advance(60);
    expect(fired).toEqual(['a', 'b']);
    clock.advance(40);
    expect(fired).toEqual(['a', 'b', 'a']);
  });

  it('cancelAll drops pending fires', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const d = new Debouncer(clock, 100, (k) => fired.push(k));
    d.poke('a');
    d.poke('b');
    d.cancelAll();
    clock.advance(1000);
    expect(fired).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});
