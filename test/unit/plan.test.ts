import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DesiredApp } from '../../src/desired/model.js';
import type { Action, Plan } from '../../src/plan/actions.js';
import { isInSync } from '../../src/plan/actions.js';
import { formatPlan, planToJson } from '../../src/plan/format.js';
import { findRenames, NO_RENAMES, plan } from '../../src/plan/plan.js';
import { actionTypes, applyToWorld, FIXTURES, loadPlanFixture } from './plan-fixture.js';

const planOf = (fixture: string) => plan(loadPlanFixture(fixture));
const appPlan = (fixture: string, app: string) => {
  const a = planOf(fixture).apps.find((x) => x.app === app);
  if (!a) throw new Error(`no plan for ${app} in ${fixture}`);
  return a;
};
const changesOf = (a: Action) => ('changes' in a ? a.changes : []);

/** One situation per fixture in test/fixtures/plan/, and the lines `hdactl plan` prints for it. */
const ONE_CHANGE = [
  {
    situation: 'a new app is created, and its vhost written',
    fixture: 'new-app',
    lines: [
      '+ create hydra: image linuxserver/hydra:5.3.0, web on 127.0.0.1:35001 (new app)',
      '+ vhost hydra: hydra.hda.local → 127.0.0.1:35001',
    ],
  },
  {
    situation: 'an installed app whose container was removed by hand is created again, not called new',
    fixture: 'container-removed',
    lines: ['+ create hydra: image linuxserver/hydra:5.3.0, web on 127.0.0.1:35003 (container missing: removed outside hdactl, or never created)'],
  },
  {
    situation: 'a bumped image tag recreates the container and names both tags',
    fixture: 'image-bump',
    lines: ['~ recreate gitlab: image gitlab/gitlab-ce:16.0.0 → gitlab/gitlab-ce:16.1.0'],
  },
  {
    situation: 'a changed env value recreates the container and names the key',
    fixture: 'env-change',
    lines: ['~ recreate gitlab: env.TZ Europe/Amsterdam → Europe/Lisbon'],
  },
  {
    situation: 'a raised memory limit is applied live, without a recreate',
    fixture: 'memory-raised',
    lines: ['~ update-limits jellyfin: memory 512m → 1g'],
  },
  {
    situation: 'a deleted memory limit recreates the container, since the Engine cannot lift it live',
    fixture: 'memory-lifted',
    lines: ['~ recreate jellyfin: memory 512m → none (the Engine cannot lift it live)'],
  },
  {
    situation: 'a deleted pids limit is lifted live',
    fixture: 'pids-lifted',
    lines: ['~ update-limits jellyfin: pids 256 → none'],
  },
  {
    situation: 'an exited container of a running app is started, saying how it exited',
    fixture: 'exited',
    lines: ['> start syncthing: container exited (137) 3 minutes ago'],
  },
  {
    situation: 'an app set to state: stopped is stopped',
    fixture: 'stopped',
    lines: ['. stop plex: state: stopped'],
  },
  {
    situation: 'an app set to state: stopped whose container was paused by hand is stopped too',
    fixture: 'paused-stopped',
    lines: ['. stop plex: state: stopped'],
  },
  {
    situation: 'a deleted manifest removes the vhost first, then the container',
    fixture: 'manifest-gone',
    lines: ['- vhost oldapp: manifest deleted', '- remove oldapp: manifest deleted'],
  },
  {
    situation: 'a container this state file never installed is left running when no manifest names it',
    fixture: 'not-installed',
    lines: [
      "! oldapp: it runs with this instance's label but this state file never installed it, so it is left running: give each hdactl on this Engine its own --instance, or, if the state file was lost, add its manifest back or remove it with docker rm -f oldapp",
    ],
  },
  {
    situation: 'a vhost file this state file never installed is left when no manifest names it (another hdactl may share the vhost directory)',
    fixture: 'vhost-not-installed',
    lines: [
      "! oldapp: its vhost file oldapp.conf carries hdactl's marks but this state file never installed oldapp, so it is left: another hdactl may use it (one that shares the vhost directory or the --instance); if none does, remove it by hand (rm oldapp.conf)",
    ],
  },
  {
    situation: 'a container set aside by a recreate of an app this state file never installed is left (another hdactl may be recreating it)',
    fixture: 'leftover-not-installed',
    lines: [
      "! gitlab: container gitlab-hdactl-old-0a1b2c3d carries hdactl's marks but this state file never installed gitlab, so it is left: another hdactl may use it (one that shares the vhost directory or the --instance); if none does, remove it by hand (docker rm -f gitlab-hdactl-old-0a1b2c3d)",
    ],
  },
  {
    situation: 'a deleted manifest removes the vhost, then a set-aside container, and the app\'s own container last (which ends its record)',
    fixture: 'manifest-gone-leftover',
    lines: [
      '- vhost gitlab: manifest deleted',
      '- remove gitlab: gitlab-hdactl-old-0a1b2c3d: leftover container gitlab-hdactl-old-0a1b2c3d from an interrupted recreate',
      '- remove gitlab: manifest deleted',
    ],
  },
  {
    situation: 'an app with an invalid manifest is left as it runs, container and edited vhost included',
    fixture: 'frozen',
    lines: ['! nextcloud: its manifest is invalid, so it is left as it runs: nextcloud.yaml:4:1: unknown field "imgae"'],
  },
  {
    situation: 'a container with the app\'s name that hdactl does not own blocks the app',
    fixture: 'foreign-name',
    lines: ['! hydra: not created while a container named hydra exists that hdactl does not own: remove or rename it (docker rename hydra hydra-old), or rename the app'],
  },
  {
    situation: 'a container of another hdactl with the app\'s name blocks the app, and the way out does not touch that hdactl\'s app',
    fixture: 'other-instance',
    lines: ["! hydra: not created while a container named hydra exists that another hdactl manages (its --instance is demo): rename this app, or remove hydra from that hdactl's manifests first"],
  },
  {
    situation: 'a container left aside by an interrupted recreate is removed',
    fixture: 'leftover',
    lines: ['- remove gitlab: gitlab-hdactl-old-0a1b2c3d: leftover container gitlab-hdactl-old-0a1b2c3d from an interrupted recreate'],
  },
  {
    situation: 'a vhost deleted by hand is written again',
    fixture: 'vhost-deleted',
    lines: ['+ vhost hydra: drifted (deleted outside hdactl)'],
  },
  {
    situation: 'a vhost edited by hand is written again',
    fixture: 'vhost-edited',
    lines: ['~ vhost hydra: drifted (edited outside hdactl)'],
  },
  {
    situation: 'a hand-written vhost without hdactl\'s header is left alone, with a warning',
    fixture: 'vhost-foreign',
    lines: ['! hydra: vhost file hydra.conf exists without hdactl\'s header, so hdactl leaves it alone: delete or rename it to let hdactl manage the vhost'],
  },
  {
    situation: 'a new alias rewrites the vhost only',
    fixture: 'aliases-added',
    lines: ['~ vhost hydra: template or aliases changed'],
  },
  {
    situation: 'an app that drops its web port loses its web port binding and its vhost',
    fixture: 'headless',
    lines: [
      '~ recreate mqtt: ports 127.0.0.1:35001:9001/tcp, 0.0.0.0:1883:1883/tcp → 0.0.0.0:1883:1883/tcp',
      '- vhost mqtt: app has no web port any more',
    ],
  },
  {
    situation: 'apps that run as their manifests say need nothing',
    fixture: 'converged',
    lines: [],
  },
];

