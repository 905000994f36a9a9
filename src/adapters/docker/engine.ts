import Docker from 'dockerode';
import type { ContainerInfo } from 'dockerode';
import type { ContainerSpec, Limits } from '../../desired/model.js';
import { ASIDE_MARK, LABEL, type ContainerState, type ObservedContainer } from '../../observe/types.js';
import { EngineError, classifyEngineError, engineStuck } from './errors.js';

/** What hdactl needs to create a container. */
export interface CreateRequest {
  name: string;
  spec: ContainerSpec;
  limits: Limits;
  labels: Record<string, string>;
}

/** A container event from the Engine's event stream. */
export interface EngineEvent {
  app: string;
  action: string;
  containerId: string;
}

/** Details read by an inspect: for status, and for the limits of a container the Engine says was updated. */
export interface ContainerDetails {
  restartCount: number;
  startedAt?: string;
  exitCode?: number;
  oomKilled: boolean;
  /** The limits the container has now, whoever set them (a `docker update` by hand included). */
  limits: Limits;
}

/**
 * The Engine, narrowed to what hdactl does. Answers that mean "already in
 * that state" (304 on start/stop, 404 on remove) are success.
 */
export interface Engine {
  /** Where the Engine is, for messages: unix:///var/run/docker.sock. */
  readonly endpoint: string;
  /** How many Engine API calls this adapter has made. */
  readonly calls: number;
  ping(): Promise<void>;
  /**
   * Containers (one list call): this instance's, and the names of the rest.
   * With `apps`, only those named after them (`<app>`, or set aside during a
   * recreate): the Engine filters, so the call costs the same with 500 apps as with 5.
   */
  listContainers(instance: string, apps?: ReadonlySet<string>): Promise<{ owned: ObservedContainer[]; foreignNames: Map<string, string | undefined> }>;
  hasImage(ref: string): Promise<boolean>;
  pullImage(ref: string, onProgress?: (line: string) => void): Promise<void>;
  createContainer(req: CreateRequest): Promise<string>;
  startContainer(id: string): Promise<void>;
  stopContainer(id: string, timeoutSeconds?: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  renameContainer(id: string, name: string): Promise<void>;
  updateLimits(id: string, limits: Limits): Promise<void>;
  inspectDetails(id: string): Promise<ContainerDetails>;
  /** Streams container events for this instance until `signal` aborts; resolves when the stream ends. */
  watchEvents(instance: string, onEvent: (e: EngineEvent) => void, signal: AbortSignal): Promise<void>;
}

/**
 * Creates the dockerode-backed Engine, found through DOCKER_HOST or
 * /var/run/docker.sock. `timeoutMs` bounds each call until the Engine
 * answers (a pull's or the event stream's body is not bounded).
 */
export function connectEngine(timeoutMs = 60_000): Engine {
  return new DockerEngine(timeoutMs);
}

/** What every call passes on to dockerode: aborts the request when the Engine does not answer in time. */
type CallOpts = { abortSignal: AbortSignal };

class DockerEngine implements Engine {
  readonly endpoint: string;
  calls = 0;
  private readonly docker: Docker;

  constructor(private readonly timeoutMs: number) {
    this.docker = new Docker();
    const host = process.env.DOCKER_HOST;
    this.endpoint = host && host.length > 0 ? host : 'unix:///var/run/docker.sock';
  }

  /**
   * One Engine call. An Engine that accepts the connection but never answers
   * (dockerd deadlocked) would hold the pass, and `hdactl apply`, forever:
   * after `timeoutMs` the call fails as transient, and the request is aborted
   * (where dockerode takes a signal for it: not for an image inspect).
   */
  private async call<T>(what: string, fn: (o: CallOpts) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    this.calls++;
    const abort = new AbortController();
    const stuck = new Promise<never>((_, reject) => {
      abort.signal.addEventListener('abort', () => reject(engineStuck(what, this.endpoint, timeoutMs)), { once: true });
    });
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      // On a timeout `stuck` rejects first, inside abort(): dockerode's abort error comes later.
      return await Promise.race([fn({ abortSignal: abort.signal }), stuck]);
    } catch (err) {
      throw classifyEngineError(err, what, this.endpoint);
    } finally {
      clearTimeout(timer);
    }
  }

  async ping(): Promise<void> {
    // @types/dockerode does not declare the abortSignal that dockerode 5's ping takes.
    const ping = this.docker.ping.bind(this.docker) as (o: CallOpts) => Promise<unknown>;
    await this.call('ping', (o) => ping(o));
  }

