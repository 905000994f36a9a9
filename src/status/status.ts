import type { Settings } from '../config/settings.js';
import type { DesiredApp } from '../desired/model.js';
import { vhostServerName } from '../desired/vhost.js';
import { computePlan, type PassDeps } from '../pass.js';
import type { Observed, ObservedContainer } from '../observe/types.js';
import { formatProblem, type Problem } from '../manifest/problem.js';
import type { AppPlan } from '../plan/actions.js';
import type { AppStatus, StatusDocument } from './model.js';

/**
 * One app's line in `hdactl status`: the daemon's fields for it (state is
 * `missing` without a container, `invalid` for a frozen manifest; vhost is
 * `in sync`, `drifted`, `missing`, `conflict`, `kept` for a frozen app's file,
 * or `-`), whether a plan would
 * change anything, and the last error.
 */
export type StatusRow = Pick<AppStatus, 'app' | 'state' | 'image' | 'runningImage' | 'url' | 'hostPort' | 'vhost'> & {
  inSync: boolean;
  error: string;
};

/** The URL of a web app as a person types it. */
export function appUrl(d: Pick<DesiredApp, 'fqdn'>, vhostPort: number): string {
  return `http://${d.fqdn}${vhostPort === 80 ? '' : `:${vhostPort}`}/`;
}

/**
 * Status rows: from the running daemon when one answers on --listen (it knows
 * conditions, retries and the Engine's reachability), else computed from the
 * Engine and the files. Both give `{ apps, problems }`, each app with the
 * row's fields, so a script reads one shape; the daemon's apps carry the rest
 * of its /status document beside them (`daemon` holds that document's own fields).
 */
export async function collectStatus(settings: Settings, wire: () => PassDeps): Promise<StatusReport> {
  const body = (await askDaemon(settings, '/status')) as StatusDocument | undefined;
  if (body && Array.isArray(body.apps)) {
    const { apps, problems, ...daemon } = body;
    return { rows: apps.map(rowOf), problems: problems ?? [], daemon: { ...daemon, apps } };
  }
  return computeStatus(wire());
}

/** What `hdactl status -o json` prints: the rows, and from a daemon all it says of each app. */
export function statusJson(report: StatusReport): unknown {
  const { rows, problems, daemon } = report;
  if (!daemon) return { apps: rows, problems: problems.map((p) => ({ ...p, text: formatProblem(p) })) };
  const { apps, ...rest } = daemon;
  return { apps: rows.map((r, i) => ({ ...apps[i], ...r })), problems, ...rest };
}

/** What `hdactl status` prints: one row per app, then the manifest problems. */
export interface StatusReport {
  rows: StatusRow[];
  problems: Problem[];
  /** The daemon's /status document, when the rows came from it. */
  daemon?: Omit<StatusDocument, 'problems'>;
}

function rowOf(a: AppStatus): StatusRow {
  const isTrue = (t: string) => a.conditions.some((c) => c.type === t && c.status === 'True');
  return {
    app: a.app,
    state: a.state,
    image: a.image,
    ...(a.runningImage ? { runningImage: a.runningImage } : {}),
    url: a.url,
    hostPort: a.hostPort,
    vhost: a.vhost,
    inSync: !isTrue('Progressing') && !isTrue('Degraded'),
    error: a.lastError ?? '',
  };
}

/**
 * An app's vhost as observed: `-` for a headless app, `conflict` for a
 * hand-written file, `missing` when not (yet) written, `drifted` when the plan
 * rewrites it, else `in sync`.
 */
export function vhostState(a: AppPlan, observed: Observed): string {
  if (a.desired?.vhost === undefined) return '-';
  if (observed.foreignVhosts.has(a.app)) return 'conflict';
  if (!observed.vhosts.has(a.app)) return 'missing';
  return a.actions.some((x) => x.type === 'vhost-update') ? 'drifted' : 'in sync';
}

/**
 * The columns of one app as a person reads them. An app the manifests no
 * longer describe but hdactl keeps (a typo, an empty manifests directory)
 * shows what still runs: its container's web port and its vhost file.
 */
