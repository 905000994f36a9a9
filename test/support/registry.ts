import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually, httpGet } from './world.js';

const run = promisify(execFile);

/** Debian's docker-registry (distribution 2.x); scripts/test-env.sh installs it. */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** A private image registry on 127.0.0.1:<port>, with its own config and storage. */
export interface PrivateRegistry {
  /** `127.0.0.1:5000`: the prefix of image references pushed to it. */
  host: string;
  /** Tags a local image as `<host>/<repo>`, pushes it, and removes the local tag again. */
  pushAway(localImage: string, repo: string): Promise<string>;
  stop(): Promise<void>;
}

async function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Starts docker-registry on 127.0.0.1:<port>, storing into a temp dir. The
 * Engine treats 127.0.0.0/8 registries as insecure by default, so plain HTTP works.
 */
export async function startRegistry(port = 5000): Promise<PrivateRegistry> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} is missing: run npm run test:env (it installs Debian's docker-registry)`);
  }
  // Another test run on this machine may hold the port for a few seconds: wait for it, then say who to stop.
  await eventually(async () => !(await portTaken(port)), 60_000, 250).catch(() => {
    throw new Error(`127.0.0.1:${port} stayed in use for 60 s: stop whatever listens there (a leftover docker-registry?)`);
  });
  const root = await mkdtemp(path.join(tmpdir(), 'hdactl-registry-'));
  const config = path.join(root, 'config.yml');
  await writeFile(config, [
    'version: 0.1',
    'log: { level: warn }',
    'storage:',
    `  filesystem: { rootdirectory: ${root}/data }`,
    '  delete: { enabled: true }',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n'));
  let exited = false;
  let output = '';
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const gone = new Promise<void>((resolve) => child.on('exit', () => {
    exited = true;
    resolve();
  }));
  try {
    await eventually(async () => {
      if (exited) throw new Error(`docker-registry exited: ${output.trim()}`);
      return (await httpGet(port, undefined, '/v2/'))?.status === 200;
    }, 15_000);
  } catch (err) {
    child.kill('SIGTERM');
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    async pushAway(localImage, repo) {
      const ref = `${host}/${repo}`;
      await run('docker', ['tag', localImage, ref]);
      await run('docker', ['push', '--quiet', ref]);
      await run('docker', ['rmi', ref]);
      return ref;
    },
    async stop() {
      if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await gone;
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A registry that never finishes answering: a pull of one of its images hangs. */
export interface StalledRegistry {
  /** An image reference on it. */
  image: string;
  /** True once the Engine has connected to it (a pull has begun). */
  reached(): boolean;
  /** Drops its connections, so that the Engine's pull fails, and closes it. */
  stop(): void;
}

/**
 * A TCP server on a free loopback port that answers each request with a 200
 * and its headers, then never sends the body it promises: a pull from it
 * waits for good, as a long one would (one that simply never answers ends at
 * the Engine's TLS and connect timeouts instead).
 */
export async function startStalledRegistry(): Promise<StalledRegistry> {
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => undefined);
    sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Length: 4096\r\n\r\n{'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    image: `127.0.0.1:${(server.address() as AddressInfo).port}/hdactl/stalled:1`,
    reached: () => sockets.length > 0,
    stop() {
      for (const sock of sockets) sock.destroy();
      server.close();
    },
  };
}
