import { describe, expect, it } from 'vitest';
import { BatchingCommitter, type VhostCommitter, type VhostFailure, type VhostWrite } from '../../../src/apply/vhosts.js';
import { ManualClock } from '../../../src/loop/clock.js';
import { peek, settle } from './flush.js';

/** Records each inner commit, like one configtest + reload of Apache. */
class RecordingCommitter implements VhostCommitter {
  readonly batches: string[][] = [];
  failures = new Map<string, VhostFailure>();
  async commit(writes: VhostWrite[]): Promise<Map<string, VhostFailure>> {
    this.batches.push(writes.map((c) => c.app));
    return this.failures;
  }
}

const change = (app: string): VhostWrite => ({ app, content: `# ${app}` });
const done = Promise.resolve(new Set<string>());

describe('BatchingCommitter', () => {
  it('turns several commits within its window into one inner commit', async () => {
    const clock = new ManualClock();
    const inner = new RecordingCommitter();
    const c = new BatchingCommitter(inner, clock, 200);
    const first = c.commit([change('a'), change('b')], done);
    clock.advance(50);
    const second = c.commit([change('c')], done);
    clock.advance(100);
    const third = c.commit([change('d')], done);
    await settle();
    expect(inner.batches).toEqual([]);
    inner.failures.set('c', { error: 'configtest failed', transient: false });
    clock.advance(50);
    await settle();
    expect(inner.batches).toEqual([['a', 'b', 'c', 'd']]);
    for (const p of [first, second, third]) expect((await peek(p)).done).toBe(true);
    expect((await third).get('c')?.error).toBe('configtest failed');
  });

  it('starts a new window for commits after a flush', async () => {
    const clock = new ManualClock();
    const inner = new RecordingCommitter();
    const c = new BatchingCommitter(inner, clock, 200);
    void c.commit([change('a')], done);
    clock.advance(200);
    await settle();
    void c.commit([change('b')], done);
    clock.advance(199);
    await settle();
    expect(inner.batches).toEqual([['a']]);
    clock.advance(1);
    await settle();
    expect(inner.batches).toEqual([['a'], ['b']]);
  });

  it('never runs two inner commits at once: a batch waits for the one before it', async () => {
    // Two configtests at once would see each other's files: a broken vhost of
    // the first batch would roll back, and terminally fail, the second batch's.
    const clock = new ManualClock();
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const batches: string[][] = [];
    const inner: VhostCommitter = {
      async commit(writes) {
        batches.push(writes.map((c) => c.app));
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
        return new Map();
      },
    };
    const c = new BatchingCommitter(inner, clock, 200);
    const first = c.commit([change('a')], done);
    clock.advance(200);
    await settle();
    expect(batches).toEqual([['a']]);
    const second = c.commit([change('b')], done);
    clock.advance(200);
    await settle();
    const third = c.commit([change('c')], done);
    clock.advance(200);
    await settle();
    expect(batches).toEqual([['a']]);
    releases.shift()!();
    await settle();
    expect((await peek(first)).done).toBe(true);
    // 'c' arrived while 'b' waited its turn: they go together.
    expect(batches).toEqual([['a'], ['b', 'c']]);
    expect((await peek(second)).done).toBe(false);
    releases.shift()!();
    for (const p of [second, third]) expect((await peek(p)).done).toBe(true);
    expect(most).toBe(1);
  });

  it('answers an empty commit at once, without a reload', async () => {
    const clock = new ManualClock();
    const inner = new RecordingCommitter();
    const c = new BatchingCommitter(inner, clock, 200);
    expect(await c.commit([], done)).toEqual(new Map());
    expect(clock.pending).toBe(0);
    expect(inner.batches).toEqual([]);
  });
});
