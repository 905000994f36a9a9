import type { Clock } from './clock.js';

/**
 * A work queue keyed by app, as in controller-runtime: a key added many times
 * while it waits is processed once; a key being processed is never handed out
 * again until it is done, and if it was added meanwhile it comes back after.
 */
export class WorkQueue {
  private readonly ready = new Set<string>();
  private readonly inFlight = new Set<string>();
  /** Keys added while in flight: by `add` (run again after) or only by `nudge`. */
  private readonly dirty = new Map<string, 'add' | 'nudge'>();
  private readonly delayed = new Map<string, { at: number; timer: unknown }>();
  /** When each ready key was last added, in `stamp()` ticks. */
  private readonly addedAt = new Map<string, number>();
  private ticks = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly clock: Clock) {}

  /** Queues `key` now. */
  add(key: string): void {
    if (this.closed) return;
    this.cancelDelay(key);
    if (this.inFlight.has(key)) {
      this.dirty.set(key, 'add');
      return;
    }
    this.ready.add(key);
    this.addedAt.set(key, ++this.ticks);
    this.wake();
  }

  /**
   * Queues `key` now, unless a wait set by `addAfter` (a failing app's backoff)
   * is pending, or will be once its pass in flight ends: then that wait stands.
   * For triggers that a failing pass causes itself (the Engine's events for
   * the containers it stopped, created and removed), which would otherwise
   * retry the app at once, again and again, instead of after its backoff.
   */
  nudge(key: string): void {
    if (this.closed || this.delayed.has(key)) return;
    if (this.inFlight.has(key)) {
      if (!this.dirty.has(key)) this.dirty.set(key, 'nudge');
      return;
    }
    this.add(key);
  }

  /** A point in the queue's history: keys added after it have a later `addedAt`. */
  stamp(): number {
    return this.ticks;
  }

  /** Queues `key` after `ms`, unless it is queued sooner by `add`. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    const at = this.clock.now() + ms;
    const d = this.delayed.get(key);
    if (d && d.at <= at) return;
    if (d) this.clock.clearTimeout(d.timer);
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /**
   * Takes every ready key that is not being processed, waiting until there is
   * one. Resolves with [] once the queue is closed.
   */
  async take(): Promise<string[]> {
    while (!this.closed && this.ready.size === 0) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
    if (this.closed) return [];
    const keys = [...this.ready];
    this.ready.clear();
    this.addedAt.clear();
    for (const k of keys) this.inFlight.add(k);
    return keys;
  }

  /**
   * Claims keys for processing outside `take` (a full resync): returns those
   * not already being processed; the rest are marked to run again after. A
   * waiting key added after `since` (when the claimer read the world) is
   * claimed and marked to run again too: its trigger may be newer than what
   * the claimer read.
   */
  claim(keys: Iterable<string>, since = Infinity): Set<string> {
    const got = new Set<string>();
    for (const k of keys) {
      if (this.inFlight.has(k)) {
        this.dirty.set(k, 'add');
        continue;
      }
      if (this.ready.delete(k) && (this.addedAt.get(k) ?? 0) > since) this.dirty.set(k, 'add');
      this.addedAt.delete(k);
      this.inFlight.add(k);
      got.add(k);
    }
    return got;
  }

  /**
   * Marks keys processed; those added meanwhile are queued again, and those
   * only nudged meanwhile too unless their pass set a wait (see `nudge`).
   */
  done(keys: Iterable<string>): void {
    for (const k of keys) {
      this.inFlight.delete(k);
      const how = this.dirty.get(k);
      this.dirty.delete(k);
      if (how === 'add' || (how === 'nudge' && !this.delayed.has(k))) this.add(k);
    }
  }

  /** Drops the wait set by `addAfter` for `key`, if any: its retry is no longer due. */
  cancelDelay(key: string): void {
    const d = this.delayed.get(key);
    if (!d) return;
    this.clock.clearTimeout(d.timer);
    this.delayed.delete(key);
  }

  /** Keys waiting: ready now, or held back by backoff. */
  get depth(): number {
    return this.ready.size + this.delayed.size;
  }

  /** Whether `key` is being processed. */
  isInFlight(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Whether `key` waits for a backoff timer. */
  isDelayed(key: string): boolean {
    return this.delayed.has(key);
  }

  /** Stops handing out work; pending takers get []. */
  close(): void {
    this.closed = true;
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.timer);
    this.delayed.clear();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}
