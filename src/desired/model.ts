import path from 'node:path';
import { createHash } from 'node:crypto';
import type { ValidDoc } from '../manifest/validate.js';
import type { Position, Problem } from '../manifest/problem.js';
import type { PortMapping } from '../manifest/types.generated.js';
import { allocateIds } from './ids.js';
import { substitute } from './env.js';
import { checkHostPath, resolveRelative, type VolumePolicy } from './policy.js';
import { parseDuration, parseSize } from './units.js';
import { renderVhost, type Templates } from './vhost.js';

/** A published port. */
export interface PortBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** A bind mount, with its source resolved to an absolute host path. */
export interface VolumeMount {
  source: string;
  target: string;
  readOnly: boolean;
  /** True when the source lives under the app's data dir and is created on apply. */
  appData: boolean;
}

/** Resource limits in Engine units. Absent = no limit. */
export interface Limits {
  memoryBytes?: number;
  nanoCpus?: number;
  pids?: number;
}

/** What the container must be; changing any of it means a recreate. */
export interface ContainerSpec {
  image: string;
  command?: string[];
  env: Record<string, string>;
  ports: PortBinding[];
  volumes: VolumeMount[];
  restart: 'no' | 'always' | 'on-failure' | 'unless-stopped';
  init: boolean;
  stopTimeoutSeconds?: number;
}

/** One app as hdactl wants it to be, fully resolved. */
export interface DesiredApp {
  app: string;
  kind: string;
  hostname: string;
  fqdn: string;
  aliases: string[];
  id: number;
  /** The web port and its host port, for web apps. */
  web?: { containerPort: number; hostPort: number };
  spec: ContainerSpec;
  /** Stable hash of `spec`. */
  specHash: string;
  limits: Limits;
  state: 'running' | 'stopped';
  /** The rendered vhost file, for web apps. */
  vhost?: string;
  source: Position;
  /** Content hash of the manifest document. */
  generation: string;
}

/** Settings the desired model depends on. */
export interface DesiredContext {
  domain: string;
  portBase: number;
  dataRoot: string;
  policy: VolumePolicy;
  vhostPort: number;
  templates: Templates;
  /** Ids already given to apps (state file and container labels). */
  knownIds: ReadonlyMap<string, number>;
  /** TCP ports a socket on the host holds (a listener, a connection's local port): a new app's web port avoids them. */
  busyPorts?: ReadonlySet<number>;
}

/** The desired model of all valid apps, and the apps that must be left alone. */
export interface DesiredModel {
  apps: DesiredApp[];
  problems: Problem[];
  /** Apps named by an invalid manifest: reported, never created, changed or removed. */
  frozen: Set<string>;
}

/**
 * Builds the desired model from schema-valid documents. Pure: everything it
 * needs (ids already given, templates) is passed in.
 */
