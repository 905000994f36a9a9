import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { substitute } from '../../src/desired/env.js';
import { allocateIds } from '../../src/desired/ids.js';
import { buildDesired, hashSpec, parsePort, type ContainerSpec } from '../../src/desired/model.js';
import { loadTemplates } from '../../src/desired/templates.js';
import { formatSize, parseDuration, parseSize } from '../../src/desired/units.js';
import { readVhostHeader, renderVhost, VHOST_MARK } from '../../src/desired/vhost.js';
import { desiredApps, desiredContext, validDocs } from './plan-fixture.js';

const hydra = { app: 'hydra', kind: 'container-custom', image: 'linuxserver/hydra:5.3.0', web: 5075 };
const redis = { app: 'redis', kind: 'container', image: 'redis:7' };
const gitlab = { app: 'gitlab', kind: 'container', image: 'gitlab/gitlab-ce:16.1.0', web: 80 };

describe('app ids', () => {
  it('known apps keep their ids whatever the order of the manifests', () => {
    const known = new Map([['gitlab', 4], ['hydra', 2]]);
    const a = allocateIds(['hydra', 'gitlab', 'redis'], known, new Set(), 35000);
    const b = allocateIds(['redis', 'gitlab', 'hydra'], known, new Set(), 35000);
    expect(Object.fromEntries(a)).toEqual({ hydra: 2, gitlab: 4, redis: 1 });
    expect(Object.fromEntries(b)).toEqual(Object.fromEntries(a));
  });

  it('a new app gets the lowest free id', () => {
    const ids = allocateIds(['a', 'b', 'c', 'new'], new Map([['a', 1], ['b', 2], ['c', 4]]), new Set(), 35000);
    expect(ids.get('new')).toBe(3);
  });

  it('the id of an app that is known but not desired stays reserved: its container may still use the port', () => {
    const ids = allocateIds(['new'], new Map([['frozen', 1]]), new Set(), 35000);
    expect(ids.get('new')).toBe(2);
  });

  it('a new app skips ids whose web port an extra port already takes', () => {
    const ids = allocateIds(['new'], new Map(), new Set([35001, 35002, 35004]), 35000);
    expect(ids.get('new')).toBe(3);
  });

  it('two apps claiming the same id (a hand-edited state file): the first keeps it, the second gets a new one', () => {
    const ids = allocateIds(['a', 'b'], new Map([['a', 1], ['b', 1]]), new Set(), 35000);
    expect(Object.fromEntries(ids)).toEqual({ a: 1, b: 2 });
  });

  it('the desired model keeps a known app\'s web port when a new app is added before it', () => {
    const before = desiredApps([gitlab], new Map());
    const known = new Map(before.map((d) => [d.app, d.id] as const));
    const after = desiredApps([hydra, gitlab], known);
    expect(after.find((d) => d.app === 'gitlab')!.web).toEqual({ containerPort: 80, hostPort: 35001 });
    expect(after.find((d) => d.app === 'hydra')!.web).toEqual({ containerPort: 5075, hostPort: 35002 });
  });
});

describe('env substitution', () => {
  const vars = { APP_IDENTIFIER: 'hydra', APP_HOSTNAME: 'nzb', APP_FQDN: 'nzb.hda.local', HOST_PORT: '35007' };

  it.each([
    ['http://${APP_HOSTNAME}:${HOST_PORT}/${APP_IDENTIFIER}', 'http://nzb:35007/hydra'],
    ['${APP_FQDN}', 'nzb.hda.local'],
    ['$${HOME}/data', '${HOME}/data'],
    ['price: $5', 'price: $5'],
    ['plain', 'plain'],
  ])('%s becomes %s', (raw, value) => {
    expect(substitute(raw, vars)).toEqual({ value, error: undefined });
  });

  it('an unknown variable is an error that lists the known ones', () => {
    expect(substitute('${HOST_PROT}', vars).error).toBe('unknown variable ${HOST_PROT}: use one of ${APP_IDENTIFIER}, ${APP_HOSTNAME}, ${APP_FQDN}, ${HOST_PORT}, or write $${HOST_PROT} for a literal');
  });

  it('the desired model fills in the app\'s identifier, hostname and web host port, and stringifies numbers and booleans', () => {
    const [d] = desiredApps([{
      ...hydra,
      hostname: 'nzb',
      env: { URL: 'http://${APP_HOSTNAME}:${HOST_PORT}/', NAME: '${APP_IDENTIFIER}', WORKERS: 4, DEBUG: false },
    }], new Map([['hydra', 7]]));
    expect(d!.spec.env).toEqual({ URL: 'http://nzb:35007/', NAME: 'hydra', WORKERS: '4', DEBUG: 'false' });
  });
});

