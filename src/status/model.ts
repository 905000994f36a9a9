import type { AppResult } from '../apply/outcome.js';
import type { PassPlan } from '../pass.js';
import type { DesiredApp } from '../desired/model.js';
import { formatSize } from '../desired/units.js';
import { formatProblem, type Problem } from '../manifest/problem.js';
import { appColumns, appContainer } from './status.js';

/** Kubernetes-style condition types. */
export type ConditionType = 'Ready' | 'Progressing' | 'Degraded';

/** One condition of an app. `lastTransitionTime` moves only when `status` changes. */
export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** An app's status as the daemon reports it. */
export interface AppStatus {
  app: string;
  state: string;
  /** The manifest's image (or, for an app the manifests no longer describe, the container's). */
  image: string;
  /** The image the container still runs while an update to `image` has not gone through. */
  runningImage?: string;
  url: string;
  hostPort: string;
  vhost: string;
  limits: { memory?: string; cpus?: number; pids?: number };
  conditions: Condition[];
  /** The manifest generation (content hash) this app last converged to. */
  appliedGeneration?: string;
  /** The manifest generation seen in the latest pass. */
  generation?: string;
  lastError?: string;
  restartCount?: number;
  failures: number;
  nextRetry?: string;
  containerId?: string;
}

/** A notable thing that happened, for the event ring. */
export interface RecordedEvent {
  time: string;
  app: string;
  type: 'created' | 'recreated' | 'limits-updated' | 'started' | 'stopped' | 'removed' | 'failed' | 'backoff' | 'drift-repaired' | 'engine' | 'invalid';
  message: string;
}

/** The whole status document served at /status. */
export interface StatusDocument {
  engine: { reachable: boolean; endpoint: string; message?: string };
  lastPass?: string;
  apps: AppStatus[];
  /**
   * What `hdactl validate` would print, as of the latest pass: a file that
   * cannot be parsed names no app, so only this list shows it.
   */
  problems: Array<Problem & { text: string }>;
  events: RecordedEvent[];
}

const EVENT_OF: Partial<Record<AppResult['outcome'], RecordedEvent['type']>> = {
  created: 'created',
  recreated: 'recreated',
  'limits-updated': 'limits-updated',
  started: 'started',
  stopped: 'stopped',
  removed: 'removed',
  failed: 'failed',
};

/** The container's state once an outcome's steps have succeeded. */
const STATE_AFTER: Partial<Record<AppResult['outcome'], string>> = {
  created: 'running',
  recreated: 'running',
  started: 'running',
  stopped: 'exited',
};

/** Holds the daemon's view of every app, its conditions and the recent events. */
export class StatusStore {
  private readonly apps = new Map<string, AppStatus>();
  private readonly events: RecordedEvent[] = [];
  private problems: StatusDocument['problems'] = [];
  engine: StatusDocument['engine'];
  /** When the Engine was last reported unreachable. */
  private engineLostAt = -Infinity;
  lastPass?: string;

  constructor(
    endpoint: string,
    private readonly now: () => number,
    private readonly ports: { vhostPort: number; portBase: number },
    private readonly ringSize = 200,
  ) {
    this.engine = { reachable: true, endpoint };
  }

