import type { DesiredApp } from '../desired/model.js';
import type { ObservedContainer } from '../observe/types.js';

/** One field that differs between what runs and what is wanted. */
export interface Change {
  field: string;
  from: string;
  to: string;
}

/**
 * One step of an app's plan. The names finish the sentence "app X has been …"
 * (created, recreated, limits-updated, started, stopped, removed) and every
 * step carries why.
 */
export type Action =
  | { type: 'create'; desired: DesiredApp; reason: string }
  | { type: 'recreate'; desired: DesiredApp; container: ObservedContainer; changes: Change[] }
  | { type: 'update-limits'; desired: DesiredApp; container: ObservedContainer; changes: Change[] }
  | { type: 'start'; container: ObservedContainer; reason: string }
  | { type: 'stop'; container: ObservedContainer; timeoutSeconds?: number; reason: string }
  | { type: 'remove'; container: ObservedContainer; reason: string }
  | { type: 'vhost-create'; content: string; reason: string }
  | { type: 'vhost-update'; content: string; reason: string }
  | { type: 'vhost-remove'; reason: string };

/** An app's plan: its ordered steps, or why it is left alone. */
export interface AppPlan {
  app: string;
  desired?: DesiredApp;
  /** Steps in the order they must run; empty = unchanged. */
  actions: Action[];
  /**
   * Set when the app must not be touched (an invalid manifest, a name
   * conflict): a terminal error that waits for its input to change.
   */
  blocked?: string;
  /** A problem with one part only (a hand-written vhost), reported while the rest proceeds. */
  warning?: string;
}

/** A whole plan. */
export interface Plan {
  apps: AppPlan[];
}

/** True when the plan changes nothing. */
export function isInSync(plan: Plan): boolean {
  return plan.apps.every((a) => a.actions.length === 0);
}
