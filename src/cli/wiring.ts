import { connectEngine } from '../adapters/docker/engine.js';
import { ApacheControl, defaultApachectl } from '../adapters/apache/control.js';
import { StateStore } from '../adapters/state/store.js';
import { FileVhostStore } from '../adapters/vhost/store.js';
import { resolveSettings, type Settings } from '../config/settings.js';
import { loadTemplates } from '../desired/templates.js';
import type { PassDeps } from '../pass.js';
import { createLogger } from './logger.js';

/** Resolves settings from flags, environment and hdactl.yaml. */
export async function settingsFrom(flags: Record<string, string | undefined>): Promise<Settings> {
  return resolveSettings(flags, process.env, process.cwd(), await defaultApachectl());
}

/** Builds the real adapters for a pass. */
export function wire(settings: Settings, opts: { logFd: 1 | 2; logLevel: string }): PassDeps {
  return {
    settings,
    engine: connectEngine(),
    vhosts: new FileVhostStore(settings.vhostDir),
    web: new ApacheControl(settings.apachectl),
    state: new StateStore(settings.stateDir),
    templates: loadTemplates(settings.templates),
    log: createLogger(opts.logLevel, opts.logFd),
  };
}
