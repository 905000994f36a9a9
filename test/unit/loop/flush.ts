/**
 * Lets every pending promise callback run. Not a sleep: no time passes on any
 * clock; setImmediate runs after the microtask queue has drained.
 */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A promise's state, without waiting for it. */
export async function peek<T>(p: Promise<T>): Promise<{ done: true; value: T } | { done: false }> {
  let out: { done: true; value: T } | { done: false } = { done: false };
  void p.then((value) => (out = { done: true, value }));
  await settle();
  return out;
}
