import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/loop/clock.js';
import { WorkQueue } from '../../../src/loop/queue.js';
import { peek } from './flush.js';

describe('WorkQueue', () => {
  it('hands out a key queued 100 times while it waited once', async () => {
    const q = new WorkQueue(new ManualClock());
    for (let i = 0; i < 100; i++) q.add('gitlab');
    expect(q.depth).toBe(1);
    expect(await q.take()).toEqual(['gitlab']);
    q.done(['gitlab']);
    // Nothing else is queued: the next take waits.
    expect(await peek(q.take())).toEqual({ done: false });
    q.close();
  });

  it('hands out every waiting key in one take, each once', async () => {
    const q = new WorkQueue(new ManualClock());
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect((await q.take()).sort()).toEqual(['a', 'b', 'c']);
  });

  it('never hands out a key in flight; one re-added meanwhile comes back once after done', async () => {
    const q = new WorkQueue(new ManualClock());
    q.add('nextcloud');
    expect(await q.take()).toEqual(['nextcloud']);
    q.add('nextcloud');
    q.add('nextcloud');
    const second = q.take();
    expect(await peek(second)).toEqual({ done: false });
    q.done(['nextcloud']);
    expect(await peek(second)).toEqual({ done: true, value: ['nextcloud'] });
    q.done(['nextcloud']);
    expect(await peek(q.take())).toEqual({ done: false });
    q.close();
  });

  it('a key in flight that was not re-added does not come back after done', async () => {
    const q = new WorkQueue(new ManualClock());
    q.add('a');
    await q.take();
    q.done(['a']);
    expect(q.depth).toBe(0);
    expect(await peek(q.take())).toEqual({ done: false });
    q.close();
  });

  it('claim takes keys that are not in flight and marks the others to run again', async () => {
    const q = new WorkQueue(new ManualClock());
    q.add('busy');
    await q.take();
    q.add('waiting');
    expect([...q.claim(['busy', 'waiting', 'idle'])].sort()).toEqual(['idle', 'waiting']);
    // 'waiting' was claimed: it is no longer ready.
    expect(q.depth).toBe(0);
    q.done(['busy', 'waiting', 'idle']);
    expect(await q.take()).toEqual(['busy']);
  });

  it('a waiting key added after the claimer read the world is claimed, and runs again after', async () => {
    const q = new WorkQueue(new ManualClock());
    q.add('before');
    const since = q.stamp();
    q.add('after');
    expect([...q.claim(['before', 'after'], since)].sort()).toEqual(['after', 'before']);
    expect(q.depth).toBe(0);
    q.done(['before', 'after']);
    expect(await q.take()).toEqual(['after']);
  });

  it('addAfter holds a key back until the clock reaches its time', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    q.addAfter('jellyfin', 1000);
    expect(q.isDelayed('jellyfin')).toBe(true);
    expect(q.depth).toBe(1);
    const next = q.take();
    clock.advance(999);
    expect(await peek(next)).toEqual({ done: false });
    clock.advance(1);
    expect(await peek(next)).toEqual({ done: true, value: ['jellyfin'] });
    expect(q.isDelayed('jellyfin')).toBe(false);
  });

  it('addAfter keeps the sooner of two times, and add cancels the wait', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    q.addAfter('a', 1000);
    q.addAfter('a', 5000); // later: ignored
    q.addAfter('b', 5000);
    q.addAfter('b', 2000); // sooner: replaces
    clock.advance(1000);
    expect(await q.take()).toEqual(['a']);
    clock.advance(1000);
    expect(await q.take()).toEqual(['b']);
    expect(clock.pending).toBe(0);

    q.addAfter('c', 60_000);
    q.add('c');
    expect(q.isDelayed('c')).toBe(false);
    expect(clock.pending).toBe(0);
    expect(await q.take()).toEqual(['c']);
  });

  it('nudge queues a key unless a wait is pending for it, or set by the pass in flight; add cuts the wait short', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    q.addAfter('a', 1000);
    q.nudge('a');
    expect(await peek(q.take())).toEqual({ done: false });
    // In flight, and its pass sets a wait before done: the nudge made meanwhile waits for it.
    clock.advance(1000);
    expect(await q.take()).toEqual(['a']);
    q.nudge('a');
    q.addAfter('a', 2000);
    q.done(['a']);
    expect(await peek(q.take())).toEqual({ done: false });
    // Without a wait, a nudge made meanwhile runs the key again after done.
    clock.advance(2000);
    expect(await q.take()).toEqual(['a']);
    q.nudge('a');
    q.done(['a']);
    expect(await q.take()).toEqual(['a']);
    // An add made meanwhile runs it again after done even though its pass set a wait.
    q.add('a');
    q.addAfter('a', 4000);
    q.done(['a']);
    expect(await q.take()).toEqual(['a']);
    q.done(['a']);
    expect(q.depth).toBe(0);
    q.close();
  });

  it('close releases waiting takers with no keys and drops delayed keys', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    q.addAfter('a', 1000);
    const waiting = q.take();
    q.close();
    expect(await waiting).toEqual([]);
    expect(clock.pending).toBe(0);
    q.add('b');
    expect(await q.take()).toEqual([]);
  });
});
