import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Server } from 'node:http';
import { FileVhostJournal } from '../adapters/vhost/journal.js';
import { VHOST_TEMP_DIR } from '../adapters/vhost/store.js';
import { BatchingCommitter, ImmediateCommitter, undoInterruptedCommit } from '../apply/vhosts.js';
import { Controller } from '../loop/controller.js';
import { systemClock } from '../loop/clock.js';
import { followEngineEvents } from '../loop/events.js';
import { acquireLockWaiting } from '../loop/lock.js';
import { watchDirs } from '../loop/watch.js';
import { Metrics } from '../status/metrics.js';
import { StatusStore } from '../status/model.js';
import { startStatusServer } from '../status/server.js';
import type { CommandContext } from './commands.js';
import { settingsFrom, wire } from './wiring.js';
import { mkdir } from 'node:fs/promises';

/** How long in-flight steps may take to finish on SIGINT/SIGTERM. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * hdactl's temp files: `<file>.conf.<pid>.tmp` and `<file>.json.<pid>.tmp`.
 * Only these are swept: the vhost directory is the user's Apache's, and
 * other tools' `.tmp` files there are not hdactl's to delete.
 */
const OWN_TEMP_FILE = /\.(conf|json)\.\d+\.tmp$/;

/** Removes temp files a killed hdactl left behind (they never end in .conf or .json; older versions left vhost temp files beside the vhosts). */
async function sweepTempFiles(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => OWN_TEMP_FILE.test(n)).map((n) => rm(path.join(dir, n), { force: true })));
  }
}

/** `hdactl run`: the daemon. Resolves with the exit code once stopped by a signal. */
export async function runDaemon(ctx: CommandContext): Promise<number> {
  const settings = await settingsFrom(ctx.flags);
  const deps = wire(settings, { logFd: 1, logLevel: settings.logLevel });
  const log = deps.log;
  const lock = await acquireLockWaiting(settings.stateDir, (held) =>
    log.info({ pid: held.pid, stateDir: settings.stateDir }, `an hdactl apply (pid ${held.pid}) is working on the state dir: starting once it is done`),
  );
  await sweepTempFiles([settings.vhostDir, path.join(settings.vhostDir, VHOST_TEMP_DIR), settings.stateDir]);
  await mkdir(settings.manifests, { recursive: false }).catch(() => undefined);
  await mkdir(settings.vhostDir, { recursive: true });
  const journal = new FileVhostJournal(settings.stateDir);
  await undoInterruptedCommit(journal, deps.vhosts, log);

  const clock = systemClock;
  const status = new StatusStore(deps.engine.endpoint, () => clock.now(), settings);
  const metrics = new Metrics();
  metrics.engineUp.set(1);
  // No timer window: a lone change goes live at once instead of waiting 200 ms
  // for company. Batches still form, as changes that arrive while a configtest
  // and reload run wait for it and go together in the next.
  deps.committer = new BatchingCommitter(new ImmediateCommitter(deps.web, deps.vhosts, log, journal), clock, 0);
  const controller = new Controller({
    deps,
    clock,
    status,
    metrics,
    log,
    resyncMs: settings.resyncMs,
    workers: 2,
    readFile: (f) => readFile(f, 'utf8').catch(() => undefined),
  });

  let server: Server | undefined;
  if (settings.listen !== 'none') server = await startStatusServer(settings.listen, status, metrics, deps.engine, settings.instance);
  const watchers = watchDirs(settings.manifests, settings.vhostDir, {
    manifest: (f) => controller.manifestChanged(f),
    manifestsReplaced: () => {
      log.info({ manifests: settings.manifests }, 'the manifests directory went away or was replaced: reading it again in full');
      controller.resyncAll();
    },
    vhost: (f) => controller.vhostChanged(f),
    // A watch that fails (a directory it may not read) costs its triggers, not the daemon: the resync still runs.
    error: (err) => log.warn({ err }, 'a file watch failed: changes there are seen at the next resync'),
  });
  const abort = new AbortController();
  const events = followEngineEvents(deps.engine, settings.instance, {
    appEvent: (app, action) => controller.engineEvent(app, action),
    reconnected: () => {
      status.setEngine(true);
      metrics.engineUp.set(1);
      controller.resyncAll();
    },
    unreachable: (message) => {
      status.setEngine(false, message);
      metrics.engineUp.set(0);
    },
  }, clock, log, abort.signal);

  // The first full pass waits for the watchers' initial scan: a manifest
  // written during the scan is neither an event nor, if the pass ran before
  // it, in that pass, and would wait for the resync.
  const scanned = Promise.all(watchers.map((w) => w.ready));
  let timer: unknown;
  const ready = await Promise.race([scanned.then(() => true), new Promise<boolean>((resolve) => (timer = clock.setTimeout(() => resolve(false), 10_000)))]);
  clock.clearTimeout(timer);
  if (!ready) log.warn('the file watchers did not finish their first scan in 10 s; starting anyway');
  controller.start();
  log.info({ manifests: settings.manifests, vhostDir: settings.vhostDir, listen: settings.listen, instance: settings.instance, pid: process.pid }, 'hdactl run started');

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info({ signal }, 'stopping: letting in-flight steps finish');
  // The clock's timers are unref'd, and the watchers and event stream close
  // now: with --listen none, a pass waiting on a timer (the vhost batch window)
  // would leave the event loop empty, and the process would exit mid-pass with
  // its lock still held. Hold the loop open until shutdown is done.
  const hold = setInterval(() => undefined, 1000);
  abort.abort();
  await Promise.all(watchers.map((w) => w.close()));
  const finished = await controller.stop(SHUTDOWN_TIMEOUT_MS);
  if (!finished) {
    // A step that does not end (a pull from a registry that never answers) must not
    // go on changing things without the lock, beside the next hdactl: stop now, as a
    // SIGKILL would. The lock stays; its pid is gone, so the next start takes it over,
    // puts back any vhost change cut short, and finishes what was left.
    log.warn({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, `steps still running ${SHUTDOWN_TIMEOUT_MS / 1000} s after the signal: exiting without them; the next start finishes their work`);
    process.exit(1);
  }
  await events.catch(() => undefined);
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await lock.release();
  log.info({ finished: true }, 'stopped');
  clearInterval(hold);
  return 0;
}
