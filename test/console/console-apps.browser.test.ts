import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { TEST_ADMIN_KEY } from '../helpers/app.js';
import { createMultiAppTestApp, type MultiAppTestApp } from '../helpers/apps.js';
import { launchChromium, skipBrowserTests } from '../helpers/browser.js';
import { backendName } from '../helpers/database.js';

// The console's app switcher (issue 19, SPEC "Several apps"), in Debian's chromium on a
// listening service configured with three apps: the header offers them, and every admin call
// the page makes names the chosen one in X-App-Id. What each route then does with the app
// is the routes' own tests' business; here the console's side of the contract is checked.

const ARTIFACTS = path.join(projectRoot, 'test-artifacts', 'console');
const APP_ITEM = 'entitlements-console.app';

describe.skipIf(skipBrowserTests)(`the operator console with several apps (${backendName})`, () => {
  // Three apps, each with its data apart (test/helpers/apps.ts); rate limits off: each overview is seven admin calls, and this file loads a few.
  let t: MultiAppTestApp;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createMultiAppTestApp({
      apps: [
        { id: 'main', bundleId: 'com.example.main', apiKey: 'main-app-key-0123456789' },
        { id: 'kids', bundleId: 'com.example.kids', apiKey: 'kids-app-key-0123456789' },
        { id: 'photos', bundleId: 'com.example.photos', apiKey: 'photos-app-key-0123456789' },
      ],
      env: { RATE_LIMIT_API_PER_MINUTE: '0' },
    });
    origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A page that records every admin call with the X-App-Id it carried ('' for none), and every problem it reports. */
  async function open() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const calls: { path: string; app: string }[] = [];
    const problems: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith('/admin/')) calls.push({ path: url.pathname, app: request.headers()['x-app-id'] ?? '' });
    });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    return { page, calls, problems };
  }

  async function signIn(page: Page) {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Admin key').fill(TEST_ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  }

  const switcher = (page: Page) => page.getByLabel('App', { exact: true });
  const overviewLoaded = (page: Page) => page.locator('.stat', { hasText: 'Active subscriptions' }).waitFor();

  it('shows the apps in the header (at phone width too), acts for the first, and names it in X-App-Id on every admin call', { timeout: 60_000 }, async () => {
    const { page, calls, problems } = await open();
    await signIn(page);
    await overviewLoaded(page);
    expect(await switcher(page).locator('option').allTextContents()).toEqual(['main', 'kids', 'photos']);
    expect(await switcher(page).inputValue()).toBe('main');
    expect(await page.title()).toBe('Overview · main — Entitlements console');
    await page.screenshot({ path: path.join(ARTIFACTS, 'app-switcher.png') });

    // The apps are asked for without an app (the sign-in's check); everything else names one.
    expect(calls.filter((c) => c.path === '/admin/apps')).toEqual([{ path: '/admin/apps', app: '' }]);
    const pageCalls = calls.filter((c) => c.path !== '/admin/apps');
    expect(pageCalls.map((c) => c.path)).toContain('/admin/analytics/summary');
    expect(pageCalls.filter((c) => c.app !== 'main')).toEqual([]);

    // The switcher fits the header at phone width: nothing overflows sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await switcher(page).isVisible()).toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(ARTIFACTS, 'app-switcher-phone.png') });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("switching app reloads the page's data for it, on every page after, and is remembered for the next visit", { timeout: 60_000 }, async () => {
    const { page, calls, problems } = await open();
    await signIn(page);
    await overviewLoaded(page);

    calls.length = 0;
    await switcher(page).selectOption('kids');
    await expect.poll(() => calls.filter((c) => c.path === '/admin/analytics/summary').map((c) => c.app)).toEqual(['kids']);
    await overviewLoaded(page);
    expect(await page.title()).toBe('Overview · kids — Entitlements console');
    expect(await page.evaluate(`localStorage.getItem(${JSON.stringify(APP_ITEM)})`)).toBe('kids');

    await page.getByRole('link', { name: 'Deliveries' }).click();
    await expect.poll(() => calls.filter((c) => c.path === '/admin/events/deliveries').map((c) => c.app)).toEqual(['kids']);
    expect(await switcher(page).inputValue()).toBe('kids');
    expect(calls.filter((c) => c.path !== '/admin/apps' && c.app !== 'kids')).toEqual([]);

    // Reopened (same tab, still signed in): the apps asked for again, the choice kept.
    calls.length = 0;
    await page.reload();
    await page.getByRole('heading', { name: 'Event deliveries' }).waitFor();
    expect(await switcher(page).inputValue()).toBe('kids');
    await expect.poll(() => calls.filter((c) => c.path === '/admin/events/deliveries').map((c) => c.app)).toEqual(['kids']);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('falls back to the first app when the one remembered is no longer configured', { timeout: 60_000 }, async () => {
    const { page, calls, problems } = await open();
    await page.goto(`${origin}/console/`);
    await page.evaluate(`localStorage.setItem(${JSON.stringify(APP_ITEM)}, 'removed-app')`);
    await signIn(page);
    await overviewLoaded(page);
    expect(await switcher(page).inputValue()).toBe('main');
    expect(calls.filter((c) => c.path !== '/admin/apps').every((c) => c.app === 'main')).toBe(true);
    expect(calls.map((c) => c.app)).not.toContain('removed-app');
    expect(problems).toEqual([]);
    await page.close();
  });
});
