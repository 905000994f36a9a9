// Docker Compose 1.29 (Debian's docker-compose), the way Amahi ran container
// apps in 2017 and the way most home servers still do.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RUN_LABEL, trackDir } from './cleanup.mjs';
import { IMAGE } from './hdactl.mjs';
import { runTimed } from './util.mjs';

export const COMPOSE = '/usr/bin/docker-compose';

/**
 * Compose 1.29 deadlocks in `up` once services plus their nested create and
 * start tasks outnumber COMPOSE_PARALLEL_LIMIT (default 64): with 200
 * services it stalls for good after about 20 containers (docker/compose#5864,
 * #7486, #8161). A limit above twice the service count lets it finish.
 */
export const PARALLEL_LIMIT = 1000;

/**
 * Compose gives up on an Engine call after COMPOSE_HTTP_TIMEOUT (60 s): on a
 * host whose disk is slow for a while, one create among 200 can take that
 * long, and the whole `up` fails. The benchmark waits instead (runTimed's
 * own timeout still bounds a run).
 */
export const HTTP_TIMEOUT = 300;

/**
 * One service as Amahi wrote it: the app's image, a fixed container name,
 * restart unless-stopped, and the web port published on 127.0.0.1 only.
 */
function serviceYaml(name, { container, hostPort, message, limits, runId }) {
  return [
    `  ${name}:`,
    `    image: ${IMAGE}`,
    `    container_name: ${container}`,
    // The default bridge, as hdactl and the floor use: one network per project
    // would run out of Docker's default address pools at about 30 projects.
    '    network_mode: bridge',
    '    restart: unless-stopped',
    `    ports: ["127.0.0.1:${hostPort}:80"]`,
    `    environment: { MESSAGE: "${message}" }`,
    `    labels: { ${RUN_LABEL}: "${runId}" }`,
    ...(limits ? [`    mem_limit: ${limits.memory}`, `    cpus: ${limits.cpus}`] : []),
  ].join('\n');
}

/** A docker-compose.yml for `services`: [{ name, container, hostPort, message, limits? }]. */
export function composeYaml(services, runId) {
  return ['version: "2.4"', 'services:', ...services.map((s) => serviceYaml(s.name, { ...s, runId })), ''].join('\n');
}

/** A Compose project in its own directory. */
export async function createProject({ dir, project, services, runId }) {
  await mkdir(dir, { recursive: true });
  trackDir(dir);
  const p = {
    dir,
    project,
    services,
    async write() {
      await writeFile(path.join(dir, 'docker-compose.yml'), composeYaml(p.services, runId));
    },
    /** `docker-compose -p <project> up -d`, timed; throws on a non-zero exit. */
    async up() {
      const r = await runTimed(COMPOSE, ['-p', project, 'up', '-d'], { cwd: dir, timeoutMs: 300_000, env: { ...process.env, COMPOSE_PARALLEL_LIMIT: String(PARALLEL_LIMIT), COMPOSE_HTTP_TIMEOUT: String(HTTP_TIMEOUT) } });
      if (r.code !== 0) throw new Error(`docker-compose -p ${project} up -d exited ${r.code}:\n${r.stderr.slice(-3000)}`);
      return r;
    },
  };
  await p.write();
  return p;
}