export function buildDesired(docs: ValidDoc[], ctx: DesiredContext): DesiredModel {
  const problems: Problem[] = [];
  const frozen = new Set<string>();
  const fail = (d: ValidDoc, at: (string | number)[], message: string) => {
    problems.push({ ...d.doc.locate(at), app: d.manifest.app, message });
    frozen.add(d.manifest.app);
  };

  /** Where a document defines its app, as `file:line`. */
  const where = (d: ValidDoc) => {
    const at = d.doc.locate(['app']);
    return `${at.file}:${at.line}`;
  };

  // Cross-file uniqueness: a name defined twice is ambiguous, so neither copy wins.
  const byName = groupBy(docs, (d) => d.manifest.app);
  for (const [name, group] of byName) {
    if (group.length < 2) continue;
    for (const d of group.slice(1)) fail(d, ['app'], `app ${name} is also defined at ${where(group[0]!)}: keep one definition`);
    frozen.add(name);
  }
  const candidates = docs.filter((d) => !frozen.has(d.manifest.app));

  // A host name or host port claimed twice stays with an installed app (one
  // with an id): a new manifest that reuses it is the one reported, and the
  // running app keeps serving. Between two installed apps neither wins, so a
  // slip in either file changes nothing; between two new ones, the first does.
  // A partial document (one that failed the schema in a field it could do
  // without) is checked too, so one run reports every problem; as a new app
  // it claims last, so it never takes a name or port from a valid one.
  const installed = (d: ValidDoc) => ctx.knownIds.has(d.manifest.app);
  const claimants = [...candidates.filter(installed), ...candidates.filter((d) => !installed(d) && !d.partial), ...candidates.filter((d) => !installed(d) && d.partial)];
  const hostAt = (d: ValidDoc, i: number): (string | number)[] => (i === 0 ? (d.manifest.hostname ? ['hostname'] : ['app']) : ['aliases', i - 1]);
  const bothInstalled = (a: ValidDoc, b: ValidDoc) => installed(a) && installed(b);
  const hostOwner = new Map<string, { d: ValidDoc; at: (string | number)[] }>();
  const extraPorts = new Map<ValidDoc, PortBinding[]>();
  for (const d of claimants) {
    const m = d.manifest;
    for (const [i, name] of [m.hostname ?? m.app, ...(m.aliases ?? [])].entries()) {
      const fq = name.includes('.') ? name : `${name}.${ctx.domain}`;
      const owner = hostOwner.get(fq);
      if (owner && owner.d !== d) {
        fail(d, hostAt(d, i), `host name ${fq} is already used by app ${owner.d.manifest.app} (${where(owner.d)}): choose another hostname`);
        if (bothInstalled(owner.d, d)) fail(owner.d, owner.at, `host name ${fq} is also claimed by app ${m.app} (${where(d)}): both apps stay as they run until one of them gives it up`);
      } else hostOwner.set(fq, { d, at: hostAt(d, i) });
    }
    extraPorts.set(d, (m.ports ?? []).map(parsePort));
  }

  // Host ports: extra ports first, so that web ports are allocated around them.
  const portOwner = new Map<string, { d: ValidDoc; at: (string | number)[] }>();
  for (const d of claimants) {
    extraPorts.get(d)!.forEach((p, i) => {
      // The schema's pattern allows any 1 to 5 digits; the Engine takes 1-65535 (host port 0 means "any").
      const outside = [p.hostPort, p.containerPort].find((n) => n < 1 || n > 65535);
      if (outside !== undefined) {
        fail(d, ['ports', i], `port ${outside} is not between 1 and 65535: choose a valid port number`);
        return;
      }
      const key = `${p.protocol}/${p.hostPort}`;
      const owner = portOwner.get(key);
      if (owner && owner.d !== d) {
        fail(d, ['ports', i], `host port ${p.hostPort}/${p.protocol} is already published by app ${owner.d.manifest.app}: choose another host port`);
        if (bothInstalled(owner.d, d)) fail(owner.d, owner.at, `host port ${p.hostPort}/${p.protocol} is also published by app ${d.manifest.app} (${where(d)}): both apps stay as they run until one of them gives it up`);
      } else portOwner.set(key, { d, at: ['ports', i] });
    });
  }
  const live = candidates.filter((d) => !frozen.has(d.manifest.app));
  const tcpTaken = new Set([...portOwner.keys()].filter((k) => k.startsWith('tcp/')).map((k) => Number(k.slice(4))));
  for (const port of ctx.busyPorts ?? []) tcpTaken.add(port);
  const ids = allocateIds(live.filter((d) => !d.partial).map((d) => d.manifest.app), ctx.knownIds, tcpTaken, ctx.portBase);

  const apps: DesiredApp[] = [];
  // Apps frozen above are checked in their own fields too: one run reports every problem.
  for (const d of candidates) {
    const m = d.manifest;
    // A new app that is frozen, or only partial, has no id: only its own fields are checked.
    const id = ids.get(m.app) ?? ctx.knownIds.get(m.app) ?? 0;
    const hostPort = ctx.portBase + id;
    if (m.web !== undefined && id > 0) {
      const owner = portOwner.get(`tcp/${hostPort}`);
      if (owner) {
        // The app keeps its id for life, so the other port has to move, even
        // when the app publishes it itself: the Engine cannot bind it twice.
        fail(owner.d, owner.at, `host port ${hostPort} is app ${m.app}'s web port (${ctx.portBase} + id ${id}): choose another host port`);
      }
      if (hostPort > 65535) fail(d, ['web'], `web host port ${hostPort} is above 65535: lower portBase in hdactl.yaml`);
    }
    const before = problems.length;
    const hostname = m.hostname ?? m.app;
    const fqdn = `${hostname}.${ctx.domain}`;
    const vars = { APP_IDENTIFIER: m.app, APP_HOSTNAME: hostname, APP_FQDN: fqdn, HOST_PORT: String(hostPort) };
    const env: Record<string, string> = {};
    for (const [k, raw] of Object.entries(m.env ?? {})) {
      const r = substitute(String(raw), vars);
      if (r.error) fail(d, ['env', k], r.error);
      env[k] = r.value;
    }
    const appDataDir = path.posix.join(ctx.dataRoot, m.app);
    const volumes: VolumeMount[] = [];
    (m.volumes ?? []).forEach((v, i) => {
      const r = parseVolume(v, appDataDir, ctx.policy);
      if (r.error) fail(d, ['volumes', i], r.error);
      else volumes.push(r.mount!);
    });
    let limits: Limits = {};
    try {
      limits = toLimits(m.limits);
    } catch (err) {
      fail(d, ['limits', 'memory'], (err as Error).message);
    }
    if (limits.memoryBytes !== undefined && limits.memoryBytes < 6 * 1024 * 1024) {
      fail(d, ['limits', 'memory'], 'memory limit is below the Engine\'s minimum of 6m: raise it');
    }
    if (problems.length > before || frozen.has(m.app) || d.partial) continue;

    const web = m.web !== undefined ? { containerPort: m.web, hostPort } : undefined;
    const ports = [
      ...(web ? [{ hostIp: '127.0.0.1', hostPort, containerPort: web.containerPort, protocol: 'tcp' as const }] : []),
      ...extraPorts.get(d)!,
    ];
    const spec: ContainerSpec = {
      image: m.image,
      ...(m.command ? { command: m.command } : {}),
      env,
      ports,
      volumes,
      restart: m.restart ?? 'unless-stopped',
      init: m.init ?? false,
      ...(m.stopTimeout ? { stopTimeoutSeconds: Math.ceil(parseDuration(m.stopTimeout) / 1000) } : {}),
    };
    // A dotless alias means <alias>.<domain>, as the uniqueness check above reads it.
    const aliases = (m.aliases ?? []).map((a) => (a.includes('.') ? a : `${a}.${ctx.domain}`));
    const desired: DesiredApp = {
      app: m.app,
      kind: m.kind,
      hostname,
      fqdn,
      aliases,
      id,
      ...(web ? { web } : {}),
      spec,
      specHash: hashSpec(spec),
      limits,
      state: m.state ?? 'running',
      source: d.doc.start,
      generation: d.doc.generation,
    };
    if (web) {
      desired.vhost = renderVhost(ctx.templates.forKind(m.kind), {
        app: m.app, fqdn, aliases, hostPort, vhostPort: ctx.vhostPort, appRoot: appDataDir,
      });
    }
    apps.push(desired);
  }
  for (const d of docs) if (d.partial) frozen.add(d.manifest.app);
  // An app frozen by a later check (a port taken by another app's web port) is dropped here.
  return { apps: apps.filter((a) => !frozen.has(a.app)), problems, frozen };
}