describe('the spec hash', () => {
  const spec: ContainerSpec = {
    image: 'redis:7',
    command: ['redis-server', '--appendonly', 'yes'],
    env: { A: '1', B: '2' },
    ports: [{ hostIp: '0.0.0.0', hostPort: 6379, containerPort: 6379, protocol: 'tcp' }],
    volumes: [{ source: '/var/hda/apps/redis/data', target: '/data', readOnly: false, appData: true }],
    restart: 'unless-stopped',
    init: false,
  };

  it('is the same whatever the order of keys', () => {
    const reordered = {
      volumes: [{ appData: true, readOnly: false, target: '/data', source: '/var/hda/apps/redis/data' }],
      init: false,
      restart: 'unless-stopped',
      ports: [{ protocol: 'tcp', containerPort: 6379, hostPort: 6379, hostIp: '0.0.0.0' }],
      env: { B: '2', A: '1' },
      command: ['redis-server', '--appendonly', 'yes'],
      image: 'redis:7',
    } as ContainerSpec;
    expect(hashSpec(reordered)).toBe(hashSpec(spec));
  });

  it.each<[string, Partial<ContainerSpec>]>([
    ['image', { image: 'redis:7.2' }],
    ['env value', { env: { A: '1', B: '3' } }],
    ['env key', { env: { A: '1', C: '2' } }],
    ['ports', { ports: [{ hostIp: '127.0.0.1', hostPort: 6379, containerPort: 6379, protocol: 'tcp' }] }],
    ['volumes', { volumes: [{ source: '/var/hda/apps/redis/data', target: '/data', readOnly: true, appData: true }] }],
    ['restart', { restart: 'always' }],
    ['command', { command: ['redis-server'] }],
    ['init', { init: true }],
    ['stop timeout', { stopTimeoutSeconds: 30 }],
  ])('changes when the %s changes', (_field, change) => {
    expect(hashSpec({ ...spec, ...change })).not.toBe(hashSpec(spec));
  });

  it('does not change when only limits or state change, so those never recreate the container', () => {
    const [a] = desiredApps([{ ...redis, limits: { memory: '512m', cpus: 1, pids: 100 } }], new Map());
    const [b] = desiredApps([{ ...redis, limits: { memory: '1g' }, state: 'stopped' }], new Map());
    expect(b!.specHash).toBe(a!.specHash);
    expect(b!.limits).not.toEqual(a!.limits);
  });

  it('does not change when the manifest is reformatted', () => {
    const [a] = buildDesired(validDocs([{ ...redis, env: { A: '1', B: 2 } }]), desiredContext()).apps;
    const [b] = buildDesired(validDocs([{ env: { B: '2', A: 1 }, image: 'redis:7', kind: 'container', app: 'redis' }]), desiredContext()).apps;
    expect(b!.specHash).toBe(a!.specHash);
    expect(b!.generation).not.toBe(a!.generation);
  });
});

