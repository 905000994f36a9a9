import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { chromium, type Browser } from 'playwright-core';
import { printDaemonLogsOnFailure, startDaemon, stopDaemons, type Daemon } from '../support/daemon.js';
import { pageWith } from '../support/engine.js';
import { createWorld, eventually, webApp, type World } from '../support/world.js';

/** Debian's Chromium; a browser is never downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const MISSING_IMAGE = '127.0.0.1:5999/nope/missing:1';

describe('the status page in a browser', () => {
  printDaemonLogsOnFailure();
  let w: World;
  let d: Daemon;
  let browser: Browser;
  beforeAll(async () => {
    w = await createWorld();
    d = await startDaemon(w);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stopDaemons();
    await w?.cleanup();
  });

  it('lists every app with its state, and shows a failing app\'s error', async () => {
    const good = `${w.prefix}gallery`;
    const bad = `${w.prefix}broken`;
    await w.writeManifest('gallery.yaml', webApp(good, 'pictures', { extra: 'limits: { memory: 64m }\n' }));
    await w.writeManifest('broken.yaml', webApp(bad, 'never', { image: MISSING_IMAGE, extra: 'limits: { memory: 64m }\n' }));
    const port = Number(await eventually(async () => (await d.app(good))?.hostPort));
    await pageWith(port, 'pictures');
    await eventually(async () => ((await d.app(bad))?.failures ?? 0) >= 1);
    await eventually(async () => (await d.app(good))?.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));

    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`http://${d.listen}/`);
    const rows = page.locator('tbody tr[data-app]');
    expect((await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-app')))).sort()).toEqual([bad, good].sort());
    expect(await page.title()).toBe('hdactl: 2 apps');

    const goodRow = page.locator(`tr[data-app="${good}"]`);
    expect(await goodRow.innerText()).toContain('running');
    expect(await goodRow.innerText()).toContain(`http://${good}.hda.test/`);
    expect(await goodRow.innerText()).toContain('mem 64');
    expect(await page.locator('thead th').allInnerTexts()).toEqual(['App', 'State', 'URL', 'Host port', 'Image', 'Limits', 'Restarts', 'Last error']);
    expect(await goodRow.locator('td.port').innerText()).toBe(String(port));

    const badRow = page.locator(`tr[data-app="${bad}"]`);
    const badText = await badRow.innerText();
    expect(badText).toContain(MISSING_IMAGE);
    expect(badText).toMatch(/degraded|failing|back/i);
    expect(badText).toMatch(/next retry/i);

    expect(await page.locator('h2').first().innerText()).toMatch(/events/i);
    expect(await page.locator('body').innerText()).toContain('Engine reachable');
    await page.screenshot({ path: '/tmp/hdactl-page.png', fullPage: true });
    await page.close();
  });

  it('shows a manifest file that cannot be parsed, which names no app, above the apps, until it is fixed', async () => {
    const file = await w.writeManifest('typo.yaml', 'env: { MESSAGE: "unclosed\n');
    await eventually(async () => (await d.status()).problems.some((p) => p.file === file));
    const page = await browser.newPage();
    await page.goto(`http://${d.listen}/`);
    expect(await page.locator('h2').first().innerText()).toBe('Manifest problems');
    // The YAML parser may report the one typo more than once (the quote, then the map it leaves open).
    const items = await page.locator('ul.problems li').allInnerTexts();
    expect(items.length).toBeGreaterThan(0);
    for (const text of items) expect(text).toMatch(new RegExp(`^${file.replace(/[./]/g, '\\$&')}:\\d+:\\d+: YAML syntax: `));

    await rm(file);
    await eventually(async () => (await d.status()).problems.length === 0);
    await page.reload();
    expect(await page.locator('ul.problems').count()).toBe(0);
    expect(await page.locator('h2').first().innerText()).toMatch(/events/i);
    await page.close();
  });
});
