import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { purchaseLinks, subscriptions, transactions, users } from '../../src/db/schema.js';
import { authHeader, TEST_ADMIN_KEY } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

// A small shop, answers computed by hand (docs/analytics.md has the definitions). "Now" is
// Monday 2026-06-15 12:00 UTC.
//   A (ua): trial May 1-8, paid May 8 (9.99 USD), renewed Jun 8: active, converted May 8
//   B (ub): trial May 2-9, paid May 9 (8.99 EUR), refunded May 20: revoked, converted May 9
//   C (uc): trial Jun 10-17: active, in its trial
//   D (ud): paid Apr 1 (9.99 USD), never renewed: expired May 1
//   E (ue): paid May 10 (9.99 USD), ended Jun 10, billing retry with grace until Jun 20: grace_period
//   I (ui): paid May 12 (9.99 USD), ended Jun 12, billing retry without grace: billing_retry (not active)
//   F (uf): Sandbox, paid Jun 1 (0.99 USD): active in Sandbox
//   G (ua): lifetime, Mar 1 (49.99 USD); H (ub): a consumable, May 15 (19.90 USD)

const NOW = new Date('2026-06-15T12:00:00Z');
let now = NOW;
const harness = useTestApp({ clock: () => now });
const admin = authHeader(TEST_ADMIN_KEY);

const MONTHLY = 'com.example.pro.monthly';
const MONTHLY_EU = 'com.example.pro.monthly.eu';
const day = (date: string) => new Date(`${date}T00:00:00Z`);

interface Row {
  id: string;
  original: string;
  product?: string;
  type?: string;
  environment?: string;
  purchase: string;
  expires?: string | null;
  price: number;
  currency?: string;
  trial?: boolean;
  revoked?: string;
}

function transaction(row: Row): typeof transactions.$inferInsert {
  return {
    transactionId: row.id,
    originalTransactionId: row.original,
    bundleId: 'com.example.app',
    productId: row.product ?? MONTHLY,
    productType: row.type ?? 'Auto-Renewable Subscription',
    environment: row.environment ?? 'Production',
    purchaseDate: day(row.purchase),
    originalPurchaseDate: null,
    expiresDate: row.expires === null ? null : row.expires === undefined ? null : day(row.expires),
    offerType: row.trial ? 1 : null,
    offerDiscountType: row.trial ? 'FREE_TRIAL' : null,
    price: row.price,
    currency: row.currency ?? 'USD',
    revocationDate: row.revoked === undefined ? null : day(row.revoked),
    revocationType: row.revoked === undefined ? null : 'REFUND_FULL',
    revocationReason: row.revoked === undefined ? null : 0,
    signedDate: day(row.purchase),
    source: 'v2',
  };
}

const ROWS: Row[] = [
  { id: 'a', original: 'a', purchase: '2026-05-01', expires: '2026-05-08', price: 0, trial: true },
  { id: 'a2', original: 'a', purchase: '2026-05-08', expires: '2026-06-08', price: 9990 },
  { id: 'a3', original: 'a', purchase: '2026-06-08', expires: '2026-07-08', price: 9990 },
  { id: 'b', original: 'b', product: MONTHLY_EU, purchase: '2026-05-02', expires: '2026-05-09', price: 0, currency: 'EUR', trial: true },
  { id: 'b2', original: 'b', product: MONTHLY_EU, purchase: '2026-05-09', expires: '2026-06-09', price: 8990, currency: 'EUR', revoked: '2026-05-20' },
  { id: 'c', original: 'c', purchase: '2026-06-10', expires: '2026-06-17', price: 0, trial: true },
  { id: 'd', original: 'd', purchase: '2026-04-01', expires: '2026-05-01', price: 9990 },
  { id: 'e', original: 'e', purchase: '2026-05-10', expires: '2026-06-10', price: 9990 },
  { id: 'i', original: 'i', purchase: '2026-05-12', expires: '2026-06-12', price: 9990 },
  { id: 'f', original: 'f', environment: 'Sandbox', purchase: '2026-06-01', expires: '2026-07-01', price: 990 },
  { id: 'g', original: 'g', product: 'com.example.lifetime', type: 'Non-Consumable', purchase: '2026-03-01', price: 49990 },
  { id: 'h', original: 'h', product: 'com.example.coins', type: 'Consumable', purchase: '2026-05-15', price: 19900 },
];
const OWNERS: Record<string, string> = { a: 'ua', b: 'ub', c: 'uc', d: 'ud', e: 'ue', i: 'ui', f: 'uf', g: 'ua', h: 'ub' };

function retrying(original: string, grace: Date | null, signed: Date): typeof subscriptions.$inferInsert {
  return {
    originalTransactionId: original,
    environment: 'Production',
    productId: MONTHLY,
    autoRenewProductId: MONTHLY,
    autoRenewStatus: 1,
    isInBillingRetryPeriod: true,
    gracePeriodExpiresDate: grace,
    renewalSignedDate: signed,
    renewalSource: 'v2',
    appleStatus: grace === null ? 3 : 4,
    statusSignedDate: signed,
  };
}

