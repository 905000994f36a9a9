import { EngineError } from '../adapters/docker/errors.js';

/** How an app came out of a pass: the sentence "app X has been …". */
export type Outcome = 'created' | 'recreated' | 'limits-updated' | 'started' | 'stopped' | 'removed' | 'configured' | 'unchanged' | 'skipped' | 'failed';

/** What happened to one app in one pass. */
export interface AppResult {
  app: string;
  outcome: Outcome;
  /** Why, in words: the reasons of the steps that ran, or the error. */
  message: string;
  /** Set when the app failed: the error message, which says what to do next. */
  error?: string;
  /** True when retrying may fix the failure (Engine unreachable, pull failed). */
  transient?: boolean;
  /** The step types that ran, in order. */
  steps: string[];
}

/**
 * A failure that the host, not the manifest, has to put right (a disk not
 * mounted yet, a symlink to replace): the daemon retries it with backoff, so
 * the fix takes without a manifest change.
 */
export class HostError extends Error {
  override readonly name = 'HostError';
}

/**
 * True when retrying may fix the failure: the Engine's transient errors, a
 * HostError, and the host's own system errors (a disk full, a file system
 * gone read-only, an I/O error). Anything else waits for its manifest to change.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof EngineError) return err.transient;
  if (err instanceof HostError) return true;
  const e = err as NodeJS.ErrnoException | undefined;
  return typeof e?.code === 'string' && typeof e.syscall === 'string';
}
