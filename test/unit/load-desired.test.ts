import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { State } from '../../src/adapters/state/store.js';
import type { Settings } from '../../src/config/settings.js';
import { loadTemplates } from '../../src/desired/templates.js';
import { formatProblem } from '../../src/manifest/problem.js';
import { loadDesired } from '../../src/pass.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function settingsFor(manifests: string, volumeAllow: string[] = []): Settings {
  return {
    manifests,
    dataRoot: '/var/hda/apps',
    stateDir: path.join(manifests, '..', 'state'),
    domain: 'hda.local',
    portBase: 35000,
    instance: 'default',
    concurrency: 4,
    vhostDir: path.join(manifests, '..', 'vhosts'),
    apachectl: 'none',
    vhostPort: 80,
    listen: 'none',
    resyncMs: 60_000,
    engineTimeoutMs: 60_000,
    logLevel: 'silent',
    volumeAllow,
  };
}

/**
 * Writes `files` into a fresh manifests directory and loads it the way a
 * pass does. Paths in the result are relative to that directory.
 */
async function load(files: Record<string, string>, opts: { ids?: Record<string, number>; allow?: string[]; setup?: (dir: string) => Promise<void>; held?: number[] } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hdactl-unit-'));
  dirs.push(dir);
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(path.join(dir, name), text)));
  await opts.setup?.(dir);
  const state: State = { version: 1, apps: Object.fromEntries(Object.entries(opts.ids ?? {}).map(([app, id]) => [app, { id }])) };
  // The host's sockets are the test's to say: ports this machine happens to use must not change ids.
  const hostPorts = async () => ({ listening: new Set(opts.held), held: new Set(opts.held) });
  const r = await loadDesired(settingsFor(dir, opts.allow), loadTemplates(), state, new Map(), { hostPorts });
  const rel = (f: string) => path.relative(dir, f);
  return {
    lines: r.problems.map((p) => formatProblem(p).replaceAll(`${dir}/`, '')),
    apps: Object.fromEntries(r.model.apps.map((a) => [a.app, a])),
    frozen: Object.fromEntries([...r.frozen].map(([app, why]) => [app, why.replaceAll(`${dir}/`, '')])),
    broken: [...r.brokenFiles].map(rel),
  };
}

const hydra = 'app: hydra\nkind: container-custom\nimage: linuxserver/hydra:5.3.0\nweb: 5075\n';
const redis = 'app: redis\nkind: container\nimage: redis:7\n';

