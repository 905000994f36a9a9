import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';

let cwd: string;

beforeEach(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'hdactl-settings-'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const config = (yaml: string, name = 'hdactl.yaml') => writeFile(path.join(cwd, name), yaml);
const resolve = (flags: Record<string, string> = {}, env: Record<string, string> = {}) => resolveSettings(flags, env, cwd, 'apachectl');

describe('where a setting comes from', () => {
  it('with no flag, variable or hdactl.yaml, the defaults apply, with paths under the working directory', () => {
    const s = resolve();
    expect(s).toEqual({
      manifests: path.join(cwd, 'manifests'),
      dataRoot: path.join(cwd, '.hdactl/data'),
      stateDir: path.join(cwd, '.hdactl'),
      domain: 'hda.local',
      portBase: 35000,
      instance: 'default',
      concurrency: 4,
      vhostDir: path.join(cwd, '.hdactl/vhosts'),
      apachectl: 'apachectl',
      vhostPort: 80,
      listen: '127.0.0.1:9469',
      resyncMs: 60_000,
      engineTimeoutMs: 60_000,
      logLevel: 'info',
      volumeAllow: [],
    });
  });

  it.each([
    { situation: 'hdactl.yaml beats the default', file: true, env: false, flag: false, domain: 'file.lan', portBase: 36000 },
    { situation: 'an HDACTL_* variable beats hdactl.yaml', file: true, env: true, flag: false, domain: 'env.lan', portBase: 37000 },
    { situation: 'a flag beats an HDACTL_* variable', file: true, env: true, flag: true, domain: 'flag.lan', portBase: 38000 },
    { situation: 'a flag beats the default without a file', file: false, env: false, flag: true, domain: 'flag.lan', portBase: 38000 },
  ])('$situation', async ({ file, env, flag, domain, portBase }) => {
    if (file) await config('domain: file.lan\nportBase: 36000\n');
    const s = resolve(
      flag ? { domain: 'flag.lan', 'port-base': '38000' } : {},
      env ? { HDACTL_DOMAIN: 'env.lan', HDACTL_PORT_BASE: '37000' } : {},
    );
    expect({ domain: s.domain, portBase: s.portBase }).toEqual({ domain, portBase });
  });

  it('the sample in examples/config is a valid hdactl.yaml, and every setting in it is read', () => {
    const sample = new URL('../../examples/config/hdactl.yaml', import.meta.url).pathname;
    const s = resolve({ config: sample });
    expect(s).toEqual({
      manifests: '/etc/hdactl/manifests',
      dataRoot: '/var/hda/apps',
      stateDir: '/var/lib/hdactl',
      domain: 'hda.local',
      portBase: 35000,
      instance: 'default',
      concurrency: 4,
      vhostDir: '/etc/apache2/hdactl-vhosts',
      apachectl: 'apachectl',
      vhostPort: 80,
      listen: '127.0.0.1:9469',
      resyncMs: 60_000,
      engineTimeoutMs: 60_000,
      logLevel: 'info',
      volumeAllow: ['/srv/media', '/var/hda/files'],
      configFile: sample,
    });
  });

  it('multi-word settings use HDACTL_ variables with underscores and kebab-case flags', () => {
    const s = resolve({ 'vhost-dir': '/etc/apache2/sites-hdactl' }, { HDACTL_DATA_ROOT: '/var/hda/apps', HDACTL_LOG_LEVEL: 'debug' });
    expect(s).toMatchObject({ vhostDir: '/etc/apache2/sites-hdactl', dataRoot: '/var/hda/apps', logLevel: 'debug' });
  });

  it('relative paths in hdactl.yaml are resolved against the working directory', async () => {
    await config('manifests: ./apps\nstateDir: /var/lib/hdactl\n');
    const s = resolve();
    expect(s.manifests).toBe(path.join(cwd, 'apps'));
    expect(s.stateDir).toBe('/var/lib/hdactl');
    expect(s.configFile).toBe(path.join(cwd, 'hdactl.yaml'));
  });

  it("relative paths in a --config file elsewhere are resolved against that file's directory; flags' and defaults' against the working directory", async () => {
    await mkdir(path.join(cwd, 'etc'));
    await config('manifests: ./apps\nvhostDir: vhosts\ntemplates: ../tpl\n', 'etc/hdactl.yaml');
    const s = resolve({ config: 'etc/hdactl.yaml', 'data-root': 'data' }, { HDACTL_STATE_DIR: 'state' });
    expect(s).toMatchObject({
      manifests: path.join(cwd, 'etc', 'apps'),
      vhostDir: path.join(cwd, 'etc', 'vhosts'),
      templates: path.join(cwd, 'tpl'),
      dataRoot: path.join(cwd, 'data'),
      stateDir: path.join(cwd, 'state'),
    });
    expect(resolve({ config: 'etc/hdactl.yaml' }).stateDir).toBe(path.join(cwd, '.hdactl'));
  });

  it('the volume policy comes from hdactl.yaml', async () => {
    await config('volumePolicy:\n  allow: [/srv/media, /mnt/backup]\n');
    expect(resolve().volumeAllow).toEqual(['/srv/media', '/mnt/backup']);
  });

  it('--config reads another file instead of hdactl.yaml', async () => {
    await config('domain: file.lan\n');
    await config('domain: other.lan\n', 'other.yaml');
    const s = resolve({ config: 'other.yaml' });
    expect(s.domain).toBe('other.lan');
    expect(s.configFile).toBe(path.join(cwd, 'other.yaml'));
  });
});

describe('bad settings say what to fix', () => {
  it('an unknown key in hdactl.yaml is an error at its line, with the key it is taken for', async () => {
    await config('domain: hda.local\nportbase: 36000\n');
    expect(() => resolve()).toThrow(`${path.join(cwd, 'hdactl.yaml')}:2:1: unknown field "portbase": did you mean "portBase"?`);
  });

  it('every bad value in hdactl.yaml is said at once, each at its line with what the setting takes', async () => {
    await config('portBase: lots\nresync: 10 minutes\nvolumePolicy:\n  allow: [srv/media]\n');
    const file = path.join(cwd, 'hdactl.yaml');
    expect(() => resolve()).toThrow([
      `${file}:1:11: portBase must be integer, not "lots"`,
      `${file}:2:9: resync "10 minutes" is not valid: full resync period of hdactl run: a duration such as 60s, 5m or 500ms.`,
      `${file}:4:11: volumePolicy.allow.0 "srv/media" is not valid: an absolute host path: it starts with /.`,
    ].join('\n'));
  });

  it('a settings file that is a list, or holds two documents, says so', async () => {
    const file = path.join(cwd, 'hdactl.yaml');
    await config('- domain: hda.local\n');
    expect(() => resolve()).toThrow(`${file}:1:1: the settings file must be object, not a list`);
    await config('domain: a.lan\n---\ndomain: b.lan\n');
    expect(() => resolve()).toThrow(`${file}:3:1: a second document: the settings file holds one mapping, remove the ---`);
  });

  it('a domain or instance that would break the vhosts or the labels is refused, from a flag as from the file', async () => {
    expect(() => resolve({ domain: 'Bad Domain' })).toThrow(`--domain "Bad Domain" is not valid: domain of the vhosts: <hostname>.<domain>, a DNS name such as hda.local`);
    expect(() => resolve({ instance: 'Bad Inst!' })).toThrow('--instance "Bad Inst!" is not valid: name of this hdactl instance');
    await config('domain: a..b\n');
    expect(() => resolve()).toThrow(`${path.join(cwd, 'hdactl.yaml')}:1:9: domain "a..b" is not valid: domain of the vhosts`);
    await config('domain: Home.LAN\n');
    expect(resolve().domain).toBe('Home.LAN');
  });

  it('a --listen that no status server could use is refused by every command, from a flag as from the file', async () => {
    expect(() => resolve({ listen: 'nope' })).toThrow('--listen "nope" is not valid: address of the status server of hdactl run, as ADDR:PORT (an IPv6 address in brackets, such as [::1]:9469), or none');
    expect(() => resolve({ listen: '127.0.0.1:99999' })).toThrow('--listen 127.0.0.1:99999 is not ADDR:PORT with a port from 1 to 65535 (such as 127.0.0.1:9469, or [::1]:9469 for IPv6), nor none');
    expect(() => resolve({ listen: '::1:9469' })).toThrow('--listen "::1:9469" is not valid');
    for (const ok of ['none', '127.0.0.1:9469', 'localhost:80', '[::1]:9469', '0.0.0.0:65535']) expect(resolve({ listen: ok }).listen).toBe(ok);
    await config('domain: hda.local\nlisten: localhost\n');
    expect(() => resolve()).toThrow(`${path.join(cwd, 'hdactl.yaml')}:2:9: listen "localhost" is not valid: address of the status server`);
  });

  it('a YAML syntax error in hdactl.yaml names the file, line and column', async () => {
    await config('domain: hda.local\nportBase: 1: 2\n');
    expect(() => resolve()).toThrow(new RegExp(`^${path.join(cwd, 'hdactl.yaml').replace(/[.]/g, '\\.')}:2:\\d+: YAML syntax: `));
  });

  it('a --config file that does not exist is an error, not the defaults', () => {
    expect(() => resolve({ config: 'missing.yaml' })).toThrow(`config file ${path.join(cwd, 'missing.yaml')} does not exist: check the --config path`);
  });

  it.each([
    [{ 'port-base': 'abc' }, {}, '--port-base abc is not a whole number from 1 to 65000'],
    [{}, { HDACTL_CONCURRENCY: '0' }, '--concurrency 0 is not a whole number from 1 to 64'],
    [{ 'vhost-port': '70000' }, {}, '--vhost-port 70000 is not a whole number from 1 to 65535'],
    [{ resync: '1h' }, {}, '--resync: invalid duration "1h": use a number with ms, s or m, such as 10s'],
    [{}, { HDACTL_ENGINE_TIMEOUT: '0s' }, '--engine-timeout 0s is not longer than zero'],
    [{ 'engine-timeout': '2h' }, {}, '--engine-timeout: invalid duration "2h": use a number with ms, s or m, such as 10s'],
  ])('flags %j and variables %j: %s', (flags, env, message) => {
    expect(() => resolve(flags, env)).toThrow(message);
  });
});
