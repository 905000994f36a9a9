// An hdactl "world": its own manifests, data root, state and vhost
// directories, instance label, port range and private Apache, driven through
// the built CLI (dist/cli/main.js) exactly as a user would.
import { openSync, closeSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startApache, freePort } from './apache.mjs';
import { docker, forgetPid, stopPid, trackDir, trackPid } from './cleanup.mjs';
import { httpGet, runTimed, waitFor } from './util.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
export const CLI = path.join(ROOT, 'dist/cli/main.js');
export const IMAGE = 'hdactl-demo/web:1';
export const DOMAIN = 'bench.test';

/** The manifest of one benchmark web app. */
export function manifestYaml(app, { message = `hello from ${app}`, state, limits } = {}) {
  return [
    `app: ${app}`,
    'kind: container-custom',
    `image: ${IMAGE}`,
    'web: 80',
    `env: { MESSAGE: "${message}" }`,
    ...(limits ? [`limits: { memory: ${limits.memory}, cpus: ${limits.cpus} }`] : []),
    ...(state ? [`state: ${state}`] : []),
    '',
  ].join('\n');
}

/**
 * Creates a world under `dir`: `apps` is the list of app names to write
 * manifests for (one file each); `apache: true` starts a private Apache
 * that hdactl reloads.
 */
export async function createWorld({ dir, runId, name, portBase, apps = [], state, apache = true }) {
  const manifests = path.join(dir, 'manifests');
  await mkdir(manifests, { recursive: true });
  trackDir(dir);
  const vhostDir = path.join(dir, 'vhosts');
  const web = apache ? await startApache(path.join(dir, 'apache'), vhostDir) : undefined;
  const instance = `bench-${runId}-${name}`;
  const flags = [
    '--manifests', manifests,
    '--data-root', path.join(dir, 'data'),
    '--state-dir', path.join(dir, 'state'),
    '--vhost-dir', vhostDir,
    '--instance', instance,
    '--port-base', String(portBase),
    '--domain', DOMAIN,
    '--apachectl', web ? web.apachectl : 'none',
    '--vhost-port', String(web ? web.port : 80),
  ];
  const w = {
    dir,
    manifests,
    instance,
    portBase,
    apache: web,
    flags,
    /** Writes (or rewrites) one app's manifest: via a temp file and rename, as an editor would. */
    async writeApp(app, opts) {
      const tmp = path.join(dir, `.${app}.yaml.tmp`);
      await writeFile(tmp, manifestYaml(app, { state, ...opts }));
      await rename(tmp, path.join(manifests, `${app}.yaml`));
    },
    async removeApp(app) {
      await rm(path.join(manifests, `${app}.yaml`), { force: true });
    },
    /**
     * Runs `hdactl <args>` once, timed from spawn to exit; reports the exit
     * code, output and the Engine API calls the process made.
     */
    async hdactl(args, extraEnv = {}) {
      const r = await runTimed('node', [CLI, ...args, ...flags], {
        cwd: dir,
        env: { ...process.env, HDACTL_REPORT_CALLS: '1', ...extraEnv },
        timeoutMs: 300_000,
      });
      const m = /engine-calls: (\d+)/.exec(r.stderr);
      return { ...r, engineCalls: m ? Number(m[1]) : undefined };
    },
    /** Runs `hdactl <args>` and throws unless it exits with one of `ok`. */
    async hdactlOk(args, ok = [0], extraEnv = {}) {
      const r = await w.hdactl(args, extraEnv);
      if (!ok.includes(r.code)) throw new Error(`hdactl ${args.join(' ')} exited ${r.code}:\n${r.stdout.slice(-3000)}${r.stderr.slice(-3000)}`);
      return r;
    },
    /** This world's containers as the Engine lists them. */
    async containers() {
      return docker.listContainers({ all: true, filters: { label: [`org.amahi.hdactl.instance=${instance}`] } });
    },
    /** Answers for `app` through the private Apache. */
    viaApache(app) {
      return httpGet(web.port, `${app}.${DOMAIN}`);
    },
    /**
     * Starts `hdactl run` on a free --listen port with its log in the world
     * dir; resolves once its first pass is done and its queue is empty.
     */
    async startDaemon({ resync = '60s' } = {}) {
      const port = await freePort();
      const startedAt = Date.now();
      const log = openSync(path.join(dir, 'daemon.log'), 'a');
      const child = spawn('node', [CLI, 'run', ...flags, '--listen', `127.0.0.1:${port}`, '--resync', resync], {
        cwd: dir,
        stdio: ['ignore', log, log],
      });
      closeSync(log);
      trackPid(child.pid);
      const exited = new Promise((r) => child.on('exit', (code) => r(code)));
      const metrics = async () => {
        const r = await httpGet(port, undefined, '/metrics');
        return r?.status === 200 ? parseMetrics(r.body) : undefined;
      };
      await Promise.race([
        waitFor(`hdactl run (${instance}) to finish its first pass`, async () => {
          const m = await metrics();
          return m && m['hdactl_reconcile_passes_total{result="ok"}'] >= 1 && m.hdactl_queue_depth === 0;
        }, 300_000, 100),
        exited.then((code) => {
          throw new Error(`hdactl run exited ${code} before its first pass; see ${path.join(dir, 'daemon.log')}`);
        }),
      ]);
      return {
        pid: child.pid,
        port,
        startedAt,
        metrics,
        async stop() {
          await stopPid(child.pid, 35_000);
          forgetPid(child.pid);
        },
      };
    },
  };
  return w;
}

/** Prometheus text → { 'name{labels}': value }. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}
