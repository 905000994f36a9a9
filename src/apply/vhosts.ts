import path from 'node:path';
import type { Logger } from 'pino';
import type { ConfigtestResult, DefaultVhost, WebServerControl } from '../adapters/apache/control.js';
import type { JournalEntries, VhostJournal } from '../adapters/vhost/journal.js';
import type { VhostStore } from '../adapters/vhost/store.js';
import type { Clock } from '../loop/clock.js';
import { isTransient } from './outcome.js';

/** A vhost file to write (`content`) or remove (`content` undefined) in a pass. */
export interface VhostWrite {
  app: string;
  content: string | undefined;
}

/** Why an app's vhost change did not take. */
export interface VhostFailure {
  error: string;
  transient: boolean;
}

/**
 * Apache splits one error over lines ("Syntax error on line 3 of F:" /
 * "Invalid command ..."); one line keeps `hdactl apply`'s one-line-per-app
 * output intact.
 */
function oneLine(output: string): string {
  return output.replace(/\s*\n\s*/g, ' ');
}

/**
 * Makes vhost changes live as one transaction: write the files, one
 * configtest, then one graceful reload; or, when the configtest fails, every
 * changed file back as it was and Apache untouched, serving its old config.
 *
 * `containersDone` settles with the apps whose container steps failed. The
 * files are written and checked meanwhile (Apache's configtest takes about as
 * long as a container start), but nothing goes live before it settles, and
 * the failed apps' files are put back first: a vhost never points at a
 * container that did not come up.
 */
export interface VhostCommitter {
  commit(writes: VhostWrite[], containersDone: Promise<Set<string>>): Promise<Map<string, VhostFailure>>;
}

interface Written {
  app: string;
  content: string | undefined;
  previous: string | undefined;
}

/** A file step that failed; a disk full or read-only for a moment is retried with backoff, as the host's own errors are. */
function cannotFailure(what: string, err: unknown): VhostFailure {
  return { error: `cannot ${what}: ${(err as Error).message}`, transient: isTransient(err) };
}

/**
 * Puts back the vhost files of a commit cut short (the process killed
 * between writing them and making them live), as the journal recorded them
 * before; the passes that follow apply them again, tested. Only for the
 * holder of the state directory's lock: no other commit can be running.
 */
export async function undoInterruptedCommit(journal: VhostJournal, vhosts: VhostStore, log: Logger): Promise<void> {
  const left = await journal.read();
  if (!left) return;
  const apps = Object.keys(left.entries);
  for (const app of apps) {
    const previous = left.entries[app];
    if (previous === null || previous === undefined) await vhosts.remove(app);
    else await vhosts.write(app, previous);
  }
  await journal.end();
  log.warn({ pid: left.pid, apps }, `the vhost changes of hdactl pid ${left.pid}, which stopped before testing them, were put back (${apps.join(', ')}); they are applied again, tested`);
}

