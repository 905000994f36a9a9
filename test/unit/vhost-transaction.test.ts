import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { WebServerControl } from '../../src/adapters/apache/control.js';
import type { VhostStore } from '../../src/adapters/vhost/store.js';
import { BatchingCommitter, ImmediateCommitter } from '../../src/apply/vhosts.js';
import { ManualClock } from '../../src/loop/clock.js';
import { peek, settle } from './loop/flush.js';

/** The vhost directory in memory, logging every change. */
class MemoryVhosts implements VhostStore {
  readonly dir = '/vhosts';
  readonly files = new Map<string, string>();
  constructor(readonly events: string[]) {}
  async list() {
    return { managed: new Map(), foreign: new Set<string>() };
  }
  async read(app: string) {
    return this.files.get(app);
  }
  async write(app: string, content: string) {
    this.events.push(`write ${app}: ${content}`);
    this.files.set(app, content);
  }
  async remove(app: string) {
    this.events.push(`remove ${app}`);
    this.files.delete(app);
  }
  isAsLeft() {
    return false;
  }
}

/** Apache whose configtest fails while any file holds `broken`, logging what it is asked to do. */
class FakeApache implements WebServerControl {
  readonly enabled = true;
  readonly command = 'fake';
  constructor(private readonly vhosts: MemoryVhosts, private readonly events: string[]) {}
  async configtest() {
    const bad = [...this.vhosts.files].find(([, c]) => c.includes('broken'));
    this.events.push(`configtest ${bad ? 'failed' : 'ok'}`);
    return bad ? { ok: false, output: `Syntax error in ${bad[0]}.conf` } : { ok: true, output: '' };
  }
  failReload = false;
  async reload() {
    if (this.failReload) throw new Error('graceful reload failed: apache2 not running');
    this.events.push(`reload with ${[...this.vhosts.files.keys()].sort().join(',')}`);
  }
}

function setup(existing: Record<string, string> = {}) {
  const events: string[] = [];
  const vhosts = new MemoryVhosts(events);
  for (const [app, c] of Object.entries(existing)) vhosts.files.set(app, c);
  const web = new FakeApache(vhosts, events);
  const committer = new ImmediateCommitter(web, vhosts, pino({ level: 'silent' }));
  let finish!: (failed: Set<string>) => void;
  const containersDone = new Promise<Set<string>>((r) => (finish = r));
  return { events, vhosts, web, committer, containersDone, finish };
}