describe('the plan for one change at a time', () => {
  it.each(ONE_CHANGE)('$situation', ({ fixture, lines }) => {
    expect(formatPlan(planOf(fixture))).toEqual(lines);
  });
});

describe('what each step carries', () => {
  it('a recreate carries the changed fields as data', () => {
    const [act] = appPlan('image-bump', 'gitlab').actions;
    expect(act!.type).toBe('recreate');
    expect(changesOf(act!)).toEqual([{ field: 'image', from: 'gitlab/gitlab-ce:16.0.0', to: 'gitlab/gitlab-ce:16.1.0' }]);
  });

  it('an env change names only the key that changed', () => {
    const [act] = appPlan('env-change', 'gitlab').actions;
    expect(changesOf(act!)).toEqual([{ field: 'env.TZ', from: 'Europe/Amsterdam', to: 'Europe/Lisbon' }]);
  });

  it('a raised memory limit is one update-limits step and nothing else', () => {
    const a = appPlan('memory-raised', 'jellyfin');
    expect(a.actions.map((x) => x.type)).toEqual(['update-limits']);
    expect(changesOf(a.actions[0]!)).toEqual([{ field: 'memory', from: '512m', to: '1g' }]);
  });

  it('a recreate for a lifted memory limit names the limit, not a spec change', () => {
    const [act] = appPlan('memory-lifted', 'jellyfin').actions;
    expect(act!.type).toBe('recreate');
    expect(changesOf(act!)).toEqual([{ field: 'memory', from: '512m', to: 'none (the Engine cannot lift it live)' }]);
  });

  it('a lifted pids limit is an update-limits step', () => {
    const a = appPlan('pids-lifted', 'jellyfin');
    expect(a.actions.map((x) => x.type)).toEqual(['update-limits']);
    expect(changesOf(a.actions[0]!)).toEqual([{ field: 'pids', from: '256', to: 'none' }]);
  });

  it('a stop passes the app\'s stop timeout to the Engine', () => {
    const [act] = appPlan('stopped', 'plex').actions;
    expect(act).toMatchObject({ type: 'stop', timeoutSeconds: 30, reason: 'state: stopped' });
  });

  it('a frozen app gets no steps at all, though its container is exited and its vhost edited', () => {
    const a = appPlan('frozen', 'nextcloud');
    expect(a.actions).toEqual([]);
    expect(a.blocked).toMatch(/^its manifest is invalid/);
  });

  it('a foreign container blocks the app that wants its name, and no other', () => {
    const p = planOf('foreign-name');
    expect(p.apps.map((a) => a.app)).toEqual(['hydra']);
    expect(p.apps[0]!.actions).toEqual([]);
    expect(p.apps[0]!.blocked).toContain('a container named hydra exists that hdactl does not own');
  });

  it('a leftover is removed by its own id, not the app\'s running container', () => {
    const [act] = appPlan('leftover', 'gitlab').actions;
    expect(act).toMatchObject({ type: 'remove', container: { name: 'gitlab-hdactl-old-0a1b2c3d', id: '0a1b2c3d4e5f60718293a4b5' } });
  });

  it('a container being removed by hand is neither started nor replaced: the app waits until it is gone', () => {
    const input = loadPlanFixture('vhost-foreign');
    input.observed.foreignVhosts.clear();
    input.observed.containers[0]!.state = 'removing';
    const a = plan(input).apps[0]!;
    expect(a.actions).toEqual([]);
    expect(a.blocked).toBe('its container is being removed outside hdactl: it is created again once it is gone');
  });

  it('a dead container (one the Engine failed to remove) is removed and the app created again, not started', () => {
    const input = loadPlanFixture('vhost-foreign');
    input.observed.foreignVhosts.clear();
    input.observed.containers[0]!.state = 'dead';
    const a = plan(input).apps[0]!;
    expect(a.actions.map((x) => [x.type, 'reason' in x ? x.reason : ''])).toEqual([
      ['remove', 'container dead: the Engine cannot start it'],
      ['create', 'in place of its dead container'],
      ['vhost-create', 'hydra.hda.local → 127.0.0.1:35001'],
    ]);
  });

  it('an app with an invalid manifest and nothing installed yet is not installed, and says so, not "left as it runs"', () => {
    const input = loadPlanFixture('frozen');
    input.observed.containers = input.observed.containers.filter((c) => c.app !== 'nextcloud');
    input.observed.vhosts.delete('nextcloud');
    const a = plan(input).apps.find((x) => x.app === 'nextcloud')!;
    expect(a.actions).toEqual([]);
    expect(a.blocked).toBe('its manifest is invalid, so it is not installed until it is fixed: nextcloud.yaml:4:1: unknown field "imgae"');
  });

  it('an app renamed in its file is removed and created under the new name, and both reasons say so and where the old data stays', () => {
    // oldapp was installed from apps/oldapp.yaml, which now names hydra instead.
    const input = loadPlanFixture('manifest-gone');
    const fresh = loadPlanFixture('new-app').desired[0]!;
    const hydra = { ...fresh, source: { ...fresh.source, file: 'apps/oldapp.yaml' } };
    const installed = new Map([['oldapp', 'apps/oldapp.yaml']]);
    const renames = (desired: DesiredApp[], named: string[]) => findRenames({ desired, named: new Set(named), installed, isNew: (app) => !installed.has(app), dataRoot: '/var/hda/apps' });
    const renamed = renames([hydra], ['hydra']);
    expect(formatPlan(plan({ ...input, desired: [hydra], renamed }))).toEqual([
      '+ create hydra: image linuxserver/hydra:5.3.0, web on 127.0.0.1:35001 (new app, renamed from oldapp: its data directory starts empty)',
      '+ vhost hydra: hydra.hda.local → 127.0.0.1:35001',
      '- vhost oldapp: renamed to hydra in apps/oldapp.yaml; its data stays in /var/hda/apps/oldapp',
      '- remove oldapp: renamed to hydra in apps/oldapp.yaml; its data stays in /var/hda/apps/oldapp',
    ]);
    // A new app in another file, or two new apps in that one, is no rename: nothing is guessed.
    expect(renames([fresh], ['hydra'])).toEqual(NO_RENAMES);
    const two = [hydra, { ...hydra, app: 'hydra2' }];
    expect(renames(two, ['hydra', 'hydra2'])).toEqual(NO_RENAMES);
    // Nor is an app that the manifests still name, valid or not: a keyed pass that plans only hydra
    // (oldapp outside it) or a typo in oldapp's own manifest must not call hydra a rename.
    expect(renames([hydra], ['hydra', 'oldapp'])).toEqual(NO_RENAMES);
  });

  it('a foreign vhost is a warning, not a block: the container is still managed', () => {
    const input = loadPlanFixture('vhost-foreign');
    input.observed.containers[0]!.state = 'exited';
    const a = plan(input).apps[0]!;
    expect(a.blocked).toBeUndefined();
    expect(a.warning).toContain('hydra.conf exists without hdactl\'s header');
    expect(a.actions.map((x) => x.type)).toEqual(['start']);
  });

  it('a container from before the spec label was recorded still says it will be recreated, and why', () => {
    const input = loadPlanFixture('image-bump');
    const c = input.observed.containers[0]!;
    delete c.spec;
    const [act] = plan(input).apps[0]!.actions;
    expect(act!.type).toBe('recreate');
    expect(changesOf(act!)).toEqual([{ field: 'spec', from: c.specHash, to: 'current manifest' }]);
  });

  it('a new app with state: stopped is created (not started), and says so', () => {
    const input = loadPlanFixture('new-app');
    input.desired[0]!.state = 'stopped';
    const [act] = plan(input).apps[0]!.actions;
    expect(act).toMatchObject({ type: 'create', reason: 'new app (state: stopped)' });
  });

  it('the JSON plan is not in sync while an app is left as it is, though it has nothing to do', () => {
    const blocked = { apps: [{ app: 'demo', actions: [], blocked: 'its manifest is invalid' }] } as Plan;
    expect(planToJson(blocked)).toMatchObject({ inSync: false, apps: [{ app: 'demo', blocked: 'its manifest is invalid', actions: [] }] });
    expect(planToJson({ apps: [{ app: 'demo', actions: [] }] } as Plan)).toMatchObject({ inSync: true });
  });

  it('the JSON plan carries the same lines, the short container id, and whether all is in sync', () => {
    expect(planToJson(planOf('image-bump'))).toEqual({
      inSync: false,
      apps: [{
        app: 'gitlab',
        actions: [{
          type: 'recreate',
          changes: [{ field: 'image', from: 'gitlab/gitlab-ce:16.0.0', to: 'gitlab/gitlab-ce:16.1.0' }],
          container: 'gitlab012345',
          text: '~ recreate gitlab: image gitlab/gitlab-ce:16.0.0 → gitlab/gitlab-ce:16.1.0',
        }],
      }],
    });
  });
});

