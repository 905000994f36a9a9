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
});
