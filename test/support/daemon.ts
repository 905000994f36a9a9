import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import type { AppStatus, StatusDocument } from '../../src/status/model.js';
import { freePort } from './apache.js';
import { pageWith } from './engine.js';
import { CLI, eventually, httpGet, webApp, type World } from './world.js';

/**
 * Writes `<name>.yaml`, a web app `<prefix><name>` showing `message`, and
 * waits until the daemon `d` has it serving on its host port.
 */
export async function deployed(w: World, d: Daemon, name: string, message: string, opts?: Parameters<typeof webApp>[2]) {
  const app = `${w.prefix}${name}`;
  const file = await w.writeManifest(`${name}.yaml`, webApp(app, message, opts));
  const port = Number(await eventually(async () => (await d.app(app))?.hostPort));
  await pageWith(port, message);
  return { app, port, file };
}

/** A `hdactl run` started by a test, as a separate process. */
export interface Daemon {
  pid: number;
  /** `127.0.0.1:<port>` of its status server. */
  listen: string;
  port: number;
  /** Its stdout and stderr (JSON log lines), for reading when a test fails. */
  logFile: string;
  /** Settles when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it has exited. */
  readonly running: boolean;
  /** GET /status. */
  status(): Promise<StatusDocument>;
  /** One app's entry in /status, or undefined. */
  app(name: string): Promise<AppStatus | undefined>;
  /** A counter or gauge from /metrics, summed over its labels (or only those given). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Waits until nothing is queued and no trigger is settling (an app is looked at again 2 s after its last event). */
  idle(): Promise<void>;
  /** Everything it has written so far. */
  output(): Promise<string>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<Daemon>();
let serial = 0;

/**
 * Starts `hdactl run` on a world: its flags, then a status server on a free
 * loopback port and `--resync 60s` (so only triggers, not the timer, drive a
 * test), then `extraFlags`: node's parseArgs keeps the last value of a flag,
 * so these override `w.flags`' `--listen none` and `--apachectl none`.
 * Waits until /healthz answers (`wait: 'log'`: until it logs that it started;
 * `wait: false`: not at all).
 */
export async function startDaemon(w: World, opts: { extraFlags?: string[]; env?: Record<string, string>; wait?: boolean | 'log'; port?: number } = {}): Promise<Daemon> {
  const port = opts.port ?? (await freePort());
  const listen = `127.0.0.1:${port}`;
  const logFile = path.join(w.dir, `daemon-${++serial}.log`);
  const fd = openSync(logFile, 'a');
  const args = [CLI, 'run', ...w.flags, '--listen', listen, '--resync', '60s', '--log-level', 'debug', ...(opts.extraFlags ?? [])];
  const child: ChildProcess = spawn('node', args, { cwd: w.dir, env: { ...process.env, ...opts.env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const get = async (p: string) => {
    const r = await httpGet(port, undefined, p);
    if (r?.status !== 200) throw new Error(`GET ${p}: ${r ? `HTTP ${r.status}` : 'no answer'}`);
    return r.body;
  };
  const d: Daemon = {
    pid: child.pid!,
    listen,
    port,
    logFile,
    exited,
    get running() {
      return running;
    },
    status: async () => JSON.parse(await get('/status')) as StatusDocument,
    app: async (name) => (await d.status()).apps.find((a) => a.app === name),
    async metric(name, labels = {}) {
      let sum = 0;
      for (const line of (await get('/metrics')).split('\n')) {
        const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
      }
      return sum;
    },
    async idle() {
      await eventually(async () => ((await d.metric('hdactl_queue_depth')) === 0 && (await d.metric('hdactl_triggers_scheduled')) === 0) || undefined);
    },
    output: () => readFile(logFile, 'utf8').catch(() => ''),
    async stop(signal = 'SIGTERM') {
      if (running) {
        try {
          process.kill(d.pid, signal);
        } catch {
          // already gone
        }
      }
      const r = await exited;
      started.delete(d);
      return r;
    },
  };
  started.add(d);
  if (opts.wait !== false) {
    try {
      await eventually(async () => {
        if (!running) throw new Error(`hdactl run exited: ${await d.output()}`);
        // With `--listen none` there is no /healthz: its log says when it is up.
        if (opts.wait === 'log') return (await d.output()).includes('"msg":"hdactl run started"');
        return (await httpGet(port, undefined, '/healthz'))?.status === 200;
      }, 15_000);
    } catch (err) {
      await d.stop('SIGKILL');
      throw err;
    }
  }
  return d;
}

/**
 * Stops every daemon a test started and did not stop itself, by pid: SIGTERM,
 * then SIGKILL if it has not exited within 15 s. For afterEach/afterAll.
 */
export async function stopDaemons(): Promise<void> {
  await Promise.all([...started].map(async (d) => {
    const timer = setTimeout(() => {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 15_000);
    await d.stop('SIGTERM');
    clearTimeout(timer);
  }));
}

/** The condition `type` of an app's status, or undefined. */
export function conditionOf(a: AppStatus | undefined, type: string): AppStatus['conditions'][number] | undefined {
  return a?.conditions.find((c) => c.type === type);
}

const run = promisify(execFile);

/**
 * Runs a one-shot hdactl command on a world with `--listen <daemon>`: after
 * `w.flags`, so that it wins over their `--listen none` (`w.hdactl` puts the
 * world's flags last).
 */
export async function hdactlWith(w: World, listen: string, args: string[], overrides: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [CLI, ...args, ...w.flags, '--listen', listen, ...overrides], { cwd: w.dir, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * Registers an afterEach that prints the tail of every running daemon's log
 * when a test failed: what the daemon did is usually the explanation.
 */
export function printDaemonLogsOnFailure(lines = 80): void {
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const d of started) {
      const tail = (await d.output()).trimEnd().split('\n').slice(-lines).join('\n');
      process.stderr.write(`\n--- hdactl run (pid ${d.pid}) ${d.logFile}, last ${lines} lines ---\n${tail}\n`);
    }
  });
}
