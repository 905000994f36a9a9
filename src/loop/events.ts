import type { Logger } from 'pino';
import type { Engine } from '../adapters/docker/engine.js';
import { Backoff } from './backoff.js';
import type { Clock } from './clock.js';

/**
 * Engine actions that mean a container may no longer be as wanted (start and
 * unpause: an app meant to be stopped; update: its limits changed by hand).
 */
const INTERESTING = /^(die|stop|destroy|oom|kill|pause|unpause|start|health_status|update)/;

/** What the event watcher reports to. */
export interface EventSink {
  /** Something happened to an app's container: `action` is the Engine's (die, update, …). */
  appEvent(app: string, action: string): void;
  /** The stream (re)connected after a gap: anything may have happened, re-list. */
  reconnected(): void;
  /** The Engine could not be reached. */
  unreachable(message: string): void;
}

/**
 * Follows the Engine's event stream for this instance's containers, and
 * reconnects with capped exponential backoff when it breaks (dockerd
 * restarted, socket gone). Every reconnect asks for a full re-list, as a
 * Kubernetes informer does after a watch gap.
 */
export async function followEngineEvents(engine: Engine, instance: string, sink: EventSink, clock: Clock, log: Logger, signal: AbortSignal): Promise<void> {
  const backoff = new Backoff(1000, 30_000);
  let first = true;
  while (!signal.aborted) {
    try {
      await engine.ping();
      // Stopped while the Engine was being reached (a ping can wait for a starting dockerd).
      if (signal.aborted) return;
      if (!first) sink.reconnected();
      first = false;
      backoff.reset('events');
      log.debug('engine event stream connected');
      await engine.watchEvents(instance, (e) => {
        if (!INTERESTING.test(e.action)) return;
        log.debug({ app: e.app, action: e.action, containerId: e.containerId.slice(0, 12) }, 'engine event');
        sink.appEvent(e.app, e.action);
      }, signal);
      if (signal.aborted) return;
      throw new Error('the Engine closed the event stream');
    } catch (err) {
      if (signal.aborted) return;
      first = false;
      const delay = backoff.fail('events');
      sink.unreachable((err as Error).message);
      log.warn({ err, retryInMs: delay }, 'engine event stream lost; reconnecting');
      await sleep(clock, delay, signal);
    }
  }
}

/**
 * Waits `ms`, or until `signal` aborts. The abort listener goes when the
 * timer fires: a follower retrying an Engine that stays down for days must
 * not pile one up per attempt on the daemon's signal.
 */
function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(t);
      resolve();
    };
    const t = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
