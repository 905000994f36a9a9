import { getEventListeners } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/adapters/docker/engine.js';
import { ManualClock } from '../../../src/loop/clock.js';
import { followEngineEvents } from '../../../src/loop/events.js';
import { settle } from './flush.js';

describe('following the Engine\'s events', () => {
  it('a stop while the Engine is being reached ends the follower once the ping answers, without opening a stream', async () => {
    let answerPing!: () => void;
    let streams = 0;
    const engine = {
      ping: () => new Promise<void>((r) => (answerPing = r)),
      // As the real one does, the stream opens after an await and only then listens for the abort.
      watchEvents: async (_instance: string, _on: unknown, signal: AbortSignal) => {
        streams++;
        await Promise.resolve();
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    } as unknown as Engine;
    const abort = new AbortController();
    const sink = { appEvent: () => undefined, reconnected: () => undefined, unreachable: () => undefined };
    let ended = false;
    void followEngineEvents(engine, 'default', sink, new ManualClock(), pino({ level: 'silent' }), abort.signal).then(() => (ended = true));
    await settle();
    abort.abort();
    answerPing();
    await settle();
    expect(ended).toBe(true);
    expect(streams).toBe(0);
  });

  it('an Engine that stays down is retried with backoff, without one more abort listener per attempt', async () => {
    let pings = 0;
    const engine = {
      ping: async () => {
        pings++;
        throw new Error('connect ENOENT /var/run/docker.sock');
      },
    } as unknown as Engine;
    const abort = new AbortController();
    const lost: string[] = [];
    const sink = { appEvent: () => undefined, reconnected: () => undefined, unreachable: (m: string) => lost.push(m) };
    const clock = new ManualClock();
    let ended = false;
    void followEngineEvents(engine, 'default', sink, clock, pino({ level: 'silent' }), abort.signal).then(() => (ended = true));
    await settle();
    // 1 s, 2 s, 4 s … capped at 30 s: ten attempts within 5 minutes.
    for (let i = 0; i < 10; i++) {
      clock.advance(30_000);
      await settle();
    }
    expect(pings).toBe(11);
    expect(lost).toHaveLength(11);
    expect(lost[0]).toContain('ENOENT');
    // Only the wait now under way listens for the abort.
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
    abort.abort();
    await settle();
    expect(ended).toBe(true);
  });
});