/** Stable hash of a container spec: canonical JSON with sorted keys. */
export function hashSpec(spec: ContainerSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function toLimits(l: { memory?: string | number; cpus?: number; pids?: number } | undefined): Limits {
  if (!l) return {};
  return {
    ...(l.memory !== undefined ? { memoryBytes: parseSize(l.memory) } : {}),
    ...(l.cpus !== undefined ? { nanoCpus: Math.round(l.cpus * 1e9) } : {}),
    ...(l.pids !== undefined ? { pids: l.pids } : {}),
  };
}

/** Parses a Compose short-syntax port or a port object. The schema already checked the shape. */
export function parsePort(p: string | PortMapping): PortBinding {
  if (typeof p !== 'string') {
    return { hostIp: p.address ?? '0.0.0.0', hostPort: p.host, containerPort: p.container, protocol: p.protocol ?? 'tcp' };
  }
  const [main, proto] = p.split('/');
  const parts = main!.split(':');
  const containerPort = Number(parts.pop());
  const hostPort = Number(parts.pop());
  const hostIp = parts.length ? parts.join(':') : '0.0.0.0';
  return { hostIp, hostPort, containerPort, protocol: proto === 'udp' ? 'udp' : 'tcp' };
}

function parseVolume(v: string, appDataDir: string, policy: VolumePolicy): { mount?: VolumeMount; error?: string } {
  const m = /^([^:]+):(\/[^:]*)(?::(ro|rw))?$/.exec(v);
  if (!m) return { error: `volume ${JSON.stringify(v)} is not SRC:DST[:ro]: write it like ./config:/config` };
  const [, source, target, mode] = m as unknown as [string, string, string, string | undefined];
  const readOnly = mode === 'ro';
  if (source.startsWith('/')) {
    const denied = checkHostPath(source, policy);
    if (denied) return { error: denied };
    // Normalised like the policy check, so /srv/media/ and /srv/media are one spec (one hash).
    return { mount: { source: path.posix.normalize(source).replace(/(.)\/+$/, '$1'), target, readOnly, appData: false } };
  }
  if (!source.startsWith('./') && !source.startsWith('../') && source !== '.') {
    return { error: `volume source ${JSON.stringify(source)} is a named volume, which hdactl does not manage: write ./${source} for a directory under the app's data dir` };
  }
  const r = resolveRelative(source, appDataDir);
  if (r.error) return { error: r.error };
  return { mount: { source: r.path!, target, readOnly, appData: true } };
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    out.set(k, [...(out.get(k) ?? []), it]);
  }
  return out;
}