describe('a home server in the middle of many changes', () => {
  it('plans every app, sorted by name, each with its own steps', () => {
    expect(actionTypes(planOf('home-server'))).toEqual({
      gitlab: ['recreate', 'remove', 'vhost-update'],
      hydra: ['create', 'vhost-create'],
      jellyfin: ['update-limits', 'start', 'vhost-create'],
      mqtt: ['recreate', 'vhost-remove'],
      nextcloud: [],
      oldapp: ['vhost-remove', 'remove'],
      syncthing: ['stop'],
    });
  });

  it('prints one line per step, and one for the app it leaves alone', () => {
    expect(formatPlan(planOf('home-server'))).toEqual([
      '~ recreate gitlab: image gitlab/gitlab-ce:16.0.0 → gitlab/gitlab-ce:16.1.0',
      '- remove gitlab: gitlab-hdactl-old-99aa88bb: leftover container gitlab-hdactl-old-99aa88bb from an interrupted recreate',
      '~ vhost gitlab: drifted (edited outside hdactl)',
      '+ create hydra: image linuxserver/hydra:5.3.0, web on 127.0.0.1:35007 (new app)',
      '+ vhost hydra: hydra.hda.local → 127.0.0.1:35007',
      '~ update-limits jellyfin: memory 512m → 1g, pids 100 → none',
      '> start jellyfin: container exited (0) 5 minutes ago',
      '+ vhost jellyfin: jellyfin.hda.local → 127.0.0.1:35002',
      '~ recreate mqtt: ports 127.0.0.1:35006:9001/tcp, 0.0.0.0:1883:1883/tcp → 0.0.0.0:1883:1883/tcp',
      '- vhost mqtt: app has no web port any more',
      '! nextcloud: its manifest is invalid, so it is left as it runs',
      '- vhost oldapp: manifest deleted',
      '- remove oldapp: manifest deleted',
      '. stop syncthing: state: stopped',
    ]);
  });
});