describe('reading the manifests directory', () => {
  it('dotfiles, editor leftovers and other files are ignored', async () => {
    const garbage = 'app: [this is not: valid\n';
    const r = await load({
      'hydra.yaml': hydra,
      '.hidden.yaml': garbage,
      '.#hydra.yaml': garbage,
      'hydra.yaml~': garbage,
      '.hydra.yaml.swp': garbage,
      '#hydra.yaml#': garbage,
      'notes.txt': garbage,
    });
    expect(r.lines).toEqual([]);
    expect(r.broken).toEqual([]);
    expect(Object.keys(r.apps)).toEqual(['hydra']);
  });

  it('both .yaml and .yml files are read', async () => {
    const r = await load({ 'hydra.yaml': hydra, 'redis.yml': redis });
    expect(Object.keys(r.apps).sort()).toEqual(['hydra', 'redis']);
  });

  it('a YAML syntax error marks that file broken and leaves the other files loading', async () => {
    const r = await load({ 'hydra.yaml': hydra, 'redis.yaml': 'app: redis\nkind: container\nimage: redis:7: 1\n' });
    expect(r.broken).toEqual(['redis.yaml']);
    expect(r.lines).toEqual(['redis.yaml:3:8: YAML syntax: Nested mappings are not allowed in compact mappings: fix the YAML at this line']);
    expect(Object.keys(r.apps)).toEqual(['hydra']);
  });

  it('a document that names no app marks its file broken, since its app cannot be told', async () => {
    const r = await load({ 'hydra.yaml': hydra, 'list.yaml': '- app: redis\n' });
    expect(r.broken).toEqual(['list.yaml']);
    expect(r.lines).toEqual(['list.yaml:1:1: manifest must be object, not a list']);
  });

  it('a typo that makes the app name invalid (app: Hydra) marks the file broken, so the running hydra is not removed as if renamed', async () => {
    const r = await load({ 'hydra.yaml': hydra.replace('app: hydra', 'app: Hydra') });
    expect(r.apps).toEqual({});
    expect(r.broken).toEqual(['hydra.yaml']);
  });

  it('a schema problem freezes the app it names, with every problem of that app as the reason', async () => {
    const r = await load({ 'hydra.yaml': hydra.replace('image:', 'imgae:') });
    expect(r.apps).toEqual({});
    expect(r.broken).toEqual([]);
    expect(r.frozen.hydra).toBe('its manifest is invalid, so it is left as it runs: hydra.yaml:3:1: unknown field "imgae": did you mean "image"?');
  });

  it('a file ending in --- is not broken: its apps load and removals are not held back', async () => {
    const r = await load({ 'apps.yaml': `${hydra}---\n${redis}---\n` });
    expect(r.lines).toEqual([]);
    expect(r.broken).toEqual([]);
    expect(Object.keys(r.apps)).toEqual(['hydra', 'redis']);
  });

  it('a missing manifests directory is an error, never "no apps"', async () => {
    await expect(loadDesired(settingsFor('/nonexistent/hdactl/manifests'), loadTemplates(), { version: 1, apps: {} }, new Map()))
      .rejects.toThrow('cannot read the manifests directory /nonexistent/hdactl/manifests (ENOENT): create it or pass --manifests DIR');
  });

  it('the manifests shipped in manifests/ validate', async () => {
    const r = await loadDesired(settingsFor(path.join(ROOT, 'manifests')), loadTemplates(), { version: 1, apps: {} }, new Map());
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.brokenFiles.size).toBe(0);
    expect(r.model.apps.map((a) => a.app)).toContain('demo');
  });
});

describe('missing fields', () => {
  it('a required field that is simply absent is reported at the document, with the fix', async () => {
    const r = await load({ 'hydra.yaml': 'app: hydra\nkind: container\nweb: 5075\n' });
    expect(r.lines).toEqual(['hydra.yaml:1:1: app hydra: missing required field "image": add it']);
  });
});

describe('manifests that are symlinks', () => {
  it('a symlink to a manifest elsewhere is read like a file; a dangling one breaks, naming where it points', async () => {
    const elsewhere = await mkdtemp(path.join(tmpdir(), 'hdactl-unit-repo-'));
    dirs.push(elsewhere);
    await writeFile(path.join(elsewhere, 'hydra.yaml'), hydra);
    const r = await load({ 'redis.yaml': redis }, {
      setup: async (dir) => {
        await symlink(path.join(elsewhere, 'hydra.yaml'), path.join(dir, 'hydra.yaml'));
        await symlink(path.join(elsewhere, 'gone.yaml'), path.join(dir, 'gone.yaml'));
      },
    });
    expect(Object.keys(r.apps).sort()).toEqual(['hydra', 'redis']);
    expect(r.lines).toEqual([`gone.yaml:1:1: is a symlink to ${elsewhere}/gone.yaml, which does not exist: fix the link or remove it`]);
    // A broken file stops every removal, as an unreadable one does.
    expect(r.broken).toEqual(['gone.yaml']);
  });
});

