#!/usr/bin/env node
// hdactl's benchmark suite (issue 5): every scenario against the real Docker
// Engine, several runs each with the contenders interleaved, a markdown table
// of medians, ratios against hdactl and targets on stdout, and
// bench/results/latest.json. Everything it creates is removed at the end.
//
//   npm run build && npm run bench          the full suite (under 10 min on 2 cores; see bench/RESULTS.md)
//   node bench/run.mjs --quick              few apps, one run each: a smoke test
//   node bench/run.mjs --reps 5             more runs per scenario
//   node bench/run.mjs --only noop,reaction  some scenarios (converge noop planCalls change limits footprint reaction)
//   node bench/run.mjs --keep               keep the temp dir (manifests, daemon logs) afterwards
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cleanupAll, removeContainers, removeNetworks, trackDir } from './lib/cleanup.mjs';
import { COMPOSE, HTTP_TIMEOUT, PARALLEL_LIMIT } from './lib/compose.mjs';
import { CLI } from './lib/hdactl.mjs';
import { fmtMs, now, progress, runOk } from './lib/util.mjs';
import { converge } from './scenarios/converge.mjs';
import { setupConverged, setupStopped } from './scenarios/setup.mjs';
import { noop } from './scenarios/noop.mjs';
import { change } from './scenarios/change.mjs';
import { limits } from './scenarios/limits.mjs';
import { reaction } from './scenarios/reaction.mjs';
import { footprint } from './scenarios/footprint.mjs';
import { planCalls } from './plan.mjs';
import { calibrate } from './lib/calibrate.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

/** Sizes and run counts, chosen for the 10-minute budget on 2 cores. */
function config(quick, repsOverride) {
  const c = quick
    ? {
        sizes: { converge: 5, world: 10, big: 12, idleSeconds: 3 },
        reps: { converge: { hdactl: 1, floor: 1, compose: 1, amahi: 1 }, noop: 1, change: 1, limits: 1, reaction: 1 },
      }
    : {
        sizes: { converge: 50, world: 200, big: 500, idleSeconds: 60 },
        // Every contender twice, interleaved (A B, then B A), which keeps the suite
        // within its 10 minutes on a 2-core VM whose Engine creates a container in
        // about 450 ms (three runs each took 587-685 s there). The reaction, the
        // tightest target and 5 s a run, five times. `--reps N` runs more.
        reps: { converge: { hdactl: 2, floor: 2, compose: 2, amahi: 2 }, noop: 2, change: 2, limits: 2, reaction: 5 },
      };
  if (repsOverride) {
    const n = Number(repsOverride);
    c.reps = { converge: { hdactl: n, floor: n, compose: n, amahi: n }, noop: n, change: n, limits: n, reaction: n };
  }
  return c;
}

/** Host port bases, above the kernel's ephemeral range (32768-60999), whose ports outgoing connections hold, and the tests' 10000-29999. */
const PORTS = {
  worldHdactl: 61000, // + up to 200 apps, then the reaction apps
  worldCompose: 61500,
  bigHdactl: 62000, // + up to 500 (stopped: never bound)
  s1hdactl: 63000,
  s1floor: 63100,
  s1compose: 63200,
  s1amahi: 63300,
  reactionFloor: 63400,
  calibrate: 63500,
};

function sh(cmd) {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  return {
    nproc: sh('nproc'),
    memory: sh('free -h'),
    cpu: sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").trim(),
    kernel: sh('uname -r'),
    docker: sh("docker version --format '{{.Server.Version}}'"),
    compose: sh(`${COMPOSE} version --short`),
    node: process.version,
    apache: sh("/usr/sbin/apache2 -v | head -1 | cut -d: -f2").trim(),
  };
}