  /**
   * Records a pass: what was observed for every app, and the outcome of those
   * applied. `mayRecord` leaves out apps whose status is newer than this pass's
   * observation (another pass changed them meanwhile); by default, all.
   */
  recordPass(p: PassPlan, results: AppResult[], mayRecord: (app: string) => boolean = () => true): Problem[] {
    this.lastPass = this.iso();
    const added = this.recordProblems(p.desired.problems);
    const byApp = new Map(results.map((r) => [r.app, r]));
    const seen = new Set<string>();
    for (const a of p.plan.apps) {
      seen.add(a.app);
      if (!mayRecord(a.app)) continue;
      const c = appContainer(a.app, p.observed);
      const d = a.desired;
      const s = this.get(a.app);
      delete s.runningImage;
      Object.assign(s, appColumns(a, c, p.observed, this.ports));
      const limits = d?.limits ?? c?.limits ?? {};
      s.limits = {
        ...(limits.memoryBytes !== undefined ? { memory: formatSize(limits.memoryBytes) } : {}),
        ...(limits.nanoCpus !== undefined ? { cpus: limits.nanoCpus / 1e9 } : {}),
        ...(limits.pids !== undefined ? { pids: limits.pids } : {}),
      };
      if (d) s.generation = d.generation;
      if (c) s.containerId = c.id.slice(0, 12);
      const r = byApp.get(a.app);
      if (!r) {
        // Not applied in this pass: its plan still says whether it is in sync.
        if (a.blocked) this.degrade(s, 'Blocked', a.blocked, c?.state === 'running');
        continue;
      }
      this.recordResult(s, r, a.actions.some((x) => 'reason' in x && x.reason.startsWith('drifted')), d);
      if (r.outcome === 'removed') this.apps.delete(a.app);
    }
    for (const app of [...this.apps.keys()]) if (!seen.has(app) && mayRecord(app)) this.apps.delete(app);
    return added;
  }

  /**
   * Every pass reads all manifests, so its problems replace the last. Returns
   * those not seen in the pass before, which get an event (once, not per pass).
   */
  private recordProblems(problems: Problem[]): Problem[] {
    const before = new Set(this.problems.map((p) => p.text));
    this.problems = problems.map((p) => ({ ...p, text: formatProblem(p) }));
    const added = this.problems.filter((p) => !before.has(p.text));
    for (const p of added) this.event(p.app ?? '-', 'invalid', p.text);
    return added;
  }

  /** Manifest problems as of the latest pass. */
  problemCount(): number {
    return this.problems.length;
  }

  private recordResult(s: AppStatus, r: AppResult, drift: boolean, d: DesiredApp | undefined): void {
    if (r.outcome === 'failed' || r.outcome === 'skipped') {
      s.lastError = r.error ?? r.message;
      this.degrade(s, r.transient ? 'BackOff' : r.outcome === 'skipped' ? 'Blocked' : 'Failed', s.lastError, s.state === 'running', r.transient === true);
      if (r.outcome === 'failed') this.event(r.app, 'failed', r.message);
      return;
    }
    s.failures = 0;
    delete s.nextRetry;
    delete s.lastError;
    if (d) s.appliedGeneration = d.generation;
    // `state` was observed before this pass acted. Without this, a created app
    // read `missing` (and a stopped one `running`) until the next pass, which
    // for an app without a vhost or Engine events is the resync, a minute later.
    // An app with state: stopped is created without a start.
    const after = d?.state === 'stopped' && (r.outcome === 'created' || r.outcome === 'recreated') ? 'created' : STATE_AFTER[r.outcome];
    if (after) s.state = after;
    // Likewise the vhost: written in this pass and, with the pass succeeded, live.
    if (r.steps.includes('vhost-create') || r.steps.includes('vhost-update')) s.vhost = 'in sync';
    if (r.outcome === 'created' || r.outcome === 'recreated') {
      // The observed container is gone or was never there; the next pass sees the new one.
      delete s.containerId;
      delete s.restartCount;
      delete s.runningImage;
    }
    const up = s.state === 'running' || r.outcome === 'created' || r.outcome === 'recreated' || r.outcome === 'started';
    this.setCondition(s, 'Ready', up || r.outcome === 'stopped' ? 'True' : 'False', up ? 'Running' : r.outcome === 'stopped' ? 'Stopped' : 'NotRunning', r.message);
    this.setCondition(s, 'Progressing', 'False', 'Converged', r.outcome === 'unchanged' ? 'in sync' : `${r.outcome}: ${r.message}`);
    this.setCondition(s, 'Degraded', 'False', 'AsExpected', '');
    const type = EVENT_OF[r.outcome];
    if (drift) this.event(r.app, 'drift-repaired', r.message);
    else if (type) this.event(r.app, type, r.message);
  }

