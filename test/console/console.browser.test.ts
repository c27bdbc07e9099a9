import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDeliveries, events } from '../../src/db/schema.js';
import { projectRoot } from '../../src/paths.js';
import { days, LIFETIME, MONTHLY, postTransaction, renewalPayload, transactionPayload, YEARLY } from '../entitlements/app-backend-fixtures.js';
import { TEST_ADMIN_KEY, TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { launchChromium, skipBrowserTests } from '../helpers/browser.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestApp, useTestPki } from '../helpers/fixtures.js';
import { signNotification } from '../helpers/pki.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// The operator console as an operator uses it: Debian's chromium, headless, on a listening
// service over a seeded database. Every request the page makes is recorded: nothing leaves
// the service's origin, the key never appears in a URL, and no CSP violation is reported.
// Screenshots of each page go to test-artifacts/console/ (gitignored).

const ARTIFACTS = path.join(projectRoot, 'test-artifacts', 'console');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';
const ORDER_ID = 'MK5TTTCONSOLE';

describe.skipIf(skipBrowserTests)(`the operator console in a real browser (${backendName})`, () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });
  const apple = useAppStoreApiDouble();
  const trusted = useTestPki();
  const t = useTestApp(() => ({
    pki: trusted.pki,
    // Rate limits off: the file's pages make more admin calls within a minute than one admin
    // key's 60 (each overview is seven); the limiter has tests of its own.
    env: { EVENTS_WEBHOOK_URLS: receiver.url, EVENTS_WEBHOOK_SECRET: SECRET, RATE_LIMIT_API_PER_MINUTE: '0' },
    overrides: { appStoreApi: apple.client({ timeoutMs: 2_000 }) },
  }));
  let browser: Browser;
  let origin: string;
  const now = Date.now();
  const alice = transactionPayload({
    transactionId: '8100',
    environment: 'Production',
    purchaseDate: now - days(40),
    originalPurchaseDate: now - days(40),
    expiresDate: now - days(10),
    price: 9990,
    currency: 'USD',
  });
  const aliceRenewal = transactionPayload({
    transactionId: '8101',
    originalTransactionId: '8100',
    environment: 'Production',
    purchaseDate: now - days(10),
    originalPurchaseDate: now - days(40),
    expiresDate: now + days(20),
    price: 9990,
    currency: 'USD',
  });

  const bob = transactionPayload({
    transactionId: '8200',
    environment: 'Production',
    purchaseDate: now - days(3),
    expiresDate: now + days(4),
    offerType: 1,
    offerDiscountType: 'FREE_TRIAL',
    price: 0,
    currency: 'USD',
  } as Parameters<typeof transactionPayload>[0]);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const seeds: [string, ReturnType<typeof transactionPayload>][] = [
      ['u-alice', alice],
      ['u-alice', aliceRenewal],
      ['u-bob', bob],
      [
        'u-carol',
        transactionPayload({
          transactionId: '8300',
          productId: YEARLY,
          environment: 'Production',
          purchaseDate: now - days(20),
          expiresDate: now + days(345),
          price: 89990,
          currency: 'EUR',
          revocationDate: now - days(5),
          revocationReason: 0,
        } as Parameters<typeof transactionPayload>[0]),
      ],
      [
        'u-dave',
        transactionPayload({
          transactionId: '8400',
          productId: LIFETIME,
          type: 'Non-Consumable',
          environment: 'Production',
          purchaseDate: now - days(15),
          expiresDate: undefined,
          price: 49990,
          currency: 'USD',
        }),
      ],
    ];
    for (const [userId, payload] of seeds) {
      const response = await postTransaction(t, userId, payload);
      expect(response.statusCode, response.body).toBe(200);
    }
    // Apple's word on alice's renewal, for the notification log.
    const renewed = await t.app.inject({
      method: 'POST',
      url: '/webhooks/apple/v2',
      payload: {
        signedPayload: signNotification(t.pki, {
          notificationType: 'DID_RENEW',
          bundleId: TEST_BUNDLE_ID,
          appAppleId: TEST_APP_APPLE_ID,
          environment: 'Production',
          signedDate: now - 60_000,
          transaction: aliceRenewal,
          renewalInfo: { originalTransactionId: '8100', productId: MONTHLY, autoRenewProductId: MONTHLY, signedDate: now - 60_000 },
        }),
      },
    });
    expect(renewed.statusCode, renewed.body).toBe(200);
    apple.double.reply('GET', `/inApps/v1/lookup/${ORDER_ID}`, { body: { status: 0, signedTransactions: [t.pki.sign(aliceRenewal)] } });
    origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** A page that records every request and every problem it reports. */
  async function open(viewport = { width: 1280, height: 900 }) {
    const page = await browser.newPage({ viewport });
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    return { page, requested, problems };
  }

  async function signIn(page: Page, key = TEST_ADMIN_KEY) {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Admin key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  it('serves the page without a key, under a CSP without unsafe-inline, and /console redirects to it', async () => {
    const response = await fetch(`${origin}/console/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style="/);
    const bare = await fetch(`${origin}/console`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([301, '/console/']);
  });

  it('refuses a wrong key and an app key, and keeps the operator on the sign-in form', { timeout: 60_000 }, async () => {
    const { page, problems } = await open();
    await signIn(page, 'not-a-key');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That key was refused');
    await signIn(page, TEST_API_KEY);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That key was refused');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot(page, 'sign-in-refused');
    // The refused attempts are the 401/403 answers the browser reports; nothing else.
    expect(problems.filter((text) => !/status of 40[13]/.test(text))).toEqual([]);
    await page.close();
  });

  it('signs in and shows the overview: summary numbers and a rendered chart', { timeout: 60_000 }, async () => {
    const { page, requested, problems } = await open();
    await signIn(page);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const activeSubscriptions = page.locator('.stat', { hasText: 'Active subscriptions' }).locator('.stat-value');
    // alice (renewed) and bob (trial) are active; carol's was refunded.
    expect(await activeSubscriptions.textContent()).toBe('2');
    // One app: no switcher, the title as it always was (the several-apps file has the rest).
    expect(await page.locator('#app-switcher').count()).toBe(0);
    expect(await page.title()).toBe('Overview — Entitlements console');
    await page.locator('.chart canvas').first().waitFor();
    const canvas = await page.locator('.chart canvas').first().boundingBox();
    expect(canvas?.width ?? 0).toBeGreaterThan(200);
    // The revenue chart: one series per currency, totals listed.
    await expect.poll(() => page.locator('.chart-card', { hasText: 'Gross revenue' }).locator('td').allTextContents()).toContain('USD');
    await shot(page, 'overview');

    // The period picker reloads the charts for another window.
    await page.getByLabel('Period', { exact: true }).selectOption('12m');
    await expect.poll(() => page.evaluate('location.hash')).toBe('#/overview?period=12m');
    await page.locator('.chart canvas').first().waitFor();

    expect(requested.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
    expect(requested.filter((url) => url.includes(TEST_ADMIN_KEY))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('finds a customer by order id and by user id and shows their timeline, notifications and events', { timeout: 60_000 }, async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Customer' }).click();
    await page.getByLabel('Find by').selectOption('order');
    await page.getByLabel('Value').fill(ORDER_ID);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('#customer-summary', { hasText: 'u-alice' }).waitFor();
    const timeline = page.locator('#timeline li');
    // Newest first: the link (made by the seeding, now), the renewal, the first purchase.
    await expect
      .poll(() => timeline.allInnerTexts())
      .toEqual([
        expect.stringContaining('Purchase 8100 linked'),
        expect.stringContaining(`Renewed ${MONTHLY} · $9.99`),
        expect.stringContaining(`Purchased ${MONTHLY} · $9.99`),
      ]);
    await page.locator('#customer-events details').first().waitFor();

    await page.getByLabel('Find by').selectOption('user');
    await page.getByLabel('Value').fill('u-carol');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('#customer-summary', { hasText: 'u-carol' }).waitFor();
    await expect.poll(() => page.locator('#timeline li').allInnerTexts()).toContainEqual(expect.stringContaining(`Refunded ${YEARLY}`));
    await shot(page, 'customer');

    await page.getByLabel('Find by').selectOption('transaction');
    await page.getByLabel('Value').fill('8101');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('#customer-summary', { hasText: 'u-alice' }).waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('grants a month after confirmation and shows the entitlement change', { timeout: 60_000 }, async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.goto(`${origin}/console/#/customer?kind=user&q=u-erin`);
    await page.locator('#customer-summary', { hasText: 'u-erin' }).waitFor();
    expect(await page.locator('#entitlements').textContent()).toContain('No entitlements');

    await page.getByLabel('Entitlement', { exact: true }).fill('pro');
    await page.getByLabel('For').selectOption('P1M');
    await page.getByLabel('Reason').fill('support ticket 42');
    await page.getByRole('button', { name: 'Grant…' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('for 1 month');
    await dialog.getByRole('button', { name: 'Grant', exact: true }).click();
    await expect.poll(() => dialog.textContent()).toContain('grantId');
    await shot(page, 'grant-confirmed');
    await dialog.getByRole('button', { name: 'Close' }).click();

    const row = page.locator('#entitlements tbody tr', { hasText: 'pro' });
    await expect.poll(() => row.locator('td').allTextContents()).toEqual(['pro', 'active', 'grant', '—', expect.any(String), '—', '—', '']);
    await page.locator('#grants').getByRole('button', { name: 'End now…' }).waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('refreshes a user from the App Store after confirmation and shows the entitlement change', { timeout: 60_000 }, async () => {
    // Apple's word now: bob turned auto-renewal off.
    const signedDate = Date.now();
    apple.double.reply('GET', '/inApps/v1/subscriptions/8200', {
      body: {
        environment: 'Production',
        bundleId: TEST_BUNDLE_ID,
        data: [
          {
            subscriptionGroupIdentifier: 'g1',
            lastTransactions: [
              {
                status: 1,
                originalTransactionId: '8200',
                signedTransactionInfo: t.pki.sign(bob),
                signedRenewalInfo: t.pki.sign(renewalPayload({ originalTransactionId: '8200', autoRenewStatus: 0, environment: 'Production', signedDate })),
              },
            ],
          },
        ],
      },
    });
    const { page, problems } = await open();
    await signIn(page);
    await page.goto(`${origin}/console/#/customer?kind=user&q=u-bob`);
    await page.locator('#customer-summary', { hasText: 'u-bob' }).waitFor();
    const renews = page.locator('#entitlements tbody tr').first().locator('td').nth(6);
    expect(await renews.textContent()).not.toBe('no');

    await page.getByRole('button', { name: 'Refresh from the App Store…' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('u-bob');
    await dialog.getByRole('button', { name: 'Refresh', exact: true }).click();
    await expect.poll(() => dialog.textContent()).toContain('"willRenew": false');
    await shot(page, 'refresh-confirmed');
    await dialog.getByRole('button', { name: 'Close' }).click();

    await expect.poll(() => page.locator('#entitlements tbody tr').first().locator('td').nth(6).textContent()).toBe('no');
    expect(apple.double.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toContain('/inApps/v1/subscriptions/8200');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('redelivers a failed event after confirmation', { timeout: 60_000 }, async () => {
    const db = t.deps.database.db;
    const [event] = await db.select({ seq: events.seq, id: events.id }).from(events).where(eq(events.userId, 'u-dave')).limit(1);
    expect(event).toBeDefined();
    // The delivery worker makes each event's delivery row and delivers it to the receiver.
    const deliveryRows = () => db.select({ status: eventDeliveries.status }).from(eventDeliveries).where(eq(eventDeliveries.eventSeq, event!.seq));
    await expect
      .poll(
        async () => {
          await t.app.eventDelivery!.tick();
          return (await deliveryRows()).length;
        },
        { timeout: 30_000 },
      )
      .toBe(1);
    // Given up after three days of failures, as the worker leaves a delivery.
    await db
      .update(eventDeliveries)
      .set({ status: 'failed', attempts: 12, lastStatus: 500, lastError: 'HTTP 500' })
      .where(inArray(eventDeliveries.eventSeq, [event!.seq]));

    const { page, problems } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    const row = page.locator('tr', { hasText: event!.id });
    await row.waitFor();
    await shot(page, 'deliveries');
    await row.getByRole('button', { name: 'Redeliver…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Redeliver', exact: true }).click();
    await expect.poll(() => dialog.textContent()).toContain('"deliveries": 1');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.locator('tr', { hasText: event!.id }).count()).toBe(0);
    expect((await deliveryRows())[0]?.status).not.toBe('failed');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the notification log, decoded on click, and the recovery page, and reads at phone width', { timeout: 120_000 }, async () => {
    const { page, problems } = await open({ width: 390, height: 844 });
    await signIn(page);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    await shot(page, 'overview-phone');
    // Nothing overflows sideways at phone width.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByRole('heading', { name: 'Notification log' }).waitFor();
    const entry = page.locator('.log details', { hasText: 'DID_RENEW' });
    // The type's text: the summary also holds a link to the customer.
    await entry.locator('summary strong').click();
    await expect.poll(() => entry.locator('pre').textContent()).toContain('"transactionId": "8101"');
    await shot(page, 'notifications');

    // A filter nothing matches says so.
    await page.getByLabel('Type').fill('REFUND');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('status').filter({ hasText: 'No notification matches these filters' }).waitFor();

    await page.getByRole('link', { name: 'Recovery' }).click();
    await page.getByRole('heading', { name: 'Run a window' }).waitFor();
    await page.locator('#recovery-runs').getByRole('status').filter({ hasText: 'No recovery run yet' }).waitFor();

    // A window run from the page is listed with its counts, as every run is.
    apple.double.reply('POST', '/inApps/v1/notifications/history', { body: { notificationHistory: [], hasMore: false } });
    await page.getByRole('button', { name: 'Recover…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Recover', exact: true }).click();
    await expect.poll(() => dialog.textContent()).toContain('"fetched": 0');
    await dialog.getByRole('button', { name: 'Close' }).click();
    const run = page.locator('#recovery-runs tbody tr');
    await expect.poll(() => run.count()).toBe(1);
    expect(await run.locator('td').allTextContents()).toEqual([
      expect.any(String),
      'Admin',
      expect.stringContaining('(failures only)'),
      'success',
      '0',
      '0',
      '0',
      '0',
      '',
    ]);
    // Dates in the browser's zone, the UTC instant on hover.
    expect(await run.locator('td time').first().getAttribute('title')).toMatch(/ UTC$/);
    await shot(page, 'recovery');
    expect(problems).toEqual([]);
    await page.close();
  });
});
