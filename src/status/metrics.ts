import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The daemon's Prometheus metrics, on a registry of its own. */
export class Metrics {
  readonly registry = new Registry();
  readonly passDuration = new Histogram({
    name: 'hdactl_reconcile_duration_seconds',
    help: 'Duration of reconcile passes.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly passes = new Counter({ name: 'hdactl_reconcile_passes_total', help: 'Reconcile passes run.', labelNames: ['result'], registers: [this.registry] });
  readonly apps = new Gauge({ name: 'hdactl_apps', help: 'Apps by condition that is True.', labelNames: ['condition'], registers: [this.registry] });
  readonly actions = new Counter({ name: 'hdactl_actions_total', help: 'Actions by kind and outcome.', labelNames: ['kind', 'outcome'], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'hdactl_queue_depth', help: 'Apps waiting in the work queue, including those in backoff.', registers: [this.registry] });
  readonly manifestProblems = new Gauge({ name: 'hdactl_manifest_problems', help: 'Problems in the manifests as of the latest pass (what hdactl validate prints).', registers: [this.registry] });
  readonly engineUp = new Gauge({ name: 'hdactl_engine_reachable', help: '1 when the Docker Engine answers.', registers: [this.registry] });
  /** What `hdactl_triggers_scheduled` reports; the daemon sets it. */
  scheduled: () => number = () => 0;
  readonly triggersScheduled: Gauge = new Gauge({
    name: 'hdactl_triggers_scheduled',
    help: 'Triggers that will queue apps once they settle: manifest files in their debounce, Engine events settling, and the checks that follow them.',
    registers: [this.registry],
    collect: (): void => this.triggersScheduled.set(this.scheduled()),
  });
  readonly engineCalls = new Gauge({ name: 'hdactl_engine_api_calls', help: 'Engine API calls made since start.', registers: [this.registry] });
}