  async listContainers(instance: string, apps?: ReadonlySet<string>) {
    const filters = apps ? { name: [namePattern(apps)] } : undefined;
    const all = await this.call('list containers', (o) => this.docker.listContainers({ all: true, ...(filters ? { filters } : {}), ...o }));
    const owned: ObservedContainer[] = [];
    const foreignNames = new Map<string, string | undefined>();
    for (const c of all) {
      const labels = c.Labels ?? {};
      if (labels[LABEL.app] && labels[LABEL.instance] === instance) owned.push(toObserved(c));
      else for (const n of c.Names ?? []) foreignNames.set(n.replace(/^\//, ''), labels[LABEL.app] ? labels[LABEL.instance] : undefined);
    }
    // A removal that failed (a file the Engine may not delete) leaves the
    // container dead, but the list goes on saying removing: inspect tells.
    await Promise.all(owned.filter((c) => c.state === 'removing').map(async (c) => {
      const info = await this.call('inspect container', (o) => this.docker.getContainer(c.id).inspect(o)).catch(() => undefined);
      if (info?.State?.Status === 'dead') Object.assign(c, { state: 'dead', status: 'Dead' });
    }));
    return { owned, foreignNames };
  }

  async hasImage(ref: string): Promise<boolean> {
    try {
      await this.call('inspect image', () => this.docker.getImage(ref).inspect());
      return true;
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** The time limit covers the Engine's answer; the download after it takes as long as it takes. */
  async pullImage(ref: string, onProgress?: (line: string) => void): Promise<void> {
    const what = `pull ${ref}`;
    // The timer is cleared once the stream is there, so the signal never cuts the download.
    const stream = await this.call(what, (o) => this.docker.pull(ref, o));
    try {
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          stream,
          (err: Error | null, output: Array<{ error?: string }>) => {
            const failed = output?.find((o) => o.error);
            if (err) reject(err);
            else if (failed) reject(new Error(failed.error));
            else resolve();
          },
          (e: { status?: string; progress?: string; id?: string }) => onProgress?.([e.id, e.status, e.progress].filter(Boolean).join(' ')),
        );
      });
    } catch (err) {
      throw classifyEngineError(err, what, this.endpoint);
    }
  }

  async createContainer(req: CreateRequest): Promise<string> {
    const { spec } = req;
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of spec.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    }
    const c = await this.call(`create container ${req.name}`, (o) =>
      this.docker.createContainer({
        ...o,
        name: req.name,
        Image: spec.image,
        ...(spec.command ? { Cmd: spec.command } : {}),
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: req.labels,
        ExposedPorts: exposed,
        ...(spec.stopTimeoutSeconds !== undefined ? { StopTimeout: spec.stopTimeoutSeconds } : {}),
        HostConfig: {
          PortBindings: bindings,
          Binds: spec.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`),
          RestartPolicy: { Name: spec.restart === 'no' ? '' : spec.restart },
          Init: spec.init,
          ...engineLimits(req.limits),
        },
      }),
    );
    return c.id;
  }

  /**
   * Makes the container run. A paused container (docker pause) refuses start
   * with 409 "try unpause instead", and would then fail every pass: unpausing
   * is what starting means for it.
   */
  async startContainer(id: string): Promise<void> {
    try {
      await this.tolerate([304], 'start container', (o) => this.docker.getContainer(id).start(o));
    } catch (err) {
      if (!(err instanceof EngineError && err.statusCode === 409)) throw err;
      const info = await this.call('inspect container', (o) => this.docker.getContainer(id).inspect(o));
      if (!info.State?.Paused) throw err;
      await this.call('unpause container', (o) => this.docker.getContainer(id).unpause(o));
    }
  }

  async stopContainer(id: string, timeoutSeconds?: number): Promise<void> {
    // The Engine answers a stop after the container's own grace period (10 s unless set).
    const grace = (timeoutSeconds ?? 10) * 1000;
    await this.tolerate([304], 'stop container', (o) =>
      this.docker.getContainer(id).stop({ ...(timeoutSeconds !== undefined ? { t: timeoutSeconds } : {}), ...o }),
      this.timeoutMs + grace,
    );
  }

  async removeContainer(id: string): Promise<void> {
    // v=false: anonymous volumes stay. hdactl never deletes data.
    await this.tolerate([404], 'remove container', (o) => this.docker.getContainer(id).remove({ force: true, v: false, ...o }));
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.call('rename container', (o) => this.docker.getContainer(id).rename({ name, ...o }));
  }

  async updateLimits(id: string, limits: Limits): Promise<void> {
    await this.call('update container', (o) => this.docker.getContainer(id).update({ ...engineLimits(limits, true), ...o }));
  }

  async inspectDetails(id: string): Promise<ContainerDetails> {
    const info = await this.call('inspect container', (o) => this.docker.getContainer(id).inspect(o));
    return {
      restartCount: info.RestartCount ?? 0,
      startedAt: info.State?.StartedAt,
      exitCode: info.State?.ExitCode,
      oomKilled: Boolean(info.State?.OOMKilled),
      limits: limitsOf(info.HostConfig ?? {}),
    };
  }

  async watchEvents(instance: string, onEvent: (e: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    // The time limit covers the Engine's answer, not the stream that follows it.
    const stream = (await this.call('events', (o) =>
      this.docker.getEvents({
        ...o,
        filters: { type: ['container'], label: [`${LABEL.instance}=${instance}`] },
      }),
    )) as NodeJS.ReadableStream & { destroy(): void };
    await new Promise<void>((resolve, reject) => {
      let buffer = '';
      const stop = () => {
        stream.destroy();
        resolve();
      };
      // An abort while the call was under way has fired already: its listener would never run.
      if (signal.aborted) return stop();
      signal.addEventListener('abort', stop, { once: true });
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          try {
            const e = JSON.parse(line) as { Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
            const app = e.Actor?.Attributes?.[LABEL.app];
            if (app) onEvent({ app, action: e.Action ?? e.status ?? '', containerId: e.Actor?.ID ?? e.id ?? '' });
          } catch {
            // A torn line cannot happen with newline framing; ignore anything unparsable.
          }
        }
      });
      stream.on('end', () => {
        signal.removeEventListener('abort', stop);
        resolve();
      });
      stream.on('error', (err: Error) => {
        signal.removeEventListener('abort', stop);
        reject(classifyEngineError(err, 'events', this.endpoint));
      });
    });
  }

  private async tolerate(ok: number[], what: string, fn: (o: CallOpts) => Promise<unknown>, timeoutMs?: number): Promise<void> {
    try {
      await this.call(what, fn, timeoutMs);
    } catch (err) {
      if (err instanceof EngineError && err.statusCode !== undefined && ok.includes(err.statusCode)) return;
      throw err;
    }
  }
}

/**
 * Limits in the Engine's terms. On create, 0 means none. On update, 0 means
 * "leave as is": a pids limit is lifted with -1, while memory and CPU limits
 * cannot be lifted live at all (the planner recreates for that).
 */
function engineLimits(l: Limits, forUpdate = false) {
  return {
    ...(l.memoryBytes !== undefined || !forUpdate ? { Memory: l.memoryBytes ?? 0 } : {}),
    // A memory+swap of -1 lets the memory limit stand alone at any size, now and after later updates.
    ...(l.memoryBytes !== undefined ? { MemorySwap: -1 } : {}),
    ...(l.nanoCpus !== undefined || !forUpdate ? { NanoCpus: l.nanoCpus ?? 0 } : {}),
    PidsLimit: l.pids ?? (forUpdate ? -1 : 0),
  };
}

/** The Engine's limits in hdactl's terms: 0, -1 or none mean no limit. */
function limitsOf(h: { Memory?: number; NanoCpus?: number; PidsLimit?: number | null }): Limits {
  const set = (n: number | null | undefined) => (n !== undefined && n !== null && n > 0 ? n : undefined);
  const [memoryBytes, nanoCpus, pids] = [set(h.Memory), set(h.NanoCpus), set(h.PidsLimit)];
  return { ...(memoryBytes ? { memoryBytes } : {}), ...(nanoCpus ? { nanoCpus } : {}), ...(pids ? { pids } : {}) };
}

/** Turns the Engine's list entry into hdactl's own type, reading only labels. */
export function toObserved(c: ContainerInfo): ObservedContainer {
  const labels = c.Labels ?? {};
  const parse = <T>(s: string | undefined): T | undefined => {
    if (!s) return undefined;
    try {
      return JSON.parse(s) as T;
    } catch {
      return undefined;
    }
  };
  const id = Number(labels[LABEL.id]);
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    app: labels[LABEL.app]!,
    state: c.State as ContainerState,
    status: c.Status,
    specHash: labels[LABEL.specHash] ?? '',
    spec: parse<ContainerSpec>(labels[LABEL.spec]),
    limits: parse<Limits>(labels[LABEL.limits]) ?? {},
    ...(Number.isInteger(id) && id > 0 ? { appId: id } : {}),
    ...(labels[LABEL.generation] ? { generation: labels[LABEL.generation] } : {}),
  };
}

/**
 * The Engine's name filter for some apps: a regular expression over each
 * container's names, which start with `/`. It matches `<app>` and the names
 * recreates set containers aside under, and nothing else.
 */
export function namePattern(apps: ReadonlySet<string>): string {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^/(${[...apps].map(escape).join('|')})(${escape(ASIDE_MARK)}[0-9a-f]+)?$`;
}
