import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { TEST_IMAGE } from '../support/global-setup.js';
import { CLI, createWorld, webApp, type World } from '../support/world.js';

const run = promisify(execFile);

const ROOT = new URL('../..', import.meta.url).pathname;

describe('the CLI as a person or a script sees it', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.cleanup();
    w = undefined;
  });

  it('an unreachable Engine gets one line that says what to check, and exit 1', async () => {
    w = await createWorld();
    await w.writeManifest('a.yaml', `app: ${w.prefix}a\nkind: container-custom\nimage: ${TEST_IMAGE}\n`);
    for (const cmd of ['plan', 'apply']) {
      const r = await w.hdactl([cmd], { env: { DOCKER_HOST: 'unix:///tmp/nonexistent.sock' } });
      expect(r.stderr).toBe('hdactl: cannot reach the Docker Engine at unix:///tmp/nonexistent.sock (connect ENOENT): is dockerd running?\n');
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
    }
  });

  it('an Engine reached over ssh:// that does not answer gets the same line (ssh support is loaded on first use)', async () => {
    w = await createWorld();
    await w.writeManifest('a.yaml', `app: ${w.prefix}a\nkind: container-custom\nimage: ${TEST_IMAGE}\n`);
    const r = await w.hdactl(['plan'], { env: { DOCKER_HOST: 'ssh://nobody@127.0.0.1:1' } });
    expect(r.stderr).toContain('hdactl: cannot reach the Docker Engine at ssh://nobody@127.0.0.1:1 (connect ECONNREFUSED): is dockerd running?\n');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
  });

  it('an Engine that takes the connection but never answers (dockerd deadlocked) fails the command after --engine-timeout, in one line', async () => {
    w = await createWorld();
    await w.writeManifest('a.yaml', `app: ${w.prefix}a\nkind: container-custom\nimage: ${TEST_IMAGE}\n`);
    // A socket that accepts and reads every request and answers none, as a stuck dockerd does.
    const sock = path.join(w.dir, 'stuck.sock');
    const held: Socket[] = [];
    const stuck = createServer((c) => {
      held.push(c);
      c.resume();
    });
    await new Promise<void>((resolve) => stuck.listen(sock, resolve));
    try {
      for (const cmd of ['plan', 'apply']) {
        const r = await w.hdactl([cmd, '--engine-timeout', '1s'], { env: { DOCKER_HOST: `unix://${sock}` } });
        expect(r.stderr).toMatch(new RegExp(`^hdactl: the Docker Engine at unix://${sock.replace(/[.]/g, '\\.')} did not answer "list containers" within 1 s: dockerd is running but stuck\\. .*--engine-timeout\\n$`));
        expect(r.stdout).toBe('');
        expect(r.code).toBe(1);
      }
    } finally {
      for (const c of held) c.destroy();
      await new Promise<void>((resolve) => stuck.close(() => resolve()));
    }
  });

  it('logs are readable lines on a terminal and JSON lines otherwise', async () => {
    w = await createWorld();
    await w.writeManifest('a.yaml', `app: ${w.prefix}a\nkind: container-custom\nimage: ${TEST_IMAGE}\n`);
    await w.writeManifest('b.yaml', `app: ${w.prefix}b\nkind: container-custom\nimage: ${TEST_IMAGE}\n`);
    // script(1) gives the command a pseudo-terminal, as a person's shell would.
    const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    const cmd = ['node', CLI, 'apply', '--log-level', 'info', ...w.flags].map(quote).join(' ');
    const tty = await run('script', ['-qec', cmd, '/dev/null'], { cwd: w.dir, env: { ...process.env, NO_COLOR: '1' } });
    expect(tty.stdout).toMatch(new RegExp(`INFO.*: ${w.prefix}a created`));
    expect(tty.stdout).not.toContain('{"level"');

    await w.writeManifest('b.yaml', `app: ${w.prefix}b\nkind: container-custom\nimage: ${TEST_IMAGE}\nenv: { X: "1" }\n`);
    const piped = await w.hdactl(['apply', '--log-level', 'info']);
    const lines = piped.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: `${w.prefix}b recreated` }));
  });

  it('plan exits 2 while changes are pending, 0 in sync, 1 on an invalid manifest, and -o json parses', async () => {
    w = await createWorld();
    const app = `${w.prefix}web`;
    await w.writeManifest('web.yaml', `app: ${app}\nkind: container-custom\nimage: ${TEST_IMAGE}\nweb: 80\n`);

    const pending = await w.hdactl(['plan']);
    expect(pending.stdout).toBe(
      `+ create ${app}: image ${TEST_IMAGE}, web on 127.0.0.1:${w.portBase + 1} (new app)\n` +
      `+ vhost ${app}: ${app}.hda.test → 127.0.0.1:${w.portBase + 1}\n`,
    );
    expect(pending.code).toBe(2);
    const json = await w.hdactl(['plan', '-o', 'json']);
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout) as { inSync: boolean; apps: Array<{ app: string; actions: Array<{ type: string; text: string }> }>; problems: unknown[] };
    expect(parsed.inSync).toBe(false);
    expect(parsed.problems).toEqual([]);
    expect(parsed.apps).toHaveLength(1);
    expect(parsed.apps[0]!.app).toBe(app);
    expect(parsed.apps[0]!.actions.map((a) => a.type)).toEqual(['create', 'vhost-create']);
    // plan changes nothing.
    expect(await w.containers()).toEqual([]);

    expect((await w.hdactl(['apply'])).code).toBe(0);
    const synced = await w.hdactl(['plan']);
    expect(synced.stdout).toBe('in sync: 1 app(s), nothing to do\n');
    expect(synced.code).toBe(0);
    const syncedJson = JSON.parse((await w.hdactl(['plan', '-o', 'json'])).stdout) as { inSync: boolean };
    expect(syncedJson.inSync).toBe(true);

    await w.writeManifest('bad.yaml', `app: ${w.prefix}bad\nkind: container-custom\nimage: ${TEST_IMAGE}\nweb: eighty\n`);
    const bad = await w.hdactl(['plan']);
    expect(bad.stderr).toContain(`${w.manifests}/bad.yaml:4:6: app ${w.prefix}bad: web must be integer, not "eighty"`);
    expect(bad.code).toBe(1);
    const badJson = await w.hdactl(['plan', '-o', 'json']);
    expect(badJson.code).toBe(1);
    const problems = (JSON.parse(badJson.stdout) as { problems: Array<{ file: string; line: number }> }).problems;
    expect(problems).toEqual([expect.objectContaining({ file: `${w.manifests}/bad.yaml`, line: 4 })]);
  });

  it('--version prints the version; -o json where a command prints text, a file given to validate, and stray arguments are refused with the fix', async () => {
    w = await createWorld();
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await w.hdactl(['--version'])).toMatchObject({ code: 0, stdout: `hdactl ${pkg.version}\n` });
    const json = await w.hdactl(['validate', '-o', 'json']);
    expect(json).toMatchObject({ code: 1, stdout: '' });
    expect(json.stderr).toBe('hdactl: -o json is for plan, status, events; validate prints text\n');
    expect((await w.hdactl(['apply', '-o', 'json'])).stderr).toBe('hdactl: -o json is for plan, status, events; apply prints text (hdactl plan -o json shows what apply would do)\n');
    const file = await w.writeManifest('one.yaml', 'app: one\n');
    expect(await w.hdactl(['validate', file])).toMatchObject({ code: 1, stdout: '', stderr: `hdactl validate checks a manifests directory, as apps are checked against each other: run hdactl validate ${w.manifests}\n` });
    const stray = await w.hdactl(['plan', 'demo']);
    expect(stray).toMatchObject({ code: 1, stdout: '', stderr: 'hdactl: plan takes no arguments, not "demo": options start with --\n' });
  });

  it('status without a daemon shows why the last apply failed, until an apply succeeds', async () => {
    w = await createWorld();
    const app = `${w.prefix}web`;
    // Nothing listens on that registry port: the pull fails at once.
    const missing = '127.0.0.1:5999/nope/missing:1';
    await w.writeManifest('web.yaml', webApp(app, 'hello', { image: missing }));
    const failed = await w.hdactl(['apply']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(new RegExp(`^${app} failed: pull ${missing.replace(/[./]/g, '\\$&')} failed`, 'm'));
    const row = (await w.hdactl(['status'])).stdout.split('\n').find((l) => l.startsWith(`${app} `));
    expect(row).toMatch(new RegExp(`^${app}\\s+missing\\s.*\\sno\\s+pull ${missing.replace(/[./]/g, '\\$&')} failed: .*\\(\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)$`));

    await w.writeManifest('web.yaml', webApp(app, 'hello'));
    expect((await w.hdactl(['apply'])).code).toBe(0);
    const fixed = (await w.hdactl(['status', '-o', 'json'])).stdout;
    expect(JSON.parse(fixed)).toEqual({ apps: [expect.objectContaining({ app, state: 'running', inSync: true, error: '' })], problems: [] });
  });

  it('help shows one command with only the options it reads: hdactl help CMD and hdactl CMD --help alike', async () => {
    w = await createWorld();
    const page = await w.hdactl(['plan', '--help']);
    expect(page).toMatchObject({ code: 0, stderr: '' });
    expect(await w.hdactl(['help', 'plan'])).toEqual(page);
    expect(page.stdout).toMatch(/^hdactl plan: show what apply would change/);
    expect(page.stdout).toContain('Usage: hdactl plan [options]\n');
    expect(page.stdout).toContain('Exit status: 0 in sync, 2 changes pending, 1 ');
    expect(page.stdout).toMatch(/^  --allow-empty /m);
    // The daemon's own settings are not plan's.
    expect(page.stdout).not.toMatch(/--listen|--resync|--concurrency/);
    const run = await w.hdactl(['run', '-h']);
    expect(run.stdout).toMatch(/^  --listen ADDR:PORT /m);
    expect(run.stdout).toMatch(/^  --resync DURATION /m);
    expect(run.stdout).not.toMatch(/--allow-empty|--output/);
    expect((await w.hdactl(['help', 'validate'])).stdout).toContain('Usage: hdactl validate [DIR] [options]\n');
    // Every command a script may run says what its exit status means.
    for (const name of ['validate', 'plan', 'apply', 'status', 'run', 'events']) expect((await w.hdactl(['help', name])).stdout).toMatch(/^Exit status: 0 .*, 1 /m);
    const all = await w.hdactl(['help']);
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(all.stdout).toContain('hdactl help <command>');
    for (const name of ['validate', 'plan', 'apply', 'status', 'run', 'events', 'apache-config', 'version']) expect(all.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(await w.hdactl(['help', 'deploy'])).toMatchObject({ code: 1, stdout: '', stderr: 'hdactl: unknown command "deploy"\nRun hdactl help for the commands.\n' });
    expect(await w.hdactl(['stauts'])).toMatchObject({ code: 1, stdout: '', stderr: 'hdactl: unknown command "stauts": did you mean "status"?\nRun hdactl help for the commands.\n' });
    // A mistyped option gets the option meant, as a mistyped command does.
    expect(await w.hdactl(['plan', '--manifest', 'x'])).toMatchObject({ code: 1, stdout: '', stderr: 'hdactl: unknown option --manifest: did you mean --manifests?\nRun hdactl help for the commands and options.\n' });
    expect(await w.hdactl(['plan', '--prune'])).toMatchObject({ code: 1, stderr: 'hdactl: unknown option --prune\nRun hdactl help for the commands and options.\n' });
    // events and status read --instance to choose a daemon and its apps, not to manage containers.
    expect((await w.hdactl(['help', 'events'])).stdout).toContain('  --instance NAME      ask the daemon of this instance (default)\n');
  });

  it('validate passes the shipped examples', async () => {
    w = await createWorld();
    const examples = path.join(ROOT, 'examples');
    const r = await w.hdactl(['validate', examples]);
    expect(r.stdout).toBe(`2 app(s) valid in ${examples}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('validate passes a directory of good manifests and names file:line:col for each problem in a bad one', async () => {
    w = await createWorld();
    const good = path.join(w.dir, 'good');
    const bad = path.join(w.dir, 'bad');
    await mkdir(good);
    await mkdir(bad);
    await writeFile(path.join(good, 'hydra.yaml'), [
      'app: hydra', 'kind: container-custom', 'image: linuxserver/nzbhydra2:7.1.0', 'web: 5076',
      'volumes: ["./config:/config", "/etc/localtime:/etc/localtime:ro"]',
      'env: { TZ: Europe/Amsterdam, URL: "http://${APP_HOSTNAME}:${HOST_PORT}" }',
      'limits: { memory: 512m, cpus: 1.5, pids: 256 }', '',
    ].join('\n'));
    await writeFile(path.join(good, 'headless.yml'), 'app: worker\nkind: container-custom\nimage: busybox:1.36\ncommand: [sleep, "3600"]\n');
    const ok = await w.hdactl(['validate', good]);
    expect(ok.stdout).toBe(`2 app(s) valid in ${good}\n`);
    expect(ok.code).toBe(0);

    await writeFile(path.join(bad, 'typo.yaml'), 'app: typo\nkind: container-custom\nimage: busybox:1.36\nvolumes: ["/var/run/docker.sock:/var/run/docker.sock"]\n');
    await writeFile(path.join(bad, 'env.yaml'), 'app: env\nkind: container-custom\nimage: busybox:1.36\nenv: { URL: "${APP_HOST}" }\n');
    const no = await w.hdactl(['validate', bad]);
    expect(no.stdout).toContain(`${bad}/typo.yaml:4:11: app typo: mounting the Docker socket is never allowed`);
    expect(no.stdout).toContain(`${bad}/env.yaml:4:13: app env: unknown variable \${APP_HOST}`);
    expect(no.stderr).toBe(`2 problem(s); 0 valid app(s) in ${bad}\n`);
    expect(no.code).toBe(1);
  });
});