describe('sizes and durations', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['64k', 65536],
    ['1000', 1000],
    ['100b', 100],
    [' 2G ', 2 * 1024 ** 3],
    ['100M', 100 * 1024 ** 2],
    ['512mb', 512 * 1024 ** 2],
    ['1GB', 1024 ** 3],
    [6291456, 6291456],
  ])('parseSize(%j) is %i bytes', (v, bytes) => {
    expect(parseSize(v)).toBe(bytes);
  });

  it.each(['1 g', '-1m', '5t', 'mb', 'lots', ''])('parseSize(%j) says how to write a size', (v) => {
    expect(() => parseSize(v)).toThrow(`invalid size ${JSON.stringify(v)}: use a number with b, k, m or g, such as 512m`);
  });

  it.each([
    [512 * 1024 ** 2, '512m'],
    [1024 ** 3, '1g'],
    [1.5 * 1024 ** 3, '1.5g'],
    [1000 * 1024 ** 2, '1000m'],
    [64 * 1024, '64k'],
    [100, '100b'],
    [1431297851, '1431297851b'],
  ])('formatSize(%i) is %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it.each(['512m', '1g', '1.5g', '64k', '300m'])('%s survives parseSize then formatSize', (v) => {
    expect(formatSize(parseSize(v))).toBe(v);
  });

  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['0s', 0],
  ])('parseDuration(%s) is %i ms', (v, ms) => {
    expect(parseDuration(v)).toBe(ms);
  });

  it.each(['1h', '10', '1.5s', 's'])('parseDuration(%j) says how to write a duration', (v) => {
    expect(() => parseDuration(v)).toThrow(`invalid duration ${JSON.stringify(v)}: use a number with ms, s or m, such as 10s`);
  });

  it('a stop timeout below a second rounds up to whole seconds for the Engine', () => {
    const [d] = desiredApps([{ ...redis, stopTimeout: '500ms' }], new Map());
    expect(d!.spec.stopTimeoutSeconds).toBe(1);
  });

  it('limits reach the Engine in its units', () => {
    const [d] = desiredApps([{ ...redis, limits: { memory: '1.5g', cpus: 0.5, pids: 64 } }], new Map());
    expect(d!.limits).toEqual({ memoryBytes: 1.5 * 1024 ** 3, nanoCpus: 500_000_000, pids: 64 });
  });
});