describe('conflicts between apps', () => {
  it('an app defined in two files is frozen, with the second definition pointing at the first', async () => {
    const r = await load({ 'a-hydra.yaml': hydra, 'b-hydra.yaml': `# a copy\n${hydra}`, 'redis.yaml': redis });
    expect(r.lines).toEqual(['b-hydra.yaml:2:6: app hydra: app hydra is also defined at a-hydra.yaml:1: keep one definition']);
    expect(Object.keys(r.apps)).toEqual(['redis']);
    expect(r.frozen).toHaveProperty('hydra');
  });

  it('two apps with the same hostname: the later one is frozen at its hostname', async () => {
    const r = await load({
      'hydra.yaml': hydra,
      'nzb.yaml': 'app: nzbhydra\nkind: container\nimage: linuxserver/hydra:5.3.0\nweb: 5075\nhostname: hydra\n',
    });
    expect(r.lines).toEqual(['nzb.yaml:5:11: app nzbhydra: host name hydra.hda.local is already used by app hydra (hydra.yaml:1): choose another hostname']);
    expect(Object.keys(r.apps)).toEqual(['hydra']);
  });

  it('a new app that takes an installed app\'s hostname is the one frozen, whichever file comes first', async () => {
    const photos = 'app: photos\nkind: container\nimage: photoprism/photoprism:240915\nweb: 2342\n';
    const r = await load(
      { 'photos.yaml': photos, 'gallery.yaml': 'app: gallery\nkind: container\nimage: lychee:5\nweb: 80\nhostname: photos\n' },
      { ids: { photos: 1 } },
    );
    expect(r.lines).toEqual(['gallery.yaml:5:11: app gallery: host name photos.hda.local is already used by app photos (photos.yaml:1): choose another hostname']);
    expect(Object.keys(r.apps)).toEqual(['photos']);
    expect(r.apps.photos!.vhost).toContain('ServerName photos.hda.local');
  });

  it('two installed apps claiming one hostname are both left as they run, each told about the other', async () => {
    const r = await load(
      {
        'gallery.yaml': 'app: gallery\nkind: container\nimage: lychee:5\nweb: 80\nhostname: photos\n',
        'photos.yaml': 'app: photos\nkind: container\nimage: photoprism/photoprism:240915\nweb: 2342\n',
      },
      { ids: { photos: 1, gallery: 2 } },
    );
    expect(r.lines).toEqual([
      'gallery.yaml:5:11: app gallery: host name photos.hda.local is also claimed by app photos (photos.yaml:1): both apps stay as they run until one of them gives it up',
      'photos.yaml:1:6: app photos: host name photos.hda.local is already used by app gallery (gallery.yaml:1): choose another hostname',
    ]);
    expect(Object.keys(r.apps)).toEqual([]);
    expect(Object.keys(r.frozen).sort()).toEqual(['gallery', 'photos']);
  });

  it('a new app that publishes an installed app\'s extra port is the one frozen', async () => {
    const r = await load(
      {
        'a.yaml': 'app: emqx\nkind: container\nimage: emqx:5\nports: ["1883:1883"]\n',
        'b.yaml': 'app: mqtt\nkind: container\nimage: eclipse-mosquitto:2.0\nports: ["1883:1883"]\n',
      },
      { ids: { mqtt: 1 } },
    );
    expect(r.lines).toEqual(['a.yaml:4:9: app emqx: host port 1883/tcp is already published by app mqtt: choose another host port']);
    expect(Object.keys(r.apps)).toEqual(['mqtt']);
  });

  it('an alias that is another app\'s host name is rejected at the alias', async () => {
    const r = await load({
      'hydra.yaml': hydra,
      'sab.yaml': 'app: sabnzbd\nkind: container\nimage: linuxserver/sabnzbd:4\nweb: 8080\naliases:\n  - sab.example.org\n  - hydra.hda.local\n',
    });
    expect(r.lines).toEqual(['sab.yaml:7:5: app sabnzbd: host name hydra.hda.local is already used by app hydra (hydra.yaml:1): choose another hostname']);
  });

  it('two apps publishing the same host port: the later one is frozen at its port', async () => {
    const r = await load({
      'a.yaml': 'app: mqtt\nkind: container\nimage: eclipse-mosquitto:2.0\nports: ["1883:1883"]\n',
      'b.yaml': 'app: emqx\nkind: container\nimage: emqx:5\nports:\n  - "18083:18083"\n  - "0.0.0.0:1883:1883/tcp"\n',
    });
    expect(r.lines).toEqual(['b.yaml:6:5: app emqx: host port 1883/tcp is already published by app mqtt: choose another host port']);
    expect(Object.keys(r.apps)).toEqual(['mqtt']);
  });

  it('the same port number over udp and tcp does not collide', async () => {
    const r = await load({
      'a.yaml': 'app: dns\nkind: container\nimage: pihole/pihole:2024.07.0\nports: ["53:53/udp"]\n',
      'b.yaml': 'app: dnstcp\nkind: container\nimage: coredns/coredns:1.11.1\nports: ["53:53"]\n',
    });
    expect(r.lines).toEqual([]);
    expect(Object.keys(r.apps).sort()).toEqual(['dns', 'dnstcp']);
  });

  it('an extra port on another app\'s web port (35000 + id) is rejected on the app with the extra port', async () => {
    const r = await load(
      { 'hydra.yaml': hydra, 'sneaky.yaml': 'app: sneaky\nkind: container\nimage: nginx:1.25\nports:\n  - "35001:80"\n' },
      { ids: { hydra: 1 } },
    );
    expect(r.lines).toEqual(["sneaky.yaml:5:5: app sneaky: host port 35001 is app hydra's web port (35000 + id 1): choose another host port"]);
    expect(Object.keys(r.apps)).toEqual(['hydra']);
    expect(r.apps.hydra!.web).toEqual({ containerPort: 5075, hostPort: 35001 });
  });

  it('an app\'s extra port on its own web port is rejected, since the Engine cannot bind it twice', async () => {
    const r = await load({ 'hydra.yaml': `${hydra}ports: ["35001:8080"]\n` }, { ids: { hydra: 1 } });
    expect(r.lines).toEqual(["hydra.yaml:5:9: app hydra: host port 35001 is app hydra's web port (35000 + id 1): choose another host port"]);
    expect(r.apps).toEqual({});
  });

  it('a new web app gets an id whose web port no socket on the host holds', async () => {
    const r = await load({ 'hydra.yaml': hydra, 'mqtt.yaml': 'app: mqtt\nkind: container\nimage: eclipse-mosquitto:2.0\nweb: 9001\n' }, { held: [35001, 35003] });
    expect(r.lines).toEqual([]);
    expect([r.apps.hydra!.web!.hostPort, r.apps.mqtt!.web!.hostPort]).toEqual([35002, 35004]);
  });

  it('a new web app gets an id whose web port no extra port already takes', async () => {
    const r = await load({ 'hydra.yaml': hydra, 'sneaky.yaml': 'app: sneaky\nkind: container\nimage: nginx:1.25\nports: ["35001:80"]\n' });
    expect(r.lines).toEqual([]);
    expect(r.apps.hydra!.web).toEqual({ containerPort: 5075, hostPort: 35002 });
  });
});

