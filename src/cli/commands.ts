import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { StateStore } from '../adapters/state/store.js';
import { FileVhostJournal } from '../adapters/vhost/journal.js';
import { ImmediateCommitter, undoInterruptedCommit } from '../apply/vhosts.js';
import type { Settings } from '../config/settings.js';
import { loadTemplates } from '../desired/templates.js';
import { acquireLock, LockHeld } from '../loop/lock.js';
import { loadManifestDir } from '../manifest/load.js';
import { formatProblem, type Problem } from '../manifest/problem.js';
import { isInSync } from '../plan/actions.js';
import { formatPlan, planToJson } from '../plan/format.js';
import { computePlan, loadDesired, runPass } from '../pass.js';
import { apacheSnippet } from '../status/apache.js';
import { askDaemon, collectStatus, formatStatus, statusJson } from '../status/status.js';
import { settingsFrom, wire } from './wiring.js';

/** What a command gets from the command line. */
export interface CommandContext {
  flags: Record<string, string | undefined>;
  args: string[];
  json: boolean;
  /** --allow-empty: manifests that define no app remove every app. */
  allowEmpty: boolean;
}

type Command = (ctx: CommandContext) => Promise<number>;

/** One-shot commands log warnings only, unless a level is asked for. */
function oneShotLevel(ctx: CommandContext): string {
  return ctx.flags['log-level'] ?? process.env.HDACTL_LOG_LEVEL ?? 'warn';
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

async function validate(ctx: CommandContext): Promise<number> {
  const dir = ctx.args[0];
  if (dir && (await stat(dir).then((s) => s.isFile(), () => false))) {
    // Names, host names and ports are checked across files: one file alone cannot be judged.
    err(`hdactl validate checks a manifests directory, as apps are checked against each other: run hdactl validate ${path.dirname(dir)}`);
    return 1;
  }
  const settings = await settingsFrom(dir ? { ...ctx.flags, manifests: dir } : ctx.flags);
  const state = await new StateStore(settings.stateDir).read();
  const d = await loadDesired(settings, loadTemplates(settings.templates), state, new Map());
  // An emptied file that an installed app came from holds that app back in plan and apply: say so here too.
  const defined = new Set(d.model.apps.map((a) => a.app));
  const emptied: Problem[] = Object.entries(state.apps)
    .filter(([app, rec]) => rec.source !== undefined && d.emptyFiles.has(rec.source) && !defined.has(app))
    .map(([app, rec]) => ({ file: rec.source!, line: 1, col: 1, message: `this file holds no app, but app ${app} was installed from it, and stays as it runs (as a write cut short would leave the file): put its manifest back, or delete the file to remove ${app}` }));
  const problems = [...d.problems, ...emptied];
  for (const p of problems) out(formatProblem(p));
  const apps = d.model.apps.length;
  if (problems.length) {
    err(`${problems.length} problem(s); ${apps} valid app(s) in ${settings.manifests}`);
    return 1;
  }
  out(`${apps} app(s) valid in ${settings.manifests}`);
  return 0;
}

async function planCmd(ctx: CommandContext): Promise<number> {
  const settings = await settingsFrom(ctx.flags);
  const deps = { ...wire(settings, { logFd: 2, logLevel: oneShotLevel(ctx) }), allowEmpty: ctx.allowEmpty };
  const { plan, desired } = await computePlan(deps);
  // Files a killed hdactl changed but never tested: this plan takes them as they are, the next apply puts them back first.
  const cut = await new FileVhostJournal(settings.stateDir).read().catch(() => undefined);
  if (cut) err(`! the vhost changes of hdactl pid ${cut.pid} were cut short before their test (${Object.keys(cut.entries).join(', ')}): the next hdactl apply or run puts them back first, then applies them again`);
  if (ctx.json) {
    out(JSON.stringify({ ...(planToJson(plan) as object), problems: desired.problems.map((p) => ({ ...p, text: formatProblem(p) })) }, null, 2));
  } else {
    for (const p of desired.problems) err(formatProblem(p));
    const lines = formatPlan(plan);
    for (const l of lines) out(l);
    if (isInSync(plan) && !plan.apps.some((a) => a.blocked || a.warning)) out(`in sync: ${plan.apps.length} app(s), nothing to do`);
  }
  if (desired.problems.length || plan.apps.some((a) => a.blocked)) return 1;
  return isInSync(plan) ? 0 : 2;
}

async function apply(ctx: CommandContext): Promise<number> {
  const settings = await settingsFrom(ctx.flags);
  const deps = { ...wire(settings, { logFd: 2, logLevel: oneShotLevel(ctx) }), allowEmpty: ctx.allowEmpty, outcomesShown: true };
  deps.onProgress = (app, line) => err(`  ${app}: ${line}`);
  // A daemon (or another apply) on the same state dir would act on the same containers at once.
  const lock = await acquireLock(settings.stateDir, 'apply').catch(async (err: unknown) => {
    // But not while the manifests define no app: the daemon then holds every app and
    // says to remove them on purpose with apply --allow-empty, which it leaves to a person.
    if (err instanceof LockHeld && err.holder === 'run' && ctx.allowEmpty && (await loadManifestDir(settings.manifests)).docs.length === 0) return undefined;
    throw err;
  });
  // Holding the lock, it is the only one that commits vhost changes: a journal left is a killed process's.
  if (lock) {
    const journal = new FileVhostJournal(settings.stateDir);
    await undoInterruptedCommit(journal, deps.vhosts, deps.log).catch(async (e: unknown) => {
      await lock.release();
      throw e;
    });
    deps.committer = new ImmediateCommitter(deps.web, deps.vhosts, deps.log, journal);
  }
  const { results, desired, plan } = await runPass(deps).finally(() => lock?.release());
  for (const p of desired.problems) err(formatProblem(p));
  for (const r of results) {
    out(`${r.app} ${r.outcome}${r.message && r.outcome !== 'unchanged' ? `: ${r.message}` : ''}`);
    // A warning (a hand-written vhost) rides along an outcome that succeeded; the
    // message above holds only the steps that ran, so say it on a line of its own.
    if (r.error && r.outcome !== 'failed' && r.outcome !== 'skipped') out(`! ${r.app}: ${r.error}`);
  }
  if (!deps.web.enabled && results.some((r) => r.steps.some((s) => s.startsWith('vhost-')))) {
    err('vhost files written; Apache was not reloaded (--apachectl none)');
  }
  // A failed step, a conflict and a manifest problem each fail the run, after
  // every valid app was applied (as kubectl apply does): a `git pull && hdactl
  // apply` hook must not report success while a typo kept a change out. A
  // warning alone (a hand-written vhost left alone, as its header invites) is
  // not a failure: plan calls that app in sync.
  const blocked = new Set(plan.apps.filter((a) => a.blocked).map((a) => a.app));
  const failed = results.filter((r) => r.outcome === 'failed' || (r.outcome === 'skipped' && blocked.has(r.app)));
  if (desired.problems.length) err(`${desired.problems.length} manifest problem(s): fix them and apply again; the apps they name were left as they were`);
  return failed.length || desired.problems.length ? 1 : 0;
}

async function status(ctx: CommandContext): Promise<number> {
  const settings = await settingsFrom(ctx.flags);
  const report = await collectStatus(settings, () => wire(settings, { logFd: 2, logLevel: oneShotLevel(ctx) }));
  if (ctx.json) out(JSON.stringify(statusJson(report), null, 2));
  else out(formatStatus(report));
  return 0;
}

async function apacheConfig(ctx: CommandContext): Promise<number> {
  const settings: Settings = await settingsFrom(ctx.flags);
  out(apacheSnippet(settings.vhostDir));
  return 0;
}

async function events(ctx: CommandContext): Promise<number> {
  const settings = await settingsFrom(ctx.flags);
  const seen: { otherInstance?: string } = {};
  const list = (await askDaemon(settings, '/events', seen)) as Array<{ time: string; app: string; type: string; message: string }> | undefined;
  if (!list) {
    const there = seen.otherInstance === undefined ? '' : ` (the hdactl run there is instance ${seen.otherInstance}: pass --instance ${seen.otherInstance} for its events)`;
    err(`no hdactl run of instance ${settings.instance} answers on ${settings.listen}${there}: start it with hdactl run, or pass its --listen address`);
    return 1;
  }
  if (ctx.json) out(JSON.stringify(list, null, 2));
  else if (!list.length) err(`no events yet: the daemon on ${settings.listen} has changed nothing and seen no problem since it started`);
  else for (const e of list) out(`${e.time}  ${e.app}  ${e.type}: ${e.message}`);
  return 0;
}

async function version(): Promise<number> {
  const pkg = JSON.parse(await readFile(path.join(new URL('../..', import.meta.url).pathname, 'package.json'), 'utf8')) as { version: string };
  out(`hdactl ${pkg.version}`);
  return 0;
}

/** The commands by name. */
export const commands: Record<string, Command> = {
  validate,
  plan: planCmd,
  apply,
  status,
  'apache-config': apacheConfig,
  // The daemon's modules (watchers, metrics, status server) load only for `run`:
  // every one-shot command starts faster without them.
  run: async (ctx) => (await import('./run.js')).runDaemon(ctx),
  events,
  version,
};