describe('ports', () => {
  it.each([
    ['2224:22', { hostIp: '0.0.0.0', hostPort: 2224, containerPort: 22, protocol: 'tcp' }],
    ['5353:53/udp', { hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53, protocol: 'udp' }],
    ['127.0.0.1:8080:80/tcp', { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  ])('%s is published as written', (text, binding) => {
    expect(parsePort(text)).toEqual(binding);
  });

  it('a port object defaults to tcp on every address', () => {
    expect(parsePort({ host: 2224, container: 22 })).toEqual({ hostIp: '0.0.0.0', hostPort: 2224, containerPort: 22, protocol: 'tcp' });
  });

  it('a web app publishes its web port on 127.0.0.1 only, before its extra ports', () => {
    const [d] = desiredApps([{ ...hydra, ports: ['2224:22'] }], new Map([['hydra', 3]]));
    expect(d!.spec.ports).toEqual([
      { hostIp: '127.0.0.1', hostPort: 35003, containerPort: 5075, protocol: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: 2224, containerPort: 22, protocol: 'tcp' },
    ]);
  });
});

describe('vhost files', () => {
  const template = [
    '<VirtualHost *:VHOST_PORT>',
    '  ServerName APP_HOSTNAME',
    '  APP_ALIASES',
    '  ProxyPass / http://127.0.0.1:APP_PORT/',
    '  ErrorLog APP_ROOT_DIR/logs/error_log',
    '</VirtualHost>',
  ].join('\n');
  const values = { app: 'hydra', fqdn: 'hydra.hda.local', aliases: ['nzb.example.org', 'hydra.lan'], hostPort: 35001, vhostPort: 8080, appRoot: '/var/hda/apps/hydra' };

  it('fills Amahi\'s placeholders and turns APP_ALIASES into one ServerAlias line, under a header naming the app', () => {
    const lines = renderVhost(template, values).split('\n');
    expect(lines[0]).toBe(VHOST_MARK);
    expect(lines[1]).toBe('# hdactl-app: hydra');
    expect(lines[2]).toMatch(/^# hdactl-sha256: [0-9a-f]{16}$/);
    expect(lines.slice(3)).toEqual([
      '<VirtualHost *:8080>',
      '  ServerName hydra.hda.local',
      '  ServerAlias nzb.example.org hydra.lan',
      '  ProxyPass / http://127.0.0.1:35001/',
      '  ErrorLog /var/hda/apps/hydra/logs/error_log',
      '</VirtualHost>',
    ]);
  });

  it('an app without aliases gets no ServerAlias line at all', () => {
    const body = renderVhost(template, { ...values, aliases: [] }).split('\n').slice(3);
    expect(body).toEqual([
      '<VirtualHost *:8080>',
      '  ServerName hydra.hda.local',
      '  ProxyPass / http://127.0.0.1:35001/',
      '  ErrorLog /var/hda/apps/hydra/logs/error_log',
      '</VirtualHost>',
    ]);
  });

  it('a file hdactl wrote reads back as intact and names its app', () => {
    expect(readVhostHeader(renderVhost(template, values))).toEqual({ app: 'hydra', intact: true });
  });

  it.each([
    ['a line added', (s: string) => `${s}\n# Header set X-Frame-Options DENY`],
    ['the port changed', (s: string) => s.replace('35001', '35002')],
    ['the hash replaced', (s: string) => s.replace(/^# hdactl-sha256: [0-9a-f]+$/m, '# hdactl-sha256: 0000000000000000')],
  ])('a file with %s by hand is detected as edited', (_what, edit) => {
    const original = renderVhost(template, values);
    const edited = edit(original);
    expect(edited).not.toBe(original);
    expect(readVhostHeader(edited)).toEqual({ app: 'hydra', intact: false });
  });

  it.each([
    ['no header at all', '<VirtualHost *:80>\n</VirtualHost>\n'],
    ['the mark but no app line', `${VHOST_MARK}\n<VirtualHost *:80>\n`],
    ['the mark below a comment', `# mine\n${VHOST_MARK}\n# hdactl-app: hydra\n# hdactl-sha256: 0123456789abcdef\n`],
  ])('a file with %s is not hdactl\'s', (_what, content) => {
    expect(readVhostHeader(content)).toBeUndefined();
  });

  it('the desired model renders the built-in template for the app\'s fqdn, aliases and web port', () => {
    const [d] = desiredApps([{ ...hydra, hostname: 'nzb', aliases: ['nzb.example.org'] }], new Map([['hydra', 5]]));
    expect(d!.fqdn).toBe('nzb.hda.local');
    expect(d!.vhost).toContain('ServerName nzb.hda.local\n  ServerAlias nzb.example.org\n');
    expect(d!.vhost).toContain('ProxyPass / http://127.0.0.1:35005/');
    expect(d!.vhost).toContain('ErrorLog  /var/hda/apps/hydra/logs/error_log');
    expect(readVhostHeader(d!.vhost!)).toEqual({ app: 'hydra', intact: true });
  });

  it('a dotless alias is a name under the domain, as the uniqueness check reads it', () => {
    const [d] = desiredApps([{ ...hydra, aliases: ['nzb', 'nzb.example.org'] }], new Map([['hydra', 5]]));
    expect(d!.vhost).toContain('ServerAlias nzb.hda.local nzb.example.org\n');
  });

  it('a headless app has no vhost', () => {
    const [d] = desiredApps([redis], new Map());
    expect(d!.vhost).toBeUndefined();
    expect(d!.web).toBeUndefined();
  });

  it('a <kind>.conf in the templates directory beats the built-in container.conf', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hdactl-templates-'));
    try {
      await writeFile(path.join(dir, 'container-php.conf'), '<VirtualHost *:VHOST_PORT>\n  DocumentRoot APP_ROOT_DIR/html\n</VirtualHost>\n');
      const templates = loadTemplates(dir);
      expect(templates.forKind('container-php')).toContain('DocumentRoot APP_ROOT_DIR/html');
      expect(templates.forKind('container-custom')).toContain('ProxyPass / http://127.0.0.1:APP_PORT/');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