describe('every problem at once', () => {
  it('a manifest with a bad optional field is still checked against the others and in its other fields, so one run reports all', async () => {
    const r = await load({
      // limts is a typo; its port is mqtt's, and its env names an unknown variable.
      'a.yaml': 'app: emqx\nkind: container\nimage: emqx:5\nlimts: { memory: 1g }\nports: ["1883:1883"]\nenv: { URL: "${HOST_PROT}" }\n',
      'b.yaml': 'app: mqtt\nkind: container\nimage: eclipse-mosquitto:2.0\nports: ["1883:1883"]\n',
    });
    expect(r.lines).toEqual([
      'a.yaml:4:1: app emqx: unknown field "limts": did you mean "limits"?',
      'a.yaml:5:9: app emqx: host port 1883/tcp is already published by app mqtt: choose another host port',
      'a.yaml:6:13: app emqx: unknown variable ${HOST_PROT}: use one of ${APP_IDENTIFIER}, ${APP_HOSTNAME}, ${APP_FQDN}, ${HOST_PORT}, or write $${HOST_PROT} for a literal',
    ]);
    // The valid app goes ahead; the checked-but-invalid one is never applied, and takes no id.
    expect(Object.keys(r.apps)).toEqual(['mqtt']);
    expect(r.frozen.emqx).toMatch(/^its manifest is invalid, so it is left as it runs: a\.yaml:4:1: unknown field "limts".*; a\.yaml:5:9: .*; a\.yaml:6:13: /);
  });

  it('a broken manifest of a new app takes no name or port from a valid one, whichever file comes first', async () => {
    const r = await load({
      'a.yaml': 'app: emqx\nkind: container\nimage: emqx:5\nweb: 18083\nhostname: broker\nports: ["1883:1883"]\nrestart: sometimes\n',
      'b.yaml': 'app: mqtt\nkind: container\nimage: eclipse-mosquitto:2.0\nweb: 9001\nhostname: broker\nports: ["1883:1883"]\n',
    });
    expect(Object.keys(r.apps)).toEqual(['mqtt']);
    expect(r.apps.mqtt!.web).toEqual({ containerPort: 9001, hostPort: 35001 });
    expect(r.lines).toEqual([
      'a.yaml:5:11: app emqx: host name broker.hda.local is already used by app mqtt (b.yaml:1): choose another hostname',
      'a.yaml:6:9: app emqx: host port 1883/tcp is already published by app mqtt: choose another host port',
      'a.yaml:7:10: app emqx: restart must be one of no, always, on-failure, unless-stopped, not "sometimes"',
    ]);
  });

  it('a document missing a required field is not checked further: there is no app to check', async () => {
    const r = await load({ 'a.yaml': 'app: emqx\nkind: container\nports: ["1883:1883"]\nenv: { URL: "${HOST_PROT}" }\n' });
    expect(r.lines).toEqual(['a.yaml:1:1: app emqx: missing required field "image": add it']);
  });
});