/** Engine, image, docker-compose and the built CLI: what every scenario needs. */
async function prepare() {
  await runOk('bash', [path.join(ROOT, 'scripts/engine-up.sh')]);
  await runOk('bash', [path.join(ROOT, 'scripts/build-image.sh')]);
  if (!existsSync(COMPOSE)) {
    if (process.getuid?.() !== 0) throw new Error(`${COMPOSE} is missing: install it with apt-get install docker-compose (as root)`);
    progress('installing docker-compose with apt-get');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await runOk('apt-get', ['update', '-qq'], { env });
    await runOk('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'docker-compose'], { env });
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const newest = (dir) => readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((m, e) => Math.max(m, statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs), 0);
  if (newest(path.join(ROOT, 'src')) > statSync(CLI).mtimeMs) progress('warning: src/ is newer than dist/: run npm run build for current results');
}

/** Collects the table's rows. */
function table() {
  const rows = [];
  const ratioText = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
  return {
    rows,
    /** hdactl's median against another contender's; `target` is the most hdactl ÷ other may be. */
    compare(scenario, hd, other, target, custom) {
      const ratio = hd.ms / other.ms;
      const pass = custom ? custom.pass : target === undefined ? undefined : ratio <= target;
      rows.push({
        scenario,
        hdactl: hd.label,
        hdactlValue: `${fmtMs(hd.ms)} (${hd.n})`,
        other: other.label,
        otherValue: `${fmtMs(other.ms)} (${other.n})`,
        ratio: custom?.ratio ?? ratioText(hd.ms, other.ms),
        target: custom?.target ?? (target === undefined ? '—' : `≤ ${target}×`),
        result: pass === undefined ? 'info' : pass ? 'PASS' : 'MISS',
        hdactlMs: hd.ms,
        otherMs: other.ms,
      });
    },
    /** A measurement with a target of its own (calls, restarts, CPU, memory). */
    check(scenario, what, value, target, pass) {
      rows.push({ scenario, hdactl: what, hdactlValue: value, other: '', otherValue: '', ratio: '', target, result: pass === undefined ? 'info' : pass ? 'PASS' : 'MISS' });
    },
  };
}

function markdown(rows) {
  const esc = (s) => String(s).replaceAll('|', '\\|');
  const lines = [
    '| Scenario | hdactl | median (runs) | against | median (runs) | hdactl ÷ against | Target | Result |',
    '|---|---|---|---|---|---|---|---|',
  ];
  let last;
  for (const r of rows) {
    lines.push(`| ${r.scenario === last ? '' : esc(r.scenario)} | ${esc(r.hdactl)} | ${esc(r.hdactlValue)} | ${esc(r.other)} | ${esc(r.otherValue)} | ${esc(r.ratio)} | ${esc(r.target)} | ${r.result} |`);
    last = r.scenario;
  }
  return lines.join('\n');
}

const SCENARIOS = ['converge', 'noop', 'planCalls', 'change', 'limits', 'footprint', 'reaction'];

const USAGE = `usage: node bench/run.mjs [--quick] [--reps N] [--only LIST] [--out FILE] [--keep]
  --quick      few apps, one run each: a smoke test
  --reps N     runs per scenario
  --only LIST  some scenarios, comma-separated: ${SCENARIOS.join(' ')}
  --out FILE   where the JSON goes (default bench/results/latest.json)
  --keep       keep the temp dir (manifests, daemon logs) afterwards
Run npm run build first: the suite measures dist/.`;

function options() {
  try {
    return parseArgs({ options: { quick: { type: 'boolean', default: false }, reps: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean', default: false }, only: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }).values;
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
}

async function main() {
  const values = options();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const unknown = [...(only ?? [])].filter((k) => !SCENARIOS.includes(k));
  if (unknown.length) {
    process.stderr.write(`bench: no scenario ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  if (only && [...only].some((k) => k !== 'converge')) only.add('setup');
  const quick = values.quick;
  const { sizes, reps } = config(quick, values.reps);
  const runId = randomBytes(3).toString('hex');
  const out = values.out ? path.resolve(values.out) : path.join(ROOT, 'bench/results/latest.json');
  const started = now();
  const command = `node bench/run.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;

  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      interrupted = true;
      progress(`${sig}: cleaning up`);
      cleanupAll(runId).finally(() => process.exit(130));
    });
  }

  await prepare();
  const tmp = await mkdtemp(path.join(tmpdir(), `hdactl-bench-${runId}-`));
  trackDir(tmp);
  // Apache's children run as www-data and must reach the document roots inside.
  await chmod(tmp, 0o755);
  const t = table();
  const ctx = { runId, quick, tmp, sizes, reps, ports: PORTS, compare: t.compare, check: t.check };
  const results = {};
  const errors = [];
  /** Runs one scenario; a failure is recorded and the suite goes on where it can. */
  const scenario = async (key, fn) => {
    if (interrupted || (only && !only.has(key))) return undefined;
    const t0 = now();
    try {
      results[key] = await fn();
      results[key].wallSeconds = (now() - t0) / 1000;
      return results[key];
    } catch (err) {
      progress(`${key} failed: ${err.stack}`);
      results[key] = { error: err.message };
      errors.push(key);
      t.check(key, 'scenario failed', err.message.split('\n')[0], '—', false);
      return undefined;
    }
  };
  progress(`run ${runId}: ${quick ? 'quick' : 'full'} suite, temp dir ${tmp}`);
  let speed;
  try {
    speed = await calibrate({ runId, hostPort: PORTS.calibrate });
    progress(`machine: ${speed.hypervisor}; a process start ${fmtMs(speed.spawnMs)}, a container's create + start + first answer ${fmtMs(speed.containerStartMs)}`);
    await scenario('converge', () => converge(ctx));

    let shared;
    await scenario('setup', async () => {
      shared = await setupConverged(ctx);
      return { ...shared.setupMs };
    });
    const needShared = async (fn) => {
      if (!shared) throw new Error('the converged world could not be set up');
      return fn();
    };
    await scenario('noop', () => needShared(() => noop(ctx, shared)));
    await scenario('planCalls', () => needShared(() => planCalls(ctx, shared.world, shared.apps.length)));
    await scenario('change', () => needShared(() => change(ctx, shared)));
    await scenario('limits', () => needShared(() => limits(ctx, shared)));

    // The daemons run over hdactl's worlds alone: Compose's containers go first,
    // while the 500 stopped apps are created (about 30 s saved). A container that
    // is created and not started joins no network, so the two do not contend
    // for the Engine's network locks; that setup's time is not a measurement.
    const composeGone = shared
      ? removeContainers(runId, (l) => l['com.docker.compose.project'] === shared.project.project)
        .then(() => removeNetworks(runId, (p) => p === shared.project.project))
      : Promise.resolve();
    let daemonA;
    await scenario('footprint', () => needShared(async () => {
      const [big] = await Promise.all([setupStopped(ctx), composeGone]);
      daemonA = await shared.world.startDaemon({ resync: '60s' });
      const daemonB = await big.world.startDaemon({ resync: '60s' });
      try {
        return {
          ...(await footprint(ctx, [
            { name: 'running', apps: sizes.world, daemon: daemonA },
            { name: 'stopped', apps: sizes.big, stopped: true, daemon: daemonB, rssTarget: 150 },
          ], sizes.idleSeconds)),
          setupMs: big.setupMs,
        };
      } finally {
        await daemonB.stop();
        await removeContainers(runId, (l) => l['org.amahi.hdactl.instance'] === big.world.instance);
      }
    }));
    await composeGone.catch(() => undefined);
    await scenario('reaction', () => needShared(async () => {
      daemonA ??= await shared.world.startDaemon({ resync: '60s' });
      try {
        return await reaction(ctx, { world: shared.world, daemon: daemonA });
      } finally {
        await daemonA.stop();
      }
    }));
  } finally {
    progress('cleaning up');
    const removed = await cleanupAll(runId, { keepDirs: values.keep });
    if (values.keep) progress(`kept ${tmp}`);
    progress(`removed ${removed.containers} container(s), ${removed.networks} network(s)`);
  }

  const seconds = (now() - started) / 1000;
  const m = { ...machine(), speed };
  const head = [
    `hdactl benchmark, ${quick ? 'quick' : 'full'} suite, run ${runId}, ${new Date().toISOString()}`,
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memory.split('\n')[1]?.split(/\s+/)[1] ?? '?'} RAM; Docker ${m.docker}; docker-compose ${m.compose}; Node ${m.node}; ${m.apache}`,
    `Command: ${command}; took ${seconds.toFixed(0)} s`,
    ...(speed ? [`Machine speed, before the scenarios: hypervisor ${speed.hypervisor}; a process start (/bin/true) ${fmtMs(speed.spawnMs)}; one container's create + start + first HTTP answer ${fmtMs(speed.containerStartMs)} (medians)`] : []),
    '',
  ];
  const notes = [
    '',
    'Times are medians over the runs in parentheses, each timed from process start to exit (hdactl, docker-compose and bench/floor.mjs all pay their own start-up).',
    'Contenders ran interleaved (A B C D, then D C B A). "hdactl ÷ against" below 1 means hdactl is faster.',
    'Scenario 5 polls every 10 ms: through the private Apache (Host header) for hdactl, on the published host port for the floor.',
    `Scenario 6 measures the ${sizes.big}-app daemon over apps with \`state: stopped\` (created, not running): ${sizes.big} running containers take too long to create on this machine for the time budget.`,
    'Compose services use `network_mode: bridge`, the default bridge hdactl and the floor use too: with a network per project, Amahi\'s way fails at about 30 apps, when Docker\'s default address pools run out.',
    `Compose runs with COMPOSE_PARALLEL_LIMIT=${PARALLEL_LIMIT}: with its default of 64, Compose 1.29 deadlocks in \`up\` on ${sizes.world} services (docker/compose#5864, #8161). COMPOSE_HTTP_TIMEOUT=${HTTP_TIMEOUT}: with its default of 60 s, one slow Engine call fails the whole \`up\` when the disk is slow.`,
    ...(quick ? ['Quick mode: few apps and one run each, to check the suite works; its times mean little.'] : []),
  ];
  const markdownTable = markdown(t.rows);
  process.stdout.write(`${head.join('\n')}\n${markdownTable}\n${notes.join('\n')}\n`);

  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({
    version: 1,
    runId,
    date: new Date().toISOString(),
    quick,
    command,
    seconds,
    machine: m,
    config: { sizes, reps, ports: PORTS },
    scenarios: results,
    table: t.rows,
    markdown: markdownTable,
    misses: t.rows.filter((r) => r.result === 'MISS').map((r) => `${r.scenario}: ${r.hdactl}`),
    errors,
  }, null, 2)}\n`);
  progress(`wrote ${path.relative(process.cwd(), out)}`);
  return errors.length ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  async (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