/** Commits each call's writes at once: one transaction per `hdactl apply` pass. */
export class ImmediateCommitter implements VhostCommitter {
  /** Default-vhost warnings already given, by address and file. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly web: WebServerControl,
    private readonly vhosts: VhostStore,
    private readonly log: Logger,
    /** Where the files changed but not yet live are noted, for a process killed meanwhile (see VhostJournal). */
    private readonly journal?: VhostJournal,
  ) {}

  async commit(writes: VhostWrite[], containersDone: Promise<Set<string>>): Promise<Map<string, VhostFailure>> {
    const failed = new Map<string, VhostFailure>();
    if (writes.length === 0) return failed;
    const cannot = (app: string, what: string, err: unknown) => failed.set(app, cannotFailure(what, err));
    const changes: Written[] = [];
    for (const w of writes) {
      try {
        changes.push({ ...w, previous: await this.vhosts.read(w.app) });
      } catch (err) {
        cannot(w.app, 'write the vhost file', err); // its content before is read first, to put it back should the test fail
      }
    }
    const journal = this.web.enabled ? this.journal : undefined;
    if (journal && changes.length) {
      const entries: JournalEntries = {};
      for (const c of changes) if (!(c.app in entries)) entries[c.app] = c.previous ?? null;
      try {
        await journal.begin(entries);
      } catch (err) {
        for (const c of changes) cannot(c.app, 'note the vhost change in the state directory before making it', err);
        return failed;
      }
    }
    try {
      return await this.changeAndTest(changes, containersDone, failed);
    } finally {
      await journal?.end().catch((err: unknown) => this.log.warn({ err }, 'could not remove the vhost journal; the next start puts its files back and applies them again'));
    }
  }

  private async changeAndTest(changes: Written[], containersDone: Promise<Set<string>>, failed: Map<string, VhostFailure>): Promise<Map<string, VhostFailure>> {
    let written: Written[] = [];
    for (const c of changes) {
      try {
        await this.put(c.app, c.content);
        written.push(c);
      } catch (err) {
        failed.set(c.app, cannotFailure('write the vhost file', err));
      }
    }
    const check = (): Promise<ConfigtestResult> => this.web.configtest().catch((err: Error) => ({ ok: false, output: err.message }));
    let test = this.web.enabled ? check() : undefined;
    // Nothing goes live before the containers are done; a failed app's file goes back.
    const down = await containersDone;
    const undo = written.filter((c) => down.has(c.app));
    if (undo.length > 0) {
      await this.putBack(undo);
      written = written.filter((c) => !down.has(c.app));
      // The test saw the files just put back: test what goes live instead.
      if (test && written.length > 0) {
        await test;
        test = check();
      }
    }
    if (written.length === 0) return failed;
    if (!test) {
      this.log.info({ files: written.length }, 'vhost files written; no reload (--apachectl none)');
      return failed;
    }
    const result = await test;
    if (result.ok) return this.goLive(written, result, failed);
    await this.putBack(written);
    // A config that fails without these changes too (a site outside hdactl, a
    // module disabled, apachectl missing) is no fault of theirs: try them
    // again later, rather than wait for their manifests to change.
    const without = await check();
    const ours = without.ok;
    this.log.error({ output: result.output, apps: written.map((c) => c.app), ours }, ours ? 'apache configtest failed; vhost changes rolled back' : 'apache configtest fails without hdactl\'s changes too; vhost changes rolled back, tried again later');
    if (!ours) {
      const error = `apache configtest fails with or without these vhost changes, so they were rolled back and are tried again: fix Apache's config: ${oneLine(without.output)}`;
      for (const c of written) failed.set(c.app, { error, transient: true });
      return failed;
    }
    if (written.length === 1) {
      failed.set(written[0]!.app, { error: `apache configtest failed, so the vhost change was rolled back and Apache keeps its old config: ${oneLine(result.output)}`, transient: false });
      return failed;
    }
    // Several apps' changes (a daemon batch) failed together: add them back
    // one at a time, so that only the apps whose vhost breaks Apache fail. A
    // failing file goes back at once, so the files end as the last passing test saw them.
    const kept: Written[] = [];
    let passed: ConfigtestResult | undefined;
    for (const c of written) {
      await this.put(c.app, c.content);
      const r = await check();
      if (r.ok) {
        kept.push(c);
        passed = r;
      } else {
        await this.putBack([c]);
        failed.set(c.app, { error: `apache configtest failed with this app's vhost, so it was rolled back and Apache keeps its old config: ${oneLine(r.output)}`, transient: false });
      }
    }
    return passed ? this.goLive(kept, passed, failed) : failed;
  }

  /** After a passing configtest: the graceful restart that makes `written` live. */
  private async goLive(written: Written[], test: ConfigtestResult, failed: Map<string, VhostFailure>): Promise<Map<string, VhostFailure>> {
    this.warnIfDefault(test.defaults ?? []);
    try {
      await this.web.reload();
      this.log.info({ files: written.length }, 'apache reloaded');
    } catch (err) {
      // Put back, the files would otherwise match the manifests, and no later pass would reload them.
      await this.putBack(written);
      for (const c of written) failed.set(c.app, { error: `${(err as Error).message}; the vhost changes were rolled back and are tried again`, transient: true });
    }
    return failed;
  }

  private async put(app: string, content: string | undefined): Promise<void> {
    if (content === undefined) await this.vhosts.remove(app);
    else await this.vhosts.write(app, content);
  }

  /**
   * Apache answers a request whose Host no vhost names, or that names the
   * server by its IP address, with the first vhost on that address. When that
   * is one of hdactl's, every such request reaches that app: on Debian, the
   * snippet enabled with a2enconf loads before sites-enabled/000-default.conf.
   * Said once per process and address.
   */
  private warnIfDefault(defaults: DefaultVhost[]): void {
    for (const d of defaults) {
      if (path.dirname(path.resolve(d.file)) !== path.resolve(this.vhosts.dir)) continue;
      const key = `${d.address} ${d.file}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      const app = path.basename(d.file, '.conf');
      this.log.warn({ address: d.address, file: d.file, app },
        `Apache answers every request to ${d.address} whose host name no vhost claims, and every request by IP address, with app ${app} (${d.file}): hdactl's vhosts come before any other vhost there. Include them after your default site: on Debian, save \`hdactl apache-config\` as /etc/apache2/sites-available/hdactl.conf and run a2ensite hdactl (a2disconf hdactl if it was enabled as a conf)`);
    }
  }

  /** Puts files back, newest first, so a file changed twice ends at its oldest content. */
  private async putBack(changes: Written[]): Promise<void> {
    for (const c of [...changes].reverse()) await this.put(c.app, c.previous);
  }
}

/**
 * Gathers the changes of every pass within a short window and commits them
 * together, so that many apps converging at once cost one configtest and one
 * reload, not one each. Used by `hdactl run`.
 */
export class BatchingCommitter implements VhostCommitter {
  private pending: Array<{ writes: VhostWrite[]; containersDone: Promise<Set<string>> }> = [];
  private flush: Promise<Map<string, VhostFailure>> | undefined;
  /** Settles when the inner commit in progress, if any, is over. */
  private idle: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inner: VhostCommitter,
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  commit(writes: VhostWrite[], containersDone: Promise<Set<string>>): Promise<Map<string, VhostFailure>> {
    if (writes.length === 0) return Promise.resolve(new Map());
    this.pending.push({ writes, containersDone });
    if (this.flush) return this.flush;
    // A batch whose window ends while the one before is still in its configtest
    // waits for it, and writes its files only then: two transactions at once
    // would each see the other's files, so one batch's broken vhost would roll
    // back, and fail, the other's apps. Changes arriving while it waits join it.
    const previous = this.idle;
    const flush = new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.windowMs))
      .then(() => previous)
      .then(() => {
        const batch = this.pending;
        this.pending = [];
        this.flush = undefined;
        const done = Promise.all(batch.map((b) => b.containersDone)).then((sets) => new Set(sets.flatMap((s) => [...s])));
        return this.inner.commit(batch.flatMap((b) => b.writes), done);
      });
    this.flush = flush;
    this.idle = flush.catch(() => undefined);
    return flush;
  }
}