describe('planning again after applying', () => {
  const fixtures = readdirSync(`${FIXTURES}plan`).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();

  it('every planner fixture is one of the situations above, so the checks below cover them all', () => {
    expect(fixtures).toEqual([...ONE_CHANGE.map((c) => c.fixture), 'home-server'].sort());
  });

  it.each(fixtures)('%s: a second plan over the converged world has no steps', (fixture) => {
    const input = loadPlanFixture(fixture);
    const first = plan(input);
    const second = plan({ ...input, observed: applyToWorld(first, input.observed) });
    expect(second.apps.flatMap((a) => a.actions.map((x) => `${a.app} ${x.type}`))).toEqual([]);
    expect(isInSync(second)).toBe(true);
    // What was left alone the first time is still left alone, for the same reason.
    const leftAlone = (p: typeof first) => p.apps.filter((a) => a.blocked || a.warning).map((a) => ({ app: a.app, blocked: a.blocked, warning: a.warning }));
    expect(leftAlone(second)).toEqual(leftAlone(first));
  });

  it('the home server converges in one pass: no app left with work', () => {
    const input = loadPlanFixture('home-server');
    const world = applyToWorld(plan(input), input.observed);
    expect(world.containers.map((c) => `${c.name} ${c.state}`).sort()).toEqual([
      'gitlab running', 'hydra running', 'jellyfin running', 'mqtt running', 'nextcloud running', 'syncthing exited',
    ]);
    expect([...world.vhosts.keys()].sort()).toEqual(['gitlab', 'hydra', 'jellyfin', 'syncthing']);
  });

  it('the plan is pure: planning twice over the same input gives the same plan and leaves the input as it was', () => {
    const input = loadPlanFixture('home-server');
    const snapshot = structuredClone(input);
    expect(formatPlan(plan(input))).toEqual(formatPlan(plan(input)));
    expect(input).toEqual(snapshot);
  });
});
