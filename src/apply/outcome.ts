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
