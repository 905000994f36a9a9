import type { Logger } from 'pino';
import type { WebServerControl } from '../adapters/apache/control.js';
import type { VhostStore } from '../adapters/vhost/store.js';
import type { Clock } from '../loop/clock.js';

/** A vhost file changed in a pass, with what to put back if the configtest fails. */
export interface VhostChange {
  app: string;
  previous: string | undefined;
}

/** Why an app's vhost change did not take. */
export interface VhostFailure {
  error: string;
  transient: boolean;
}

/**
 * Makes written vhost files live: one configtest, then one graceful reload;
 * or, when the configtest fails, every changed file back as it was and
 * Apache untouched, serving its old config.
 */
export interface VhostCommitter {
  commit(changes: VhostChange[]): Promise<Map<string, VhostFailure>>;
}

/** Commits each call's changes at once: one transaction per `hdactl apply` pass. */
export class ImmediateCommitter implements VhostCommitter {
  constructor(
    private readonly web: WebServerControl,
    private readonly vhosts: VhostStore,
    private readonly log: Logger,
  ) {}

  async commit(changes: VhostChange[]): Promise<Map<string, VhostFailure>> {
    const failed = new Map<string, VhostFailure>();
    if (changes.length === 0) return failed;
    if (!this.web.enabled) {
      this.log.info({ files: changes.length }, 'vhost files written; no reload (--apachectl none)');
      return failed;
    }
    const test = await this.web.configtest();
    if (test.ok) {
      try {
        await this.web.reload();
        this.log.info({ files: changes.length }, 'apache reloaded');
      } catch (err) {
        for (const c of changes) failed.set(c.app, { error: (err as Error).message, transient: true });
      }
      return failed;
    }
    // Undo newest first, so a file changed twice in the window ends at its oldest content.
    for (const c of [...changes].reverse()) {
      if (c.previous === undefined) await this.vhosts.remove(c.app);
      else await this.vhosts.write(c.app, c.previous);
    }
    this.log.error({ output: test.output, apps: changes.map((c) => c.app) }, 'apache configtest failed; vhost changes rolled back');
    // Apache splits one error over lines ("Syntax error on line 3 of F:" / "Invalid
    // command ..."); one line keeps `hdactl apply`'s one-line-per-app output intact.
    const error = `apache configtest failed, so the vhost changes were rolled back and Apache keeps its old config: ${test.output.replace(/\s*\n\s*/g, ' ')}`;
    for (const c of changes) failed.set(c.app, { error, transient: false });
    return failed;
  }
}

/**
 * Gathers the changes of every pass within a short window and commits them
 * together, so that many apps converging at once cost one configtest and one
 * reload, not one each. Used by `hdactl run`.
 */
export class BatchingCommitter implements VhostCommitter {
  private pending: VhostChange[] = [];
  private flush: Promise<Map<string, VhostFailure>> | undefined;
  /** Settles when the inner commit in progress, if any, is over. */
  private idle: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inner: VhostCommitter,
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  commit(changes: VhostChange[]): Promise<Map<string, VhostFailure>> {
    if (changes.length === 0) return Promise.resolve(new Map());
    this.pending.push(...changes);
    if (this.flush) return this.flush;
    // A batch whose window ends while the one before is still in its configtest
    // waits for it: two configtests at once would each see the other's files,
    // so one batch's broken vhost would roll back, and fail, the other's apps.
    // Changes arriving while it waits join it.
    const previous = this.idle;
    const flush = new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.windowMs))
      .then(() => previous)
      .then(() => {
        const batch = this.pending;
        this.pending = [];
        this.flush = undefined;
        return this.inner.commit(batch);
      });
    this.flush = flush;
    this.idle = flush.catch(() => undefined);
    return flush;
  }
}
