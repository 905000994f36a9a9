import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { TEST_IMAGE } from './global-setup.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
/** The built CLI. `npm test` builds it before vitest runs. */
export const CLI = path.join(ROOT, 'dist/cli/main.js');

/** The test's own Docker client, to check what the Engine reports (never used by hdactl). */
export const docker = new Docker();

let portCursor = 0;

/**
 * A sandbox for one test: its own manifests dir, data root, state dir, vhost
 * dir, hdactl instance label and port range, so tests never see each other's
 * containers and a leftover container never holds their ports.
 */
export interface World {
  id: string;
  dir: string;
  manifests: string;
  dataRoot: string;
  stateDir: string;
  vhostDir: string;
  instance: string;
  portBase: number;
  /** Prefix for app names: container names are global on the Engine. */
  prefix: string;
  /** Flags that point hdactl at this world. */
  flags: string[];
  writeManifest(name: string, yaml: string): Promise<string>;
  hdactl(args: string[], opts?: { env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Containers of this world's instance, as the Engine reports them. */
  containers(): Promise<Docker.ContainerInfo[]>;
  cleanup(): Promise<void>;
}

/** Creates a world; call `cleanup()` in afterEach/afterAll. */
export async function createWorld(extraFlags: string[] = []): Promise<World> {
  const id = randomBytes(3).toString('hex');
  const dir = await mkdtemp(path.join(tmpdir(), `hdactl-${id}-`));
  const manifests = path.join(dir, 'manifests');
  await mkdir(manifests);
  // 10000-29999 in blocks of 100 per world, spread by pid so parallel runs differ too:
  // below the kernel's ephemeral range (32768-60999), whose ports an outgoing
  // connection (a poll, a proxied request) can hold just when a container is published.
  const block = (process.pid * 7 + portCursor++) % 200;
  const portBase = 10000 + block * 100;
  const instance = `test-${id}`;
  const w: World = {
    id,
    dir,
    manifests,
    dataRoot: path.join(dir, 'data'),
    stateDir: path.join(dir, 'state'),
    vhostDir: path.join(dir, 'vhosts'),
    instance,
    portBase,
    prefix: `t${id}-`,
    flags: [],
    async writeManifest(name, yaml) {
      const file = path.join(manifests, name);
      await writeFile(file, yaml);
      return file;
    },
    async hdactl(args, opts) {
      try {
        const r = await run('node', [CLI, ...args, ...w.flags], {
          cwd: dir,
          env: { ...process.env, ...opts?.env },
          timeout: 120_000,
        });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
    async containers() {
      return docker.listContainers({ all: true, filters: { label: [`org.amahi.hdactl.instance=${instance}`] } });
    },
    async cleanup() {
      const list = await w.containers();
      await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  w.flags = [
    '--manifests', manifests,
    '--data-root', w.dataRoot,
    '--state-dir', w.stateDir,
    '--vhost-dir', w.vhostDir,
    '--instance', instance,
    '--port-base', String(portBase),
    '--domain', 'hda.test',
    '--apachectl', 'none',
    '--listen', 'none',
    ...extraFlags,
  ];
  return w;
}

/**
 * A web-app manifest of the test image serving a page that shows `message`.
 * `extra` is appended as more top-level YAML (`state: stopped\n`, `restart: "no"\n`).
 */
export function webApp(app: string, message: string, opts: { image?: string; extra?: string } = {}): string {
  return `app: ${app}\nkind: container-custom\nimage: ${opts.image ?? TEST_IMAGE}\nweb: 80\nenv:\n  MESSAGE: "${message}"\n${opts.extra ?? ''}`;
}

/** Polls `check` until it returns a truthy value, or fails with the last value after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** GETs a URL on 127.0.0.1, with an optional Host header; returns status and body, or undefined on connection failure. */
export async function httpGet(port: number, host?: string, pathname = '/'): Promise<{ status: number; body: string } | undefined> {
  const { request } = await import('node:http');
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers: host ? { Host: host } : {}, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}