describe('env values', () => {
  it('an unknown ${VAR} is an error at its key; $${X} is a literal ${X}', async () => {
    const r = await load({ 'hydra.yaml': `${hydra}env:\n  OK: "$\${HOME}/x"\n  URL: "http://\${APP_HOSTNAME}:\${HOST_PROT}/"\n` });
    expect(r.lines).toEqual(['hydra.yaml:7:8: app hydra: unknown variable ${HOST_PROT}: use one of ${APP_IDENTIFIER}, ${APP_HOSTNAME}, ${APP_FQDN}, ${HOST_PORT}, or write $${HOST_PROT} for a literal']);
    expect(r.apps).toEqual({});
  });

  it('a literal $${X} reaches the app as ${X}', async () => {
    const r = await load({ 'hydra.yaml': `${hydra}env:\n  OK: "$\${HOME}/x"\n` });
    expect(r.apps.hydra!.spec.env).toEqual({ OK: '${HOME}/x' });
  });
});

describe('volume policy', () => {
  const withVolume = (v: string) => `${hydra}volumes:\n  - ${JSON.stringify(v)}\n`;
  const problemOf = async (v: string, allow: string[] = []) => {
    const r = await load({ 'hydra.yaml': withVolume(v) }, { allow });
    return r.lines;
  };
  const mountOf = async (v: string, allow: string[] = []) => {
    const r = await load({ 'hydra.yaml': withVolume(v) }, { allow });
    expect(r.lines).toEqual([]);
    return r.apps.hydra!.spec.volumes;
  };

  it.each([
    ['./config:/config', { source: '/var/hda/apps/hydra/config', target: '/config', readOnly: false, appData: true }],
    ['.:/data:rw', { source: '/var/hda/apps/hydra', target: '/data', readOnly: false, appData: true }],
    ['./a/../b:/b', { source: '/var/hda/apps/hydra/b', target: '/b', readOnly: false, appData: true }],
    ['/etc/localtime:/etc/localtime:ro', { source: '/etc/localtime', target: '/etc/localtime', readOnly: true, appData: false }],
    ['/srv/media/movies:/movies:ro', { source: '/srv/media/movies', target: '/movies', readOnly: true, appData: false }],
    ['/etc/../srv/media/tv:/tv', { source: '/srv/media/tv', target: '/tv', readOnly: false, appData: false }],
  ])('%s is allowed (volumePolicy.allow: [/srv/media])', async (v, mount) => {
    expect(await mountOf(v, ['/srv/media'])).toEqual([mount]);
  });

  it.each([
    ['../../etc:/x', "../../etc escapes the app's data directory /var/hda/apps/hydra: keep relative sources below ./"],
    ['./../redis:/x', "./../redis escapes the app's data directory /var/hda/apps/hydra: keep relative sources below ./"],
    ['/:/host', 'mounting / is never allowed: mount the directory the app needs'],
    ['/etc:/etc', 'mounting /etc is never allowed (/etc is a system directory): use a relative source such as ./data'],
    ['/etc/ssl/private:/ssl', 'mounting /etc/ssl/private is never allowed (/etc is a system directory): use a relative source such as ./data'],
    ['/proc:/host/proc', 'mounting /proc is never allowed (/proc is a system directory): use a relative source such as ./data'],
    ['/sys/fs/cgroup:/cg', 'mounting /sys/fs/cgroup is never allowed (/sys is a system directory): use a relative source such as ./data'],
    ['/dev:/dev', 'mounting /dev is never allowed (/dev is a system directory): use a relative source such as ./data'],
    ['/root/.ssh:/keys', 'mounting /root/.ssh is never allowed (/root is a system directory): use a relative source such as ./data'],
    ['/boot:/boot', 'mounting /boot is never allowed (/boot is a system directory): use a relative source such as ./data'],
    ['/var/run/docker.sock:/var/run/docker.sock', 'mounting the Docker socket is never allowed: it gives the app root on the host'],
    ['/run/docker.sock:/docker.sock', 'mounting the Docker socket is never allowed: it gives the app root on the host'],
    ['/srv/x/../../etc:/x', 'mounting /etc is never allowed (/etc is a system directory): use a relative source such as ./data'],
    ['/srv/mediathek:/x', 'host path /srv/mediathek is not allowed by the volume policy: add it under volumePolicy.allow in hdactl.yaml, or use a relative source such as ./data'],
    ['/home/me:/x', 'host path /home/me is not allowed by the volume policy: add it under volumePolicy.allow in hdactl.yaml, or use a relative source such as ./data'],
    ['config:/config', 'volume source "config" is a named volume, which hdactl does not manage: write ./config for a directory under the app\'s data dir'],
  ])('%s is denied', async (v, message) => {
    expect(await problemOf(v, ['/srv/media'])).toEqual([`hydra.yaml:6:5: app hydra: ${message}`]);
  });

  it.each(['/run:/run', '/var/run:/host-run', '/var:/var'])('allowing %s cannot hand over the Docker socket inside it', async (v) => {
    const dir = v.split(':')[0]!;
    expect(await problemOf(v, [dir])).toEqual([`hydra.yaml:6:5: app hydra: mounting ${dir} is never allowed: it holds the Docker socket, which gives the app root on the host`]);
  });

  it('a trailing slash does not make another mount: /srv/media/ and /srv/media are the same spec', async () => {
    expect(await mountOf('/srv/media/:/media', ['/srv/media'])).toEqual(await mountOf('/srv/media:/media', ['/srv/media']));
  });

  it('volumePolicy.allow cannot open a system directory', async () => {
    expect(await problemOf('/etc/ssl:/ssl', ['/etc', '/'])).toEqual(['hydra.yaml:6:5: app hydra: mounting /etc/ssl is never allowed (/etc is a system directory): use a relative source such as ./data']);
  });

  it('without volumePolicy.allow an absolute path outside the system directories is still denied', async () => {
    expect(await problemOf('/srv/media/movies:/movies')).toEqual(['hydra.yaml:6:5: app hydra: host path /srv/media/movies is not allowed by the volume policy: add it under volumePolicy.allow in hdactl.yaml, or use a relative source such as ./data']);
  });
});