  private degrade(s: AppStatus, reason: string, message: string, running: boolean, retrying = false): void {
    this.setCondition(s, 'Degraded', 'True', reason, message);
    this.setCondition(s, 'Progressing', retrying ? 'True' : 'False', retrying ? 'Retrying' : reason, message);
    this.setCondition(s, 'Ready', running ? 'True' : 'False', running ? 'Running' : 'NotRunning', running ? 'running as it was' : message);
  }

  /** An app is being reconciled now. */
  markProgressing(app: string): void {
    this.setCondition(this.get(app), 'Progressing', 'True', 'Reconciling', 'reconcile in progress');
  }

  /** An app failed transiently and waits `ms` before its next try. */
  recordBackoff(app: string, ms: number, failures: number, error: string): void {
    const s = this.get(app);
    s.failures = failures;
    s.nextRetry = new Date(this.now() + ms).toISOString();
    s.lastError = error;
    this.event(app, 'backoff', `retry ${failures} in ${Math.round(ms / 1000)}s: ${error}`);
  }

  /** The Engine became reachable or unreachable. */
  /**
   * Records whether the Engine answers. `seenAt` is when the reporter last
   * heard from it (a pass: when it began): news older than the last loss is
   * dropped, so a pass that began before the Engine went away cannot report
   * it back. Returns whether the report was taken.
   */
  setEngine(reachable: boolean, message?: string, seenAt = this.now()): boolean {
    if (reachable && seenAt < this.engineLostAt) return false;
    if (!reachable) this.engineLostAt = this.now();
    if (this.engine.reachable !== reachable) this.event('-', 'engine', reachable ? 'Engine reachable again' : `Engine unreachable: ${message ?? ''}`);
    this.engine = { ...this.engine, reachable, ...(message && !reachable ? { message } : {}) };
    if (reachable) delete this.engine.message;
    return true;
  }

  setRestartCount(app: string, n: number): void {
    const s = this.apps.get(app);
    if (s) s.restartCount = n;
  }

  /** The status document. */
  snapshot(): StatusDocument {
    return {
      engine: { ...this.engine },
      ...(this.lastPass ? { lastPass: this.lastPass } : {}),
      apps: [...this.apps.values()].sort((a, b) => a.app.localeCompare(b.app)).map((a) => structuredClone(a)),
      problems: this.problems.map((p) => ({ ...p })),
      events: [...this.events].reverse(),
    };
  }

  /** Recent events, newest last. */
  recentEvents(): RecordedEvent[] {
    return [...this.events];
  }

  /** Counts apps by condition that is True. */
  countByCondition(): Record<ConditionType, number> {
    const out: Record<ConditionType, number> = { Ready: 0, Progressing: 0, Degraded: 0 };
    for (const a of this.apps.values()) for (const c of a.conditions) if (c.status === 'True') out[c.type]++;
    return out;
  }

  private event(app: string, type: RecordedEvent['type'], message: string): void {
    this.events.push({ time: this.iso(), app, type, message });
    if (this.events.length > this.ringSize) this.events.splice(0, this.events.length - this.ringSize);
  }

  private get(app: string): AppStatus {
    let s = this.apps.get(app);
    if (!s) {
      s = { app, state: 'unknown', image: '', url: '', hostPort: '', vhost: '-', limits: {}, conditions: [], failures: 0 };
      this.apps.set(app, s);
    }
    return s;
  }

  private setCondition(s: AppStatus, type: ConditionType, status: Condition['status'], reason: string, message: string): void {
    const prev = s.conditions.find((c) => c.type === type);
    const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : this.iso();
    const next: Condition = { type, status, reason, message, lastTransitionTime };
    s.conditions = [...s.conditions.filter((c) => c.type !== type), next].sort((a, b) => a.type.localeCompare(b.type));
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}
