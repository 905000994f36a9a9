import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDesired } from '../../src/desired/model.js';
import { isManifestFile, parseManifestText } from '../../src/manifest/load.js';
import { formatProblem, type Problem } from '../../src/manifest/problem.js';
import { checkSchema, didYouMean, type ValidDoc } from '../../src/manifest/validate.js';
import { desiredContext, FIXTURES } from './plan-fixture.js';

/**
 * Runs one manifest file through parsing, the schema and the desired model,
 * as `hdactl validate` does, and returns what the user would read.
 */
function validateFixture(name: string) {
  const text = readFileSync(`${FIXTURES}manifests/${name}`, 'utf8');
  const parsed = parseManifestText(name, text);
  const problems: Problem[] = [...parsed.problems];
  const valid: ValidDoc[] = [];
  for (const doc of parsed.docs) {
    const r = checkSchema(doc);
    problems.push(...r.problems);
    if (r.valid) valid.push(r.valid);
  }
  const model = buildDesired(valid, desiredContext());
  problems.push(...model.problems);
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return {
    lines: problems.map(formatProblem),
    broken: parsed.broken,
    apps: model.apps.map((a) => a.app),
    docs: parsed.docs.map((d) => ({ index: d.index, app: d.appName })),
  };
}

describe('a manifest problem names the file, line and column of the offending node', () => {
  it.each([
    {
      situation: 'a typo in a required field\'s name gets a did-you-mean hint at its line, and no second "missing" line',
      file: 'typo-image.yaml',
      lines: ['typo-image.yaml:4:1: app hydra: unknown field "imgae": did you mean "image"?'],
    },
    {
      situation: 'a typo inside limits points at the nested key',
      file: 'typo-limits.yaml',
      lines: ['typo-limits.yaml:7:3: app jellyfin: unknown field "memroy": did you mean "memory"?'],
    },
    {
      situation: 'a missing required field points at the start of the document',
      file: 'missing-kind.yaml',
      lines: ['missing-kind.yaml:3:1: app hydra: missing required field "kind": add it'],
    },
    {
      situation: 'a port with an unknown separator is rejected at its list item',
      file: 'bad-port.yaml',
      lines: ['bad-port.yaml:7:5: app mqtt: ports.1 "9001-tcp" is not valid: an extra published port: [ADDRESS:]HOST:CONTAINER[/tcp|/udp], such as 2224:22 or 127.0.0.1:5353:53/udp, one port per entry (ranges are not supported), or a mapping {host, container, protocol, address}.'],
    },
    {
      situation: 'a port object says which of its keys is wrong, with a did-you-mean, instead of rejecting the whole item',
      file: 'port-object-typos.yaml',
      lines: [
        'port-object-typos.yaml:6:36: app mqtt: unknown field "proto": did you mean "protocol"?',
        'port-object-typos.yaml:7:5: app mqtt: missing required field "container": add it',
        'port-object-typos.yaml:8:15: app mqtt: ports.1.protocol must be one of tcp, udp, not "tpc"',
      ],
    },
    {
      situation: 'a port number above 65535 is rejected at its list item',
      file: 'port-out-of-range.yaml',
      lines: ['port-out-of-range.yaml:7:5: app mqtt: port 70000 is not between 1 and 65535: choose a valid port number'],
    },
    {
      situation: 'values of the wrong type say what they must be, at the value',
      file: 'wrong-types.yaml',
      lines: [
        'wrong-types.yaml:5:6: app hydra: web must be integer, not "5075"',
        'wrong-types.yaml:6:10: app hydra: restart must be one of no, always, on-failure, unless-stopped, not "sometimes"',
        'wrong-types.yaml:8:7: app hydra: env.TZ must be string, number or boolean, not a list',
        'wrong-types.yaml:9:14: app hydra: stopTimeout must be string, not 10: grace period before the Engine kills the app on stop or recreate: a duration such as 10s, 2m or 500ms.',
      ],
    },
    {
      situation: 'a value of the wrong form says what the field takes in words, not as a regex',
      file: 'bad-patterns.yaml',
      lines: [
        'bad-patterns.yaml:5:14: app hydra: stopTimeout "10 seconds" is not valid: grace period before the Engine kills the app on stop or recreate: a duration such as 10s, 2m or 500ms.',
        'bad-patterns.yaml:7:11: app hydra: limits.memory "12x" is not valid: memory limit in Compose size syntax (512m, 512M, 512mb, 1.5g) or bytes. At least 6m.',
      ],
    },
    {
      situation: 'a value in the wrong form says the form with an example, once per value, and the value in lower case when that is all it lacks (an image keeps its tag\'s case)',
      file: 'bad-forms.yaml',
      lines: [
        'bad-forms.yaml:3:7: app photos: kind "web" is not valid: the app\'s kind in Amahi: container, or container-<name> (lower-case letters and digits) to pick the vhost template templates/<kind>.conf when one exists (else templates/container.conf).',
        'bad-forms.yaml:4:8: app photos: image "Nginx:Latest" is not valid: a Docker image reference, [registry/]name[:tag][@digest], with the name in lower case. Pulled before create when missing locally. Did you mean "nginx:Latest"?',
        'bad-forms.yaml:5:11: app photos: hostname "Photos" is not valid: host name of the vhost, <hostname>.<domain> (Amahi\'s APP_HOSTNAME). Defaults to the app\'s name. Did you mean "photos"?',
        'bad-forms.yaml:6:11: app photos: aliases.0 "Photos.Home" is not valid: an extra DNS name in lower case, such as nzb.example.org or *.example.org: letters, digits and \'-\', between dots. Did you mean "photos.home"?',
        'bad-forms.yaml:7:9: app photos: ports.0 "8080-8081" is not valid: an extra published port: [ADDRESS:]HOST:CONTAINER[/tcp|/udp], such as 2224:22 or 127.0.0.1:5353:53/udp, one port per entry (ranges are not supported), or a mapping {host, container, protocol, address}.',
        'bad-forms.yaml:8:11: app photos: volumes.0 "data" is not valid: a bind mount SRC:DST[:ro|:rw], such as ./config:/config or /srv/photos:/photos:ro, with DST an absolute path in the container. A relative SRC lives under <dataRoot>/<app>/.',
        'bad-forms.yaml:10:3: app photos: env "my-var" is not valid: a variable name: letters, digits and \'_\', not starting with a digit, such as MY_VAR.',
        'bad-forms.yaml:12:14: app photos: stopTimeout "10S" is not valid: grace period before the Engine kills the app on stop or recreate: a duration such as 10s, 2m or 500ms. Did you mean "10s"?',
      ],
    },
    {
      situation: 'a list where an app mapping belongs is rejected as a whole',
      file: 'list-not-mapping.yaml',
      lines: ['list-not-mapping.yaml:2:1: manifest must be object, not a list'],
    },
  ])('$situation', ({ file, lines }) => {
    const r = validateFixture(file);
    expect(r.lines).toEqual(lines);
    expect(r.broken).toBe(false);
    expect(r.apps).toEqual([]);
  });

  it('an app name with capitals and an underscore is rejected at the name, with the naming rule', () => {
    const r = validateFixture('bad-name.yaml');
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toBe(`bad-name.yaml:2:6: app My_App: app "My_App" is not valid: the app's identifier and its container's name (Amahi's APP_IDENTIFIER). A DNS label: lower-case letters, digits and '-', 2 to 32 characters, starting with a letter.`);
    expect(r.apps).toEqual([]);
  });

  it('the lower-case fix keeps an image\'s registry port, tag and digest as they are, and is offered only when it would be valid', () => {
    const fixOf = (field: string, value: string) => {
      const fields: Record<string, string> = { app: 'photos', kind: 'container', image: 'busybox', [field]: value };
      const text = Object.entries(fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join('');
      const doc = parseManifestText('a.yaml', text).docs[0]!;
      return checkSchema(doc).problems.map((p) => /Did you mean (".*")\?$/.exec(p.message)?.[1] ?? 'no fix');
    };
    expect(fixOf('image', 'Registry.Home:5000/Photos/App:V1.2')).toEqual(['"registry.home:5000/photos/app:V1.2"']);
    expect(fixOf('image', 'Photos@sha256:' + 'a'.repeat(64))).toEqual([`"photos@sha256:${'a'.repeat(64)}"`]);
    expect(fixOf('hostname', 'My_Photos')).toEqual(['no fix']);
    expect(fixOf('app', 'Photos')).toEqual(['"photos"']);
  });

  it('formatProblem leaves out the app when its name is unknown', () => {
    expect(formatProblem({ file: 'a.yaml', line: 3, col: 7, message: 'something is wrong' })).toBe('a.yaml:3:7: something is wrong');
    expect(formatProblem({ file: 'a.yaml', line: 3, col: 7, app: 'hydra', message: 'something is wrong' })).toBe('a.yaml:3:7: app hydra: something is wrong');
  });
});

describe('files with several documents', () => {
  it('a problem in the second document is reported at its line in the file, and the first app still loads', () => {
    const r = validateFixture('multi-doc.yaml');
    expect(r.lines).toEqual(['multi-doc.yaml:9:1: app hydra: unknown field "wbe": did you mean "web"?']);
    expect(r.apps).toEqual(['redis']);
  });

  it('a trailing --- is an empty document, not an invalid app', () => {
    const r = validateFixture('multi-doc.yaml');
    expect(r.docs).toEqual([{ index: 0, app: 'redis' }, { index: 1, app: 'hydra' }]);
    expect(r.broken).toBe(false);
  });

  it('two --- in a row and a file of only comments hold no app and no problem', () => {
    expect(parseManifestText('a.yaml', '---\n---\napp: redis\nkind: container\nimage: redis:7\n').docs.map((d) => d.appName)).toEqual(['redis']);
    const comments = parseManifestText('b.yaml', '# nothing here yet\n');
    expect(comments).toMatchObject({ docs: [], problems: [], broken: false });
  });

  it('each document has its own generation, which changes only when that document changes', () => {
    const a = 'app: redis\nkind: container\nimage: redis:7\n---\napp: hydra\nkind: container\nimage: linuxserver/hydra:5.3.0\n';
    const b = a.replace('hydra:5.3.0', 'hydra:5.4.0');
    const [redisA, hydraA] = parseManifestText('x.yaml', a).docs;
    const [redisB, hydraB] = parseManifestText('x.yaml', b).docs;
    expect(redisB!.generation).toBe(redisA!.generation);
    expect(hydraB!.generation).not.toBe(hydraA!.generation);
  });
});

describe('YAML syntax errors mark the file broken', () => {
  it.each([
    {
      situation: 'a second colon on a line is reported at that line',
      file: 'syntax-error.yaml',
      first: 'syntax-error.yaml:5:6: YAML syntax: Nested mappings are not allowed in compact mappings: fix the YAML at this line',
    },
    {
      situation: 'a flow map never closed is reported at the last line of the file, not the one after it',
      file: 'unclosed-flow-map.yaml',
      first: 'unclosed-flow-map.yaml:5:22: YAML syntax: Flow map in block collection must be sufficiently indented and end with a }: fix the YAML at this line',
    },
    {
      situation: 'a key given twice is reported at the second one',
      file: 'duplicate-key.yaml',
      first: 'duplicate-key.yaml:6:1: YAML syntax: Map keys must be unique: fix the YAML at this line',
    },
  ])('$situation', ({ file, first }) => {
    const r = validateFixture(file);
    expect(r.broken).toBe(true);
    expect(r.docs).toEqual([]);
    expect(r.lines[0]).toBe(first);
  });

  it('a key indented one space too deep is reported once, at its own line, with the line to align it with', () => {
    const r = validateFixture('deep-indent.yaml');
    expect(r.broken).toBe(true);
    expect(r.lines).toEqual(["deep-indent.yaml:8:4: YAML syntax: this line is indented deeper than line 7, so it reads as the rest of that line's value: indent it as line 7 is"]);
  });

  it('an unclosed quote breaks the file, so its app is neither created nor removed', () => {
    const r = validateFixture('unclosed-quote.yaml');
    expect(r.broken).toBe(true);
    expect(r.apps).toEqual([]);
    expect(r.lines).toEqual([expect.stringMatching(/^unclosed-quote\.yaml:\d+:\d+: YAML syntax: Missing closing "quote: fix the YAML at this line$/)]);
  });
});

describe('which files in the manifests directory are manifests', () => {
  it.each([
    ['hydra.yaml', true],
    ['hydra.yml', true],
    ['.hydra.yaml', false],
    ['.#hydra.yaml', false],
    ['hydra.yaml~', false],
    ['.hydra.yaml.swp', false],
    ['hydra.yaml.swp', false],
    ['hydra.yaml.swx', false],
    ['#hydra.yaml#', false],
    ['README.md', false],
    ['hydra.json', false],
  ])('%s is read: %s', (name, read) => {
    expect(isManifestFile(name)).toBe(read);
  });
});

describe('sizes as the docker CLI and Compose take them', () => {
  it.each(['100M', '512mb', '1GB', '1.5g', '6291456'])('limits.memory %s is valid', (memory) => {
    const [doc] = parseManifestText('sizes.yaml', `app: web\nkind: container\nimage: web:1\nlimits: { memory: ${memory} }\n`).docs;
    expect(checkSchema(doc!).problems).toEqual([]);
  });
});

describe('did-you-mean hints', () => {
  const fields = ['app', 'kind', 'image', 'hostname', 'aliases', 'web', 'ports', 'volumes', 'env', 'command', 'limits', 'restart', 'init', 'stopTimeout', 'state'];
  it.each([
    ['imgae', 'image'],
    ['volume', 'volumes'],
    ['enviroment', undefined],
    ['stoptimeout', 'stopTimeout'],
    ['hostnmae', 'hostname'],
    ['xyz', undefined],
  ])('%s suggests %s', (word, guess) => {
    expect(didYouMean(word, fields)).toBe(guess);
  });
});
