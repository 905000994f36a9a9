import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const SCENARIOS = ['converge', 'noop', 'planCalls', 'change', 'limits', 'footprint', 'reaction'];

// The benchmark suite is code too: its quick mode must keep running end to end
// against the real Engine. Times are not checked here; bench/RESULTS.md has them.
describe('the benchmark suite in quick mode', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs every scenario, prints the table and writes its JSON', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hdactl-bench-test-'));
    const out = path.join(dir, 'latest.json');
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('node', [path.join(ROOT, 'bench/run.mjs'), '--quick', '--out', out], { cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    expect(r.stdout).toContain('| Scenario | hdactl | median (runs) | against | median (runs) | hdactl ÷ against | Target | Result |');
    const json = JSON.parse(await readFile(out, 'utf8')) as { quick: boolean; scenarios: Record<string, { error?: string }>; errors: string[] };
    expect(json.quick).toBe(true);
    for (const s of SCENARIOS) {
      expect(json.scenarios[s], s).toBeDefined();
      expect(json.scenarios[s]!.error, s).toBeUndefined();
    }
    expect(json.errors).toEqual([]);
  }, 600_000);
});