describe('the vhost transaction of a pass', () => {
  it('writes and checks the files while the containers start, and reloads only once they are done', async () => {
    const t = setup();
    const result = t.committer.commit([{ app: 'a', content: 'A' }, { app: 'b', content: 'B' }], t.containersDone);
    await settle();
    expect(t.events).toEqual(['write a: A', 'write b: B', 'configtest ok']);
    expect((await peek(result)).done).toBe(false);
    t.finish(new Set());
    expect(await result).toEqual(new Map());
    expect(t.events.at(-1)).toBe('reload with a,b');
  });

  it('puts back the files of apps whose containers failed before the reload, so their vhost never goes live, and tests the rest again', async () => {
    const t = setup({ b: 'B-old' });
    const result = t.committer.commit([{ app: 'a', content: 'A' }, { app: 'b', content: 'B-new' }, { app: 'c', content: 'C' }], t.containersDone);
    await settle();
    t.finish(new Set(['b', 'c']));
    // The failed apps' errors are their container errors: the transaction reports nothing for them.
    expect(await result).toEqual(new Map());
    // Apache is signalled on the files it tested: those that go live.
    expect(t.events.slice(3)).toEqual(['configtest ok', 'remove c', 'write b: B-old', 'configtest ok', 'reload with a,b']);
    expect(t.vhosts.files).toEqual(new Map([['b', 'B-old'], ['a', 'A']]));
  });

  it('reloads nothing when every app with a vhost change failed', async () => {
    const t = setup();
    const result = t.committer.commit([{ app: 'a', content: 'A' }], t.containersDone);
    t.finish(new Set(['a']));
    expect(await result).toEqual(new Map());
    expect(t.events).toEqual(['write a: A', 'configtest ok', 'remove a']);
  });

  it('a failed configtest of one app\'s change rolls it back and fails it, and Apache is not reloaded', async () => {
    const t = setup({ b: 'B-old' });
    const result = t.committer.commit([{ app: 'b', content: 'broken' }], t.containersDone);
    t.finish(new Set());
    const failed = await result;
    expect(failed.get('b')).toEqual({ transient: false, error: 'apache configtest failed, so the vhost change was rolled back and Apache keeps its old config: Syntax error in b.conf' });
    expect(t.vhosts.files).toEqual(new Map([['b', 'B-old']]));
    expect(t.events.some((e) => e.startsWith('reload'))).toBe(false);
  });

  it('when several apps\' changes fail the configtest together, only the app whose vhost breaks it fails; the others go live', async () => {
    const t = setup({ a: 'A-old' });
    const result = t.committer.commit([{ app: 'a', content: 'A-new' }, { app: 'b', content: 'broken' }, { app: 'c', content: 'C' }], t.containersDone);
    t.finish(new Set());
    const failed = await result;
    expect([...failed.keys()]).toEqual(['b']);
    expect(failed.get('b')).toEqual({ transient: false, error: 'apache configtest failed with this app\'s vhost, so it was rolled back and Apache keeps its old config: Syntax error in b.conf' });
    expect(t.vhosts.files).toEqual(new Map([['a', 'A-new'], ['c', 'C']]));
    expect(t.events.slice(3)).toEqual([
      'configtest failed', 'remove c', 'remove b', 'write a: A-old', 'configtest ok', // rolled back: Apache passes without them
      'write a: A-new', 'configtest ok', 'write b: broken', 'configtest failed', 'remove b', 'write c: C', 'configtest ok',
      'reload with a,c',
    ]);
  });

  it('a configtest that fails without the changes too rolls them back as transient, to be tried again, and names Apache\'s error', async () => {
    const t = setup({ site: 'broken outside hdactl' });
    const result = t.committer.commit([{ app: 'a', content: 'A' }], t.containersDone);
    t.finish(new Set());
    const failed = await result;
    expect(failed.get('a')).toEqual({ transient: true, error: 'apache configtest fails with or without these vhost changes, so they were rolled back and are tried again: fix Apache\'s config: Syntax error in site.conf' });
    expect(t.events).toEqual(['write a: A', 'configtest failed', 'remove a', 'configtest failed']);
  });

  it('a failed configtest that passes without the changes is theirs: terminal, as before', async () => {
    const t = setup();
    const result = t.committer.commit([{ app: 'b', content: 'broken' }], t.containersDone);
    t.finish(new Set());
    expect((await result).get('b')?.transient).toBe(false);
    expect(t.events).toEqual(['write b: broken', 'configtest failed', 'remove b', 'configtest ok']);
  });

  it('a reload that fails puts the files back, so that the retry writes them and reloads again', async () => {
    const t = setup({ a: 'A-old' });
    t.web.failReload = true;
    const result = t.committer.commit([{ app: 'a', content: 'A-new' }], t.containersDone);
    t.finish(new Set());
    expect((await result).get('a')).toEqual({ transient: true, error: 'graceful reload failed: apache2 not running; the vhost changes were rolled back and are tried again' });
    expect(t.vhosts.files).toEqual(new Map([['a', 'A-old']]));
  });

  it('a broken vhost of an app whose container failed does not fail the others: the test runs again without it', async () => {
    const t = setup();
    const result = t.committer.commit([{ app: 'a', content: 'A' }, { app: 'b', content: 'broken' }], t.containersDone);
    t.finish(new Set(['b']));
    expect(await result).toEqual(new Map());
    expect(t.events.slice(2)).toEqual(['configtest failed', 'remove b', 'configtest ok', 'reload with a']);
  });

  it('with --apachectl none, the files of failed apps are put back and nothing is reloaded', async () => {
    const t = setup();
    const off = new ImmediateCommitter({ enabled: false, command: 'none', configtest: async () => ({ ok: true, output: '' }), reload: async () => { t.events.push('reload'); } }, t.vhosts, pino({ level: 'silent' }));
    const result = off.commit([{ app: 'a', content: 'A' }, { app: 'b', content: 'B' }], t.containersDone);
    t.finish(new Set(['b']));
    expect(await result).toEqual(new Map());
    expect(t.events).toEqual(['write a: A', 'write b: B', 'remove b']);
  });

  it('in the daemon, a batch writes its files only after the batch before it has reloaded', async () => {
    const t = setup();
    const clock = new ManualClock();
    const batching = new BatchingCommitter(t.committer, clock, 0);
    let finishSecond!: (failed: Set<string>) => void;
    const first = batching.commit([{ app: 'a', content: 'A' }], t.containersDone);
    clock.advance(0);
    await settle();
    const second = batching.commit([{ app: 'b', content: 'broken' }], new Promise((r) => (finishSecond = r)));
    clock.advance(0);
    await settle();
    // b's broken file is not on disk while a's transaction is open: it cannot fail a.
    expect(t.events).toEqual(['write a: A', 'configtest ok']);
    t.finish(new Set());
    expect(await first).toEqual(new Map());
    finishSecond(new Set());
    expect([...(await second).keys()]).toEqual(['b']);
    expect(t.events).toEqual(['write a: A', 'configtest ok', 'reload with a', 'write b: broken', 'configtest failed', 'remove b', 'configtest ok']);
  });
});
