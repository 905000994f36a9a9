#!/usr/bin/env node
// The floor: the least any tool can do to converge N web apps from empty:
// create and start the same containers hdactl makes (image, env, 127.0.0.1
// port, restart policy) through dockerode, `--concurrency` at a time, and
// nothing else: no manifests, no image check, no state, no vhosts.
//
//   node bench/floor.mjs --count 50 --port-base 63100 --prefix b1234-f --run 1234 [--concurrency 4]
import { parseArgs } from 'node:util';
import Docker from 'dockerode';

const IMAGE = 'hdactl-demo/web:1';

/** The container options the floor creates, matching hdactl's for a web app. */
export function floorContainer({ name, hostPort, message, runId }) {
  return {
    name,
    Image: IMAGE,
    Env: [`MESSAGE=${message}`],
    Labels: { 'org.amahi.bench.run': runId },
    ExposedPorts: { '80/tcp': {} },
    HostConfig: {
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] },
      RestartPolicy: { Name: 'unless-stopped' },
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      'port-base': { type: 'string' },
      prefix: { type: 'string' },
      run: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
    },
  });
  const count = Number(values.count);
  const portBase = Number(values['port-base']);
  const concurrency = Number(values.concurrency);
  if (!(count > 0) || !(portBase > 0) || !values.prefix || !values.run || !(concurrency > 0)) {
    process.stderr.write('usage: node bench/floor.mjs --count N --port-base P --prefix NAME --run RUNID [--concurrency 4]\n');
    return 1;
  }
  const docker = new Docker();
  let next = 1;
  const worker = async () => {
    while (next <= count) {
      const i = next++;
      const name = `${values.prefix}${String(i).padStart(3, '0')}`;
      const c = await docker.createContainer(floorContainer({ name, hostPort: portBase + i, message: `hello from ${name}`, runId: values.run }));
      await c.start();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`floor: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
