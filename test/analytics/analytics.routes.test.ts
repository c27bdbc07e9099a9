import { randomUUID } from 'node:crypto';
import { asc, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Environment, ProductType } from '../../src/apple/types.js';
import type { Database } from '../../src/db/client.js';
import { analyticsDaily, purchaseAnalytics, purchaseLinks, users } from '../../src/db/schema.js';
import type { PurchaseUpdate, StoredRenewal, StoredTransaction } from '../../src/purchases/purchase-update.js';
import { applyPurchaseUpdates } from '../../src/purchases/purchases.repository.js';
import { authHeader, TEST_ADMIN_KEY } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { wipe } from '../helpers/rows.js';

// A small shop, answers computed by hand (docs/analytics.md has the definitions). "Now" is
// Monday 2026-06-15 12:00 UTC. Every purchase goes through the write side
// (applyPurchaseUpdates, one update per notification), which keeps the analytics tables.
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
const day = (date: string) => new Date(date.length === 10 ? `${date}T00:00:00Z` : date);

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

function transaction(row: Row): StoredTransaction {
  return {
    transactionId: row.id,
    originalTransactionId: row.original,
    webOrderLineItemId: null,
    bundleId: 'com.example.app',
    productId: row.product ?? MONTHLY,
    subscriptionGroupIdentifier: null,
    productType: (row.type ?? 'Auto-Renewable Subscription') as ProductType,
    environment: (row.environment ?? 'Production') as Environment,
    purchaseDate: day(row.purchase),
    originalPurchaseDate: null,
    expiresDate: row.expires === null || row.expires === undefined ? null : day(row.expires),
    quantity: 1,
    ownershipType: 'PURCHASED',
    revocationDate: row.revoked === undefined ? null : day(row.revoked),
    revocationReason: row.revoked === undefined ? null : 0,
    isUpgraded: false,
    offerType: row.trial ? 1 : null,
    offerIdentifier: null,
    appAccountToken: null,
    storefront: 'USA',
    transactionReason: null,
    price: row.price,
    currency: row.currency ?? 'USD',
    offerDiscountType: row.trial ? 'FREE_TRIAL' : null,
    offerPeriod: null,
    revocationType: row.revoked === undefined ? null : 'REFUND_FULL',
    revocationPercentage: null,
    appTransactionId: null,
    // A refund is signed when it happens, after the purchase it revokes.
    signedDate: day(row.revoked ?? row.purchase),
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

/** Renewal info and status of a subscription whose billing Apple retries (with a grace period or without). */
function retrying(original: string, grace: Date | null, signed: Date): PurchaseUpdate {
  const renewal: StoredRenewal = {
    originalTransactionId: original,
    productId: MONTHLY,
    autoRenewProductId: MONTHLY,
    autoRenewStatus: 1,
    expirationIntent: 2,
    isInBillingRetryPeriod: true,
    gracePeriodExpiresDate: grace,
    renewalDate: null,
    priceIncreaseStatus: null,
    renewalPrice: null,
    renewalCurrency: null,
    offerType: null,
    offerIdentifier: null,
    offerDiscountType: null,
    offerPeriod: null,
    eligibleWinBackOfferIds: null,
    appTransactionId: null,
    signedDate: signed,
    environment: 'Production',
    source: 'v2',
  };
  return {
    transactions: [],
    renewal: { record: renewal, signedRenewalInfo: null },
    status: { originalTransactionId: original, appleStatus: grace === null ? 3 : 4, statusSignedDate: signed },
  };
}

/**
 * The scenario as notifications: one update per transaction, B's paid period first unrefunded
 * (as its DID_RENEW carried it) and again refunded (its REFUND), and E's and I's billing
 * retry (DID_FAIL_TO_RENEW).
 */
function scenario(): PurchaseUpdate[] {
  const one = (row: Row): PurchaseUpdate => ({ transactions: [{ record: transaction(row), signedTransaction: null }] });
  const b2 = ROWS.find((row) => row.id === 'b2')!;
  return [
    ...ROWS.map(one),
    one({ ...b2, revoked: undefined }),
    retrying('e', day('2026-06-20'), new Date('2026-06-10T01:00:00Z')),
    retrying('i', null, new Date('2026-06-12T01:00:00Z')),
  ];
}

async function deliver(db: Database, updates: readonly PurchaseUpdate[]) {
  for (const update of updates) {
    await db.transaction((tx) => applyPurchaseUpdates(tx, [update], { now }));
  }
}

async function seedUsers(db: Database) {
  await db.insert(users).values([...new Set(Object.values(OWNERS))].map((userId) => ({ userId, appAccountToken: randomUUID() })));
  await db
    .insert(purchaseLinks)
    .values(Object.entries(OWNERS).map(([originalTransactionId, userId]) => ({ originalTransactionId, userId, linkSource: 'transaction' })));
}

let seeded = false;
async function seed() {
  if (seeded) return;
  seeded = true;
  const db = harness.deps.database.db;
  await seedUsers(db);
  await deliver(db, scenario());
}

/** Both analytics tables, in a stable order, without their write times. */
async function analyticsTables(db: Database) {
  const rollup = await db
    .select()
    .from(analyticsDaily)
    .where(sql`${analyticsDaily.newSubscriptions} <> 0 or ${analyticsDaily.renewals} <> 0 or ${analyticsDaily.expirations} <> 0 or
      ${analyticsDaily.refunds} <> 0 or ${analyticsDaily.trialConversions} <> 0 or ${analyticsDaily.revenue} <> 0`)
    .orderBy(asc(analyticsDaily.day), asc(analyticsDaily.environment), asc(analyticsDaily.productId), asc(analyticsDaily.currency));
  const states = (await db.select().from(purchaseAnalytics).orderBy(asc(purchaseAnalytics.originalTransactionId))).map(({ updatedAt: _, ...row }) => row);
  return { rollup, states };
}

/** A deterministic shuffle (a seeded LCG), so a failure can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
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

  // Three orders of 30 notifications, each its own transaction: slow on a loaded machine (180 s).
  it('get the same tables and answers whichever order the notifications arrive in, however often', async () => {
    await seed();
    const db = harness.deps.database.db;
    const answers = async () => ({
      summary: (await get('/admin/analytics/summary')).json(),
      series: await Promise.all(
        ['new_subscriptions', 'renewals', 'expirations', 'refunds', 'trial_conversions', 'revenue'].map((metric) => series(`metric=${metric}&${Q2}`)),
      ),
    });
    const expected = { tables: await analyticsTables(db), answers: await answers() };
    expect(expected.tables.rollup.length).toBeGreaterThan(0);
    for (const order of [1, 2, 3]) {
      await wipe(db);
      await seedUsers(db);
      // Every notification delivered twice, in a shuffled order: the duplicates change nothing.
      await deliver(db, shuffled([...scenario(), ...scenario()], order));
      expect(await analyticsTables(db), `order ${order}`).toEqual(expected.tables);
      expect(await answers(), `order ${order}`).toEqual(expected.answers);
    }
  }, 180_000);

  it("rebuild from the stored purchases (the migration's back-fill) into exactly what the write side kept", async () => {
    await seed();
    const db = harness.deps.database.db;
    const kept = await analyticsTables(db);
    await db.delete(analyticsDaily);
    await db.delete(purchaseAnalytics);
    expect((await analyticsTables(db)).states).toEqual([]);
    await db.execute(sql`select analytics_rebuild()`);
    const rebuilt = await analyticsTables(db);
    expect(rebuilt.states).toEqual(kept.states);
    expect(rebuilt.rollup).toEqual(kept.rollup);
  });

  // Last: it adds a purchase the hand-computed answers above do not know.
  it('count at request time: a purchase written now counts at once, and stops counting when its period ends', async () => {
    await seed();
    const db = harness.deps.database.db;
    // J: Xcode, paid Jun 15 for an hour, linked to nobody.
    await deliver(db, [
      {
        transactions: [
          {
            record: transaction({ id: 'j', original: 'j', environment: 'Xcode', purchase: '2026-06-15T11:30:00Z', expires: '2026-06-15T12:30:00Z', price: 0 }),
            signedTransaction: null,
          },
        ],
      },
    ]);
    const counted = (await get('/admin/analytics/summary?environment=Xcode')).json();
    expect(counted).toMatchObject({ asOf: NOW.toISOString(), activeSubscriptions: { total: 1, byStatus: { active: 1 } } });
    // j belongs to no user: it counts as a subscription, not towards users holding an entitlement.
    expect(counted.activeEntitlements).toEqual({});
    now = new Date('2026-06-15T12:30:00Z');
    expect((await get('/admin/analytics/summary?environment=Xcode')).json().activeSubscriptions.total).toBe(0);
    // Its expiration counts today once its instant has passed (today's part comes from the state rows).
    const today = 'metric=expirations&from=2026-06-15T00:00:00Z&to=2026-06-16T00:00:00Z&interval=day&environment=Xcode';
    expect(values(await series(today))).toEqual([['2026-06-15', 1]]);
    now = new Date('2026-06-15T12:29:59Z');
    expect(values(await series(today))).toEqual([['2026-06-15', 0]]);
    now = new Date('2026-06-16T00:00:01Z');
    expect(values(await series(today))).toEqual([['2026-06-15', 1]]);
    now = NOW;
  });
});