export function appColumns(a: AppPlan, c: ObservedContainer | undefined, observed: Observed, ports: { vhostPort: number; portBase: number }): Pick<StatusRow, 'state' | 'image' | 'runningImage' | 'url' | 'hostPort' | 'vhost'> {
  const d = a.desired;
  const state = c ? c.state : a.blocked && !d ? 'invalid' : 'missing';
  const image = d?.spec.image ?? c?.spec?.image ?? '';
  if (d) {
    const web = d.web;
    // An update that has not gone through (a pull that fails) must not read as done.
    const running = c?.spec?.image;
    return {
      state,
      image,
      ...(running && running !== image ? { runningImage: running } : {}),
      url: web ? appUrl(d, ports.vhostPort) : '',
      hostPort: web ? String(web.hostPort) : '',
      vhost: vhostState(a, observed),
    };
  }
  const webPort = c?.appId !== undefined ? ports.portBase + c.appId : undefined;
  const hostPort = c?.spec?.ports.some((p) => p.hostPort === webPort) ? String(webPort) : '';
  const kept = observed.vhosts.get(a.app);
  const fqdn = kept && vhostServerName(kept.content);
  const url = fqdn ? appUrl({ fqdn }, ports.vhostPort) : '';
  return { state, image, url, hostPort, vhost: kept ? 'kept' : '-' };
}

/** The container that is the app itself (not one renamed aside). */
export function appContainer(app: string, observed: Observed): ObservedContainer | undefined {
  return observed.containers.find((x) => x.app === app && x.name === app);
}

/** Computes status rows from one observation. */
export async function computeStatus(deps: PassDeps): Promise<StatusReport> {
  const { plan, observed, desired, state } = await computePlan(deps);
  const rows = plan.apps.map((a) => {
    const problem = desired.problems.find((p) => p.app === a.app);
    // The last apply's failure, while the app still differs from its manifest.
    const failure = a.actions.length ? state.apps[a.app]?.lastError : undefined;
    return {
      app: a.app,
      ...appColumns(a, appContainer(a.app, observed), observed, deps.settings),
      inSync: a.actions.length === 0 && !a.blocked,
      error: a.blocked ?? a.warning ?? (problem ? problem.message : failure ? `${failure.message} (${failure.time})` : ''),
    };
  });
  return { rows, problems: desired.problems };
}

/** The image column: what runs, and what it is being updated to when that differs. */
export function imageText(a: Pick<StatusRow, 'image' | 'runningImage'>): string {
  return a.runningImage ? `${a.runningImage} → ${a.image}` : a.image;
}

/** Formats the rows as an aligned table, and the manifest problems below it. */
export function formatStatus({ rows, problems }: StatusReport): string {
  if (!problems.length) return formatStatusTable(rows);
  const list = problems.map((p) => `  ${formatProblem(p)}`);
  return [formatStatusTable(rows), '', `${problems.length} manifest problem(s); the apps they name are left as they are:`, ...list].join('\n');
}

/** Formats rows as an aligned table. */
export function formatStatusTable(rows: StatusRow[]): string {
  const head = ['APP', 'STATE', 'IMAGE', 'URL', 'HOST PORT', 'VHOST', 'SYNC', 'LAST ERROR'];
  const body = rows.map((r) => [r.app, r.state, imageText(r), r.url || '-', r.hostPort || '-', r.vhost, r.inSync ? 'yes' : 'no', r.error || '-']);
  if (!body.length) return 'no apps';
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

/** The response header that names the daemon's --instance. */
export const INSTANCE_HEADER = 'x-hdactl-instance';

/**
 * GETs a path from the daemon on --listen, as JSON; undefined when none
 * answers, or when the one that does manages another instance (a demo
 * checkout beside a real install, say): its apps are not these.
 */
export async function askDaemon(settings: Pick<Settings, 'listen' | 'instance'>, pathname: string, seen: { otherInstance?: string } = {}): Promise<unknown> {
  if (settings.listen === 'none') return undefined;
  try {
    const res = await fetch(`http://${settings.listen}${pathname}`, { signal: AbortSignal.timeout(1500) });
    if (!res.ok) return undefined;
    const instance = res.headers.get(INSTANCE_HEADER);
    if (instance !== null && instance !== settings.instance) {
      seen.otherInstance = instance;
      return undefined;
    }
    return await res.json();
  } catch {
    return undefined;
  }
}
