import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HdactlConfig } from '../manifest/types.generated.js';
import { parseManifestText } from '../manifest/load.js';
import { formatProblem } from '../manifest/problem.js';
import { loadSchema, lowerFirst, toProblems } from '../manifest/validate.js';
import { validateConfig } from '../manifest/validators.generated.js';
import { parseDuration } from '../desired/units.js';

const configSchema = loadSchema('config.schema.json');

/** hdactl's resolved settings. Paths are absolute. */
export interface Settings {
  manifests: string;
  dataRoot: string;
  stateDir: string;
  domain: string;
  portBase: number;
  instance: string;
  concurrency: number;
  vhostDir: string;
  apachectl: string;
  vhostPort: number;
  templates?: string;
  listen: string;
  resyncMs: number;
  /** How long one Engine call may wait for the Engine's answer. */
  engineTimeoutMs: number;
  logLevel: string;
  volumeAllow: string[];
  /** The hdactl.yaml that was read, if any. */
  configFile?: string;
}

/** Flag names as typed on the command line, and the settings they set. */
export const SETTING_FLAGS = {
  manifests: 'manifests',
  'data-root': 'dataRoot',
  'state-dir': 'stateDir',
  domain: 'domain',
  'port-base': 'portBase',
  instance: 'instance',
  concurrency: 'concurrency',
  'vhost-dir': 'vhostDir',
  apachectl: 'apachectl',
  'vhost-port': 'vhostPort',
  templates: 'templates',
  listen: 'listen',
  resync: 'resync',
  'engine-timeout': 'engineTimeout',
  'log-level': 'logLevel',
} as const;

type Key = (typeof SETTING_FLAGS)[keyof typeof SETTING_FLAGS];

const DEFAULTS = {
  manifests: './manifests',
  dataRoot: './.hdactl/data',
  stateDir: './.hdactl',
  domain: 'hda.local',
  portBase: '35000',
  instance: 'default',
  concurrency: '4',
  vhostDir: './.hdactl/vhosts',
  vhostPort: '80',
  listen: '127.0.0.1:9469',
  resync: '60s',
  // Compose's own default for the Engine's answers (COMPOSE_HTTP_TIMEOUT).
  engineTimeout: '60s',
  logLevel: 'info',
} satisfies Partial<Record<Key, string>>;

/**
 * Resolves settings: a flag beats an HDACTL_* environment variable, which
 * beats hdactl.yaml in the working directory (or --config FILE), which beats
 * the defaults. Throws an Error with a message that says what to fix.
 */
export function resolveSettings(flags: Partial<Record<string, string>>, env: NodeJS.ProcessEnv, cwd: string, defaultApachectl: string): Settings {
  const configFile = flags.config ? path.resolve(cwd, flags.config) : path.join(cwd, 'hdactl.yaml');
  const file = readConfig(configFile, Boolean(flags.config));
  /** The setting's value, and the directory a relative path in it is relative to. */
  const lookup = (flag: keyof typeof SETTING_FLAGS): { value: string | undefined; base: string } => {
    const key = SETTING_FLAGS[flag];
    const given = flags[flag] ?? env[`HDACTL_${flag.toUpperCase().replace(/-/g, '_')}`];
    if (given !== undefined) return { value: given, base: cwd };
    const fromFile = file?.[key as keyof HdactlConfig];
    // As in Compose files: a path in the settings file is relative to that file.
    if (fromFile !== undefined) return { value: String(fromFile), base: path.dirname(configFile) };
    return { value: (DEFAULTS as Record<string, string>)[key], base: cwd };
  };
  const get = (flag: keyof typeof SETTING_FLAGS): string | undefined => lookup(flag).value;
  const abs = (flag: keyof typeof SETTING_FLAGS): string => {
    const { value, base } = lookup(flag);
    return path.resolve(base, value!);
  };
  /** A flag or variable the settings file's schema would refuse (the file itself was checked already). */
  const matching = (flag: 'domain' | 'instance' | 'listen'): string => {
    const v = get(flag)!;
    const rule = (configSchema.properties as Record<string, { pattern: string; description: string }>)[flag]!;
    if (!new RegExp(rule.pattern).test(v)) throw new Error(`--${flag} ${JSON.stringify(v)} is not valid: ${lowerFirst(rule.description)}`);
    return v;
  };
  const int = (flag: keyof typeof SETTING_FLAGS, min: number, max: number): number => {
    const v = get(flag)!;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag} ${v} is not a whole number from ${min} to ${max}`);
    return n;
  };
  const templates = get('templates') ? abs('templates') : undefined;
  const duration = (flag: 'resync' | 'engine-timeout'): number => {
    const v = get(flag)!;
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch (err) {
      throw new Error(`--${flag}: ${(err as Error).message}`);
    }
    if (ms <= 0) throw new Error(`--${flag} ${v} is not longer than zero`);
    return ms;
  };
  return {
    manifests: abs('manifests'),
    dataRoot: abs('data-root'),
    stateDir: abs('state-dir'),
    domain: matching('domain'),
    portBase: int('port-base', 1, 65000),
    instance: matching('instance'),
    concurrency: int('concurrency', 1, 64),
    vhostDir: abs('vhost-dir'),
    apachectl: get('apachectl') ?? defaultApachectl,
    vhostPort: int('vhost-port', 1, 65535),
    ...(templates ? { templates } : {}),
    listen: listenAddress(matching('listen')),
    resyncMs: duration('resync'),
    engineTimeoutMs: duration('engine-timeout'),
    logLevel: get('log-level')!,
    volumeAllow: file?.volumePolicy?.allow ?? [],
    ...(file ? { configFile } : {}),
  };
}

/** `listen` as host and port, or undefined for none. Throws what to fix. */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  if (listen === 'none') return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new Error(`--listen ${listen} is not ADDR:PORT with a port from 1 to 65535 (such as 127.0.0.1:9469, or [::1]:9469 for IPv6), nor none`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function listenAddress(listen: string): string {
  parseListen(listen);
  return listen;
}

function readConfig(file: string, required: boolean): HdactlConfig | undefined {
  if (!existsSync(file)) {
    if (required) throw new Error(`config file ${file} does not exist: check the --config path`);
    return undefined;
  }
  // Read and checked as a manifest is: every problem, each at its line, with a did-you-mean for a misspelt key.
  const parsed = parseManifestText(file, readFileSync(file, 'utf8'));
  const doc = parsed.docs[0];
  const problems = [...parsed.problems, ...(doc && !validateConfig(doc.value) ? toProblems(doc, validateConfig.errors ?? [], configSchema, 'the settings file') : [])];
  if (parsed.docs.length > 1) problems.push({ ...parsed.docs[1]!.start, message: 'a second document: the settings file holds one mapping, remove the ---' });
  if (problems.length) throw new Error(problems.map(formatProblem).join('\n'));
  return (doc?.value ?? {}) as HdactlConfig;
}