let seeded = false;
async function seed() {
  if (seeded) return;
  seeded = true;
  const db = harness.deps.database.db;
  await db.insert(users).values([...new Set(Object.values(OWNERS))].map((userId) => ({ userId, appAccountToken: randomUUID() })));
  await db
    .insert(purchaseLinks)
    .values(Object.entries(OWNERS).map(([originalTransactionId, userId]) => ({ originalTransactionId, userId, linkSource: 'transaction' })));
  await db.insert(transactions).values(ROWS.map(transaction));
  await db
    .insert(subscriptions)
    .values([retrying('e', day('2026-06-20'), new Date('2026-06-10T01:00:00Z')), retrying('i', null, new Date('2026-06-12T01:00:00Z'))]);
}

async function get(url: string, headers: Record<string, string> = admin) {
  await seed();
  return harness.app.inject({ method: 'GET', url, headers });
}

async function series(query: string) {
  const response = await get(`/admin/analytics/timeseries?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as { metric: string; interval: string; points: Array<{ start: string; value?: number; byCurrency?: Record<string, number> }> };
}

const values = (answer: Awaited<ReturnType<typeof series>>) => answer.points.map((p) => [p.start.slice(0, 10), p.value]);
const Q2 = 'from=2026-04-01T00:00:00Z&to=2026-07-01T00:00:00Z&interval=month';

describe(`analytics routes (${backendName})`, () => {
  it('refuse requests without a key (401) and with an app key (403)', async () => {
    expect((await get('/admin/analytics/summary', {})).statusCode).toBe(401);
    expect((await get('/admin/analytics/summary', authHeader())).statusCode).toBe(403);
    const forbidden = await get(`/admin/analytics/timeseries?metric=renewals&${Q2}`, authHeader());
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe('FORBIDDEN');
  });

  it('count active subscriptions one per purchase, active and grace period only, by product, status and period type', async () => {
    const response = await get('/admin/analytics/summary');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      asOf: NOW.toISOString(),
      // A, C, E and F: B is refunded, D expired, I in billing retry without grace.
      activeSubscriptions: {
        total: 4,
        byProduct: { [MONTHLY]: 4 },
        byStatus: { active: 3, grace_period: 1 },
        byPeriodType: { normal: 3, trial: 1 },
      },
      activeEntitlements: { 'com.example.lifetime': 1, [MONTHLY]: 4 },
    });
  });

  it('filter the summary by environment', async () => {
    const response = await get('/admin/analytics/summary?environment=Production');
    expect(response.json()).toMatchObject({
      activeSubscriptions: { total: 3, byProduct: { [MONTHLY]: 3 }, byStatus: { active: 2, grace_period: 1 }, byPeriodType: { normal: 2, trial: 1 } },
      activeEntitlements: { 'com.example.lifetime': 1, [MONTHLY]: 3 },
    });
  });

  it('keep the summary under a minute old, counting again in the background past half a minute', async () => {
    await get('/admin/analytics/summary');
    await harness.deps.database.db
      .insert(transactions)
      .values(transaction({ id: 'j', original: 'j', purchase: '2026-06-15', expires: '2026-07-15', price: 9990 }));
    now = new Date(NOW.getTime() + 20_000);
    const kept = (await get('/admin/analytics/summary')).json();
    expect(kept.asOf).toBe(NOW.toISOString());
    expect(kept.activeSubscriptions.total).toBe(4);
    // Past half a minute: still the kept answer, and a new count starts meanwhile.
    now = new Date(NOW.getTime() + 40_000);
    expect((await get('/admin/analytics/summary')).json()).toMatchObject({ asOf: NOW.toISOString(), activeSubscriptions: { total: 4 } });
    now = new Date(NOW.getTime() + 61_000);
    const recounted = (await get('/admin/analytics/summary')).json();
    expect(recounted.asOf).toBe(new Date(NOW.getTime() + 40_000).toISOString());
    expect(recounted.activeSubscriptions.total).toBe(5);
    // j belongs to no user: it counts as a subscription, not towards users holding an entitlement.
    expect(recounted.activeEntitlements[MONTHLY]).toBe(4);
    await harness.deps.database.db.delete(transactions).where(eq(transactions.transactionId, 'j'));
    now = NOW;
  });

  it('count new subscriptions (first transactions, trials included) per month and environment', async () => {
    expect(values(await series(`metric=new_subscriptions&${Q2}&environment=Production`))).toEqual([
      ['2026-04-01', 1],
      ['2026-05-01', 4],
      ['2026-06-01', 1],
    ]);
    expect(values(await series(`metric=new_subscriptions&${Q2}`))).toEqual([
      ['2026-04-01', 1],
      ['2026-05-01', 4],
      ['2026-06-01', 2],
    ]);
  });

  it('bucket weeks from Monday 00:00 UTC, counting only from `from` on', async () => {
    const answer = await series('metric=new_subscriptions&from=2026-04-29T00:00:00Z&to=2026-05-18T00:00:00Z&interval=week');
    expect(answer.interval).toBe('week');
    // A (Fri May 1) and B (Sat May 2) in the week of Mon Apr 27; E (Sun May 10) in the next; I (Tue May 12) after.
    expect(values(answer)).toEqual([
      ['2026-04-27', 2],
      ['2026-05-04', 1],
      ['2026-05-11', 1],
    ]);
    const later = await series('metric=new_subscriptions&from=2026-05-02T00:00:00Z&to=2026-05-04T00:00:00Z&interval=week');
    expect(values(later)).toEqual([['2026-04-27', 1]]);
  });

  it('count renewals, refunds and trial conversions', async () => {
    expect(values(await series(`metric=renewals&${Q2}`))).toEqual([
      ['2026-04-01', 0],
      ['2026-05-01', 2],
      ['2026-06-01', 1],
    ]);
    expect(values(await series(`metric=refunds&${Q2}`))).toEqual([
      ['2026-04-01', 0],
      ['2026-05-01', 1],
      ['2026-06-01', 0],
    ]);
    expect(values(await series(`metric=trial_conversions&${Q2}`))).toEqual([
      ['2026-04-01', 0],
      ['2026-05-01', 2],
      ['2026-06-01', 0],
    ]);
    const daily = await series('metric=trial_conversions&from=2026-05-07T00:00:00Z&to=2026-05-11T00:00:00Z&interval=day');
    expect(values(daily)).toEqual([
      ['2026-05-07', 0],
      ['2026-05-08', 1],
      ['2026-05-09', 1],
      ['2026-05-10', 0],
    ]);
  });

  it('count expirations of subscriptions nothing continued, up to now (a refunded one is a refund instead)', async () => {
    // D on May 1; E (grace period) on Jun 10 and I on Jun 12; C's trial ends after now.
    expect(values(await series(`metric=expirations&${Q2}`))).toEqual([
      ['2026-04-01', 0],
      ['2026-05-01', 1],
      ['2026-06-01', 2],
    ]);
  });

  it('sum gross revenue per currency on the purchase date, every product type, refunds not deducted', async () => {
    const answer = await series(`metric=revenue&${Q2}`);
    expect(answer.points).toEqual([
      { start: '2026-04-01T00:00:00.000Z', byCurrency: { USD: 9.99 } },
      // A 9.99 + E 9.99 + I 9.99 + the consumable 19.90 (trials at 0); B 8.99 EUR though refunded.
      { start: '2026-05-01T00:00:00.000Z', byCurrency: { EUR: 8.99, USD: 49.87 } },
      { start: '2026-06-01T00:00:00.000Z', byCurrency: { USD: 10.98 } },
    ]);
    const production = await series(`metric=revenue&${Q2}&environment=Production`);
    expect(production.points[2]).toEqual({ start: '2026-06-01T00:00:00.000Z', byCurrency: { USD: 9.99 } });
  });

  it('refuse bad parameters with a 400 naming the field', async () => {
    const cases: Array<[string, string, string]> = [
      [`metric=signups&${Q2}`, 'VALIDATION_ERROR', 'metric'],
      ['metric=renewals&from=2026-04-01T00:00:00Z&to=2026-07-01T00:00:00Z&interval=year', 'VALIDATION_ERROR', 'interval'],
      [`metric=renewals&${Q2}&environment=Prod`, 'VALIDATION_ERROR', 'environment'],
      ['metric=renewals&to=2026-07-01T00:00:00Z&interval=day', 'VALIDATION_ERROR', 'from'],
      ['metric=renewals&from=2026-04-01&to=2026-07-01T00:00:00Z&interval=day', 'INVALID_DATE', 'from'],
      ['metric=renewals&from=2026-04-01T00:00:00Z&to=yesterday&interval=day', 'INVALID_DATE', 'to'],
      ['metric=renewals&from=2026-07-01T00:00:00Z&to=2026-07-01T00:00:00Z&interval=day', 'INVALID_RANGE', 'from'],
      ['metric=renewals&from=2020-01-01T00:00:00Z&to=2026-07-01T00:00:00Z&interval=day', 'TOO_MANY_BUCKETS', 'buckets'],
    ];
    for (const [query, code, field] of cases) {
      const response = await get(`/admin/analytics/timeseries?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code, query).toBe(code);
      expect(response.json().error.message, query).toContain(field);
    }
    const summary = await get('/admin/analytics/summary?environment=prod');
    expect(summary.statusCode).toBe(400);
    expect(summary.json().error.message).toContain('environment');
  });

  it('accept six years of months (under the bucket cap)', async () => {
    const answer = await series('metric=refunds&from=2020-01-01T00:00:00Z&to=2026-07-01T00:00:00Z&interval=month');
    expect(answer.points).toHaveLength(78);
  });
});
