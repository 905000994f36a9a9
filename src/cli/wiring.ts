import { connectEngine, type Engine } from '../adapters/docker/engine.js';
import { ApacheControl, defaultApachectl } from '../adapters/apache/control.js';
import { StateStore } from '../adapters/state/store.js';
import { FileVhostStore } from '../adapters/vhost/store.js';
import { resolveSettings, type Settings } from '../config/settings.js';
import { loadTemplates } from '../desired/templates.js';
import type { PassDeps } from '../pass.js';
import { createLogger } from './logger.js';

/** Resolves settings from flags, environment and hdactl.yaml. */
export async function settingsFrom(flags: Record<string, string | undefined>): Promise<Settings> {
  return resolveSettings(flags, process.env, process.cwd(), defaultApachectl());
}

const engines: Engine[] = [];

/**
 * With HDACTL_REPORT_CALLS=1, prints `engine-calls: N` to stderr at exit: the
 * Engine API calls this process made, for the benchmarks (bench/).
 */
function reportCallsAtExit(engine: Engine): void {
  if (process.env.HDACTL_REPORT_CALLS !== '1') return;
  if (engines.length === 0) {
    process.once('exit', () => process.stderr.write(`engine-calls: ${engines.reduce((n, e) => n + e.calls, 0)}\n`));
  }
  engines.push(engine);
}

/** Builds the real adapters for a pass. */
export function wire(settings: Settings, opts: { logFd: 1 | 2; logLevel: string }): PassDeps {
  const engine = connectEngine(settings.engineTimeoutMs);
  reportCallsAtExit(engine);
  return {
    settings,
    engine,
    vhosts: new FileVhostStore(settings.vhostDir),
    web: new ApacheControl(settings.apachectl),
    state: new StateStore(settings.stateDir),
    templates: loadTemplates(settings.templates),
    log: createLogger(opts.logLevel, opts.logFd),
  };
}
