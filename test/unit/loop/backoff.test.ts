import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/loop/backoff.js';

describe('Backoff', () => {
  it('waits 1 s, 2 s, 4 s … after consecutive failures, capped at 5 minutes', () => {
    const b = new Backoff();
    const waits = Array.from({ length: 12 }, () => b.fail('app'));
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000]);
    expect(b.count('app')).toBe(12);
  });

  it('stays at the cap after very many failures (no overflow)', () => {
    const b = new Backoff();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.fail('app');
    expect(last).toBe(300_000);
    expect(b.delay(5000)).toBe(300_000);
  });

  it('starts from 1 s again after a success', () => {
    const b = new Backoff();
    b.fail('app');
    b.fail('app');
    b.fail('app');
    b.reset('app');
    expect(b.count('app')).toBe(0);
    expect(b.fail('app')).toBe(1000);
  });

  it('counts each key on its own', () => {
    const b = new Backoff(500, 10_000);
    b.fail('a');
    b.fail('a');
    expect(b.fail('a')).toBe(2000);
    expect(b.fail('b')).toBe(500);
    b.reset('a');
    expect(b.fail('b')).toBe(1000);
  });
});
