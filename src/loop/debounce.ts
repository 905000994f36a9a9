import type { Clock } from './clock.js';

/**
 * Coalesces bursts per key: `fire(key)` runs once, `ms` after the last call
 * for that key. Editors' atomic saves and `git pull` touch a file several
 * times; the pass should run once, after the burst.
 */
export class Debouncer {
  private readonly timers = new Map<string, unknown>();

  constructor(
    private readonly clock: Clock,
    private readonly ms: number,
    private readonly fire: (key: string) => void,
  ) {}

  /** Keys waiting to fire. */
  get size(): number {
    return this.timers.size;
  }

  poke(key: string): void {
    const t = this.timers.get(key);
    if (t !== undefined) this.clock.clearTimeout(t);
    this.timers.set(key, this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.fire(key);
    }, this.ms));
  }

  cancelAll(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}
