import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from '../helpers/browser.js';
import { useTestApp } from '../helpers/fixtures.js';

// GET /docs as a person sees it: Debian's chromium, headless, opening the page served
// by a listening service. Every request the page makes is recorded.

// Every route of SPEC.md, as the page lists them.
const SPEC_ROUTES = [
  'POST /webhooks/apple/v2',
  'POST /webhooks/apple/v1',
  'GET /entitlements/{userId}',
  'GET /users/{userId}/app-account-token',
  'POST /users/{userId}/transactions',
  'POST /users/{userId}/receipts',
  'GET /users/{userId}/transactions',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /admin/notifications/recover',
  'POST /admin/notifications/test',
  'GET /admin/notifications/test/{token}',
];

describe('the API reference page at /docs in a real browser', () => {
  const t = useTestApp();
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    expect(chromiumPath, 'chromium is on PATH (apt-get install chromium; .ci/run installs it)').not.toBe('');
    origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('lists every route, makes no request outside the service and breaks no policy', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    const response = await page.goto(`${origin}/docs`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('App Store Entitlements — API reference');

    const listed = (await page.locator('nav a').allInnerTexts()).map((text) => text.trim());
    expect(SPEC_ROUTES.filter((route) => !listed.includes(route))).toEqual([]);
    // The inline style applied under the page's own CSP (a blocked style would leave the default).
    expect(await page.evaluate("getComputedStyle(document.querySelector('.method.get')).color")).toBe('rgb(255, 255, 255)');

    // Following a link to a route's section stays on the page.
    await page.locator('nav a', { hasText: 'GET /entitlements/{userId}' }).click();
    await expect.poll(() => page.evaluate('location.hash')).toBe('#get--entitlements-userId-');

    expect(requested.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('links the OpenAPI document, which the browser can fetch as JSON', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/docs`);
    const href = await page.locator('header a').getAttribute('href');
    expect(href).toBe('/docs/openapi.json');
    const response = await page.goto(`${origin}${href}`);
    expect(response?.headers()['content-type']).toMatch(/^application\/json/);
    const served = (await response?.json()) as { openapi: string } | undefined;
    expect(served?.openapi).toMatch(/^3\./);
    await page.close();
  });
});
