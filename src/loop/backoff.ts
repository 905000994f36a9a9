/** Per-key exponential backoff: base, 2×base, 4×base … up to a cap. */
export class Backoff {
  private readonly failures = new Map<string, number>();

  constructor(
    readonly baseMs = 1000,
    readonly capMs = 5 * 60_000,
  ) {}

  /** Records a failure of `key` and returns how long to wait before retrying it. */
  fail(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    return this.delay(n);
  }

  /** The wait after the n-th consecutive failure. */
  delay(n: number): number {
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(n - 1, 30));
  }

  /** A success: the key starts from the base again next time. */
  reset(key: string): void {
    this.failures.delete(key);
  }

  /** Consecutive failures of `key`. */
  count(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
