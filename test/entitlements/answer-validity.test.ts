import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Environment, ProductType } from '../../src/apple/types.js';
import { answerChangeInstants, validityAt } from '../../src/entitlements/answer-validity.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import type { EntitlementPeriod, PurchaseRecords } from '../../src/entitlements/entitlements.model.js';
import type { UserRecords } from '../../src/entitlements/entitlements.repository.js';
import { createEntitlementsUsecase, type EntitlementsUsecase, type KeptAnswer } from '../../src/entitlements/entitlements.usecase.js';
import { createRecordsCache } from '../../src/entitlements/records-cache.js';
import type { GrantRecord } from '../../src/entitlements/sources.model.js';
import { BILLING_RETRY_MAX_MS } from '../../src/entitlements/state.model.js';

// The use case keeps a cached user's answer, not the records it came from, and hands it
// out again until the clock reaches an instant at which it may change (answer-validity.ts),
// then reads the user again. The property: over random records, whatever instants the
// clock visits, in whatever order (backwards too), the kept answer is the one a fresh
// evaluation gives at that instant.
// The instants visited include every one of the records' instants, a millisecond either
// side, and the same plus the 60 days of billing retry: where the answer flips.

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1, 10);
const MONTHLY = 'com.example.pro.monthly';
const YEARLY = 'com.example.pro.yearly';
const SEASON = 'com.example.season';
const LIFETIME = 'com.example.lifetime';

const map = parseEntitlementsFile(
  JSON.stringify({
    entitlements: { pro: [MONTHLY, YEARLY, SEASON, LIFETIME], season: [SEASON], forever: [LIFETIME] },
    products: { [SEASON]: { type: 'Non-Renewing Subscription', duration: 'P1M' } },
    appPurchase: { entitlement: 'pro', beforeVersion: '2.0' },
  }),
);

// Instants on a coarse grid, so that records share instants and land on each other's.
const instant = fc.integer({ min: -3, max: 120 }).map((days) => new Date(T0 + days * DAY));
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });

const product = fc.constantFrom<[string, ProductType]>(
  [MONTHLY, 'Auto-Renewable Subscription'],
  [YEARLY, 'Auto-Renewable Subscription'],
  [SEASON, 'Non-Renewing Subscription'],
  [LIFETIME, 'Non-Consumable'],
);

const period = (originalTransactionId: string, environment: Environment, [productId, productType]: [string, ProductType]) =>
  fc
    .record({
      id: fc.integer({ min: 1, max: 9 }),
      purchaseDate: instant,
      length: fc.option(fc.integer({ min: 1, max: 60 }), { nil: null, freq: 2 }),
      revocationDate: maybe(instant),
      isUpgraded: fc.boolean(),
      signedLag: fc.integer({ min: -2, max: 3 }),
      offerType: maybe(fc.constantFrom(1, 2, 3)),
    })
    .map(
      (p): EntitlementPeriod => ({
        transactionId: `${originalTransactionId}-${p.id}`,
        originalTransactionId,
        productId,
        productType,
        environment,
        purchaseDate: p.purchaseDate,
        originalPurchaseDate: null as unknown as Date,
        expiresDate:
          productType === 'Auto-Renewable Subscription'
            ? new Date(p.purchaseDate.getTime() + (p.length ?? 30) * DAY)
            : p.length === null
              ? null
              : new Date(p.purchaseDate.getTime() + p.length * DAY),
        ownershipType: 'PURCHASED',
        revocationDate: p.revocationDate,
        isUpgraded: p.isUpgraded,
        appAccountToken: null,
        signedDate: new Date(p.purchaseDate.getTime() + p.signedLag * DAY),
        offerType: p.offerType,
        offerDiscountType: null,
        offerIdentifier: null,
        price: 4990,
        currency: 'USD',
        revocationReason: p.revocationDate === null ? null : 0,
        revocationType: null,
        revocationPercentage: null,
      }),
    );

const purchase = (n: number) =>
  fc.tuple(product, fc.constantFrom<Environment>('Production', 'Sandbox')).chain(([kind, environment]) => {
    const originalTransactionId = `p${n}`;
    return fc
      .record({
        transactions: fc.array(period(originalTransactionId, environment, kind), { minLength: 1, maxLength: 4 }),
        renewal: fc.option(
          fc.record({
            autoRenewStatus: fc.constantFrom(0, 1, null),
            isInBillingRetryPeriod: fc.constantFrom(true, false, null),
            gracePeriodExpiresDate: maybe(instant),
            signedDate: instant,
            renewalDate: maybe(instant),
          }),
          { nil: undefined },
        ),
        status: fc.option(fc.record({ appleStatus: fc.constantFrom(1, 2, 3, 4, 5, null), statusSignedDate: instant }), { nil: undefined }),
        updatedAt: instant,
      })
      .map(
        (r): PurchaseRecords => ({
          originalTransactionId,
          // One id per transaction, as the database keeps them.
          transactions: [...new Map(r.transactions.map((t) => [t.transactionId, t])).values()],
          renewal:
            r.renewal === undefined
              ? undefined
              : {
                  autoRenewProductId: kind[0],
                  autoRenewStatus: r.renewal.autoRenewStatus,
                  isInBillingRetryPeriod: r.renewal.isInBillingRetryPeriod,
                  gracePeriodExpiresDate: r.renewal.gracePeriodExpiresDate,
                  signedDate: r.renewal.signedDate,
                },
          renewalTerms:
            r.renewal === undefined
              ? undefined
              : { renewalPrice: 4990, renewalCurrency: 'USD', renewalDate: r.renewal.renewalDate, expirationIntent: null, priceIncreaseStatus: null },
          status: r.status === undefined ? undefined : { originalTransactionId, ...r.status },
          updatedAt: r.updatedAt,
        }),
      );
  });

const grant = (n: number) =>
  fc.record({ entitlement: fc.constantFrom('pro', 'season', 'extra'), startsAt: instant, days: fc.integer({ min: 1, max: 60 }), endedAt: maybe(instant) }).map(
    (g): GrantRecord => ({
      grantId: `g${n}`,
      entitlement: g.entitlement,
      startsAt: g.startsAt,
      expiresDate: new Date(g.startsAt.getTime() + g.days * DAY),
      endedAt: g.endedAt,
      updatedAt: g.startsAt,
    }),
  );

const userRecords: fc.Arbitrary<UserRecords> = fc
  .record({
    purchases: fc.integer({ min: 0, max: 3 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => purchase(i)))),
    grants: fc.integer({ min: 0, max: 2 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => grant(i)))),
    appTransaction: fc.option(
      fc.record({
        environment: fc.constantFrom<Environment>('Production', 'Sandbox'),
        originalApplicationVersion: fc.constantFrom('1.5', '2.0', null),
        originalPurchaseDate: maybe(instant),
        updatedAt: instant,
      }),
      { nil: null },
    ),
  })
  .map((r) => ({ purchases: [...r.purchases], grants: [...r.grants], appTransaction: r.appTransaction }));

const silent = pino({ level: 'silent' });

/** With `cached`, answers are kept as the service keeps them (its cache, every user held). */
function usecaseOver(records: () => UserRecords, clock: () => Date, cached = true): EntitlementsUsecase {
  return createEntitlementsUsecase({
    repository: { recordsOfUser: async () => records() },
    ...(cached ? { cache: createRecordsCache<KeptAnswer>({ maxEntries: 10, serving: true }) } : {}),
    entitlementMap: map,
    clock,
    logger: silent,
    refresh: null,
  });
}

/**
 * The instants the clock visits: every day of the grid (where the records' own instants
 * and the catalog's month ends fall) and the same plus the days of billing retry, each
 * also a millisecond either side, and the instants the code under test names.
 */
function visits(records: UserRecords): number[] {
  const times = new Set<number>();
  const near = (time: number) => {
    for (const delta of [-1, 0, 1]) times.add(time + delta);
  };
  for (let day = -4; day <= 125; day++) {
    near(T0 + day * DAY);
    near(T0 + day * DAY + BILLING_RETRY_MAX_MS);
  }
  for (const instant of answerChangeInstants(records, (id) => map.durationOf(id))) near(instant);
  return [...times];
}

describe('the kept entitlement answer', () => {
  it('is, at every instant the clock visits, the answer a fresh evaluation gives', async () => {
    await fc.assert(
      fc.asyncProperty(
        userRecords.chain((records) =>
          fc.tuple(
            fc.constant(records),
            fc.shuffledSubarray(visits(records), { minLength: visits(records).length }),
            fc.constantFrom<Environment | undefined>(undefined, 'Production', 'Sandbox'),
          ),
        ),
        async ([records, times, environment]) => {
          let now = 0;
          const kept = usecaseOver(
            () => records,
            () => new Date(now),
          );
          // No cache, a copy per read: nothing is kept, every answer is computed at its instant.
          const fresh = usecaseOver(
            () => structuredClone(records),
            () => new Date(now),
            false,
          );
          for (const time of times) {
            now = time;
            const options = environment === undefined ? {} : { environment };
            const [answer, expected] = await Promise.all([kept.entitlementsOf('u-1', options), fresh.entitlementsOf('u-1', options)]);
            expect(answer).toEqual(expected);
          }
        },
      ),
      { numRuns: 80 },
    );
    // Each run visits some 800 instants twice over: long on a loaded machine.
  }, 120_000);

  it('is computed again once the clock reaches the next instant, and not before', async () => {
    const expires = new Date(T0 + 30 * DAY);
    const records: UserRecords = {
      purchases: [],
      grants: [{ grantId: 'g1', entitlement: 'pro', startsAt: new Date(T0), expiresDate: expires, endedAt: null, updatedAt: new Date(T0) }],
      appTransaction: null,
    };
    let now = T0 + DAY;
    const usecase = usecaseOver(
      () => records,
      () => new Date(now),
    );
    const first = await usecase.entitlementsOf('u-1');
    now = expires.getTime() - 1;
    const again = await usecase.entitlementsOf('u-1');
    // The same answer object: nothing was computed again.
    expect(again.entitlements).toBe(first.entitlements);
    expect(again.entitlements[0]).toMatchObject({ active: true, status: 'active' });
    now = expires.getTime();
    const after = await usecase.entitlementsOf('u-1');
    expect(after.entitlements).not.toBe(first.entitlements);
    expect(after.entitlements[0]).toMatchObject({ active: false, status: 'expired' });
    // Kept answers are shared by every caller: frozen, so none can change them for the next.
    expect(Object.isFrozen(again.entitlements)).toBe(true);
    expect(Object.isFrozen(again.entitlements[0])).toBe(true);
  });
  it('keeps none of the records it was computed from (a cached user costs its answer, not its rows)', async () => {
    /** Every array and plain object reachable from `value`, but the catalog (shared by every answer). */
    const reachable = (value: unknown, into = new Set<object>()): Set<object> => {
      if (value === null || typeof value !== 'object' || value instanceof Date || into.has(value) || value === map) return into;
      into.add(value);
      for (const item of Object.values(value)) reachable(item, into);
      return into;
    };
    await fc.assert(
      fc.asyncProperty(userRecords, fc.constantFrom<Environment | undefined>(undefined, 'Production'), async (records, environment) => {
        const cache = createRecordsCache<KeptAnswer>({ maxEntries: 10, serving: true });
        const usecase = createEntitlementsUsecase({
          repository: { recordsOfUser: async () => records },
          cache,
          entitlementMap: map,
          clock: () => new Date(T0),
          logger: silent,
          refresh: null,
        });
        const { entitlements } = await usecase.entitlementsOf('u-1', environment === undefined ? {} : { environment });
        const kept = await cache.read('u-1', () => Promise.reject(new Error('the user is not kept')));
        expect(kept.views).toBe(entitlements);
        const theirs = reachable(records);
        for (const object of reachable(kept)) expect(theirs.has(object)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('reads the user again for another environment filter, and keeps the answer last read', async () => {
    const loads = { count: 0 };
    const records: UserRecords = {
      purchases: [],
      grants: [],
      appTransaction: { environment: 'Sandbox', originalApplicationVersion: '1.5', originalPurchaseDate: null, updatedAt: new Date(T0) },
    };
    const usecase = createEntitlementsUsecase({
      repository: {
        recordsOfUser: async () => {
          loads.count++;
          return records;
        },
      },
      cache: createRecordsCache<KeptAnswer>({ maxEntries: 10, serving: true }),
      entitlementMap: map,
      clock: () => new Date(T0),
      logger: silent,
      refresh: null,
    });
    expect((await usecase.entitlementsOf('u-1')).entitlements.map((view) => view.entitlement)).toEqual(['pro']);
    expect(await usecase.entitlementsOf('u-1')).toMatchObject({ entitlements: [{ entitlement: 'pro' }] });
    expect(loads.count).toBe(1);
    // The app purchase counts under its own environment only.
    expect((await usecase.entitlementsOf('u-1', { environment: 'Production' })).entitlements).toEqual([]);
    expect(loads.count).toBe(2);
    expect((await usecase.entitlementsOf('u-1', { environment: 'Production' })).entitlements).toEqual([]);
    expect(loads.count).toBe(2);
  });

  it('ends at the catalog end of a non-renewing subscription sold without one', async () => {
    const purchaseDate = new Date(T0);
    const records: UserRecords = {
      purchases: [
        {
          originalTransactionId: 's1',
          transactions: [
            {
              transactionId: 's1',
              originalTransactionId: 's1',
              productId: SEASON,
              productType: 'Non-Renewing Subscription',
              environment: 'Production',
              purchaseDate,
              originalPurchaseDate: purchaseDate,
              expiresDate: null,
              ownershipType: 'PURCHASED',
              revocationDate: null,
              isUpgraded: false,
              appAccountToken: null,
              signedDate: purchaseDate,
              offerType: null,
              offerDiscountType: null,
              offerIdentifier: null,
              price: null,
              currency: null,
              revocationReason: null,
              revocationType: null,
              revocationPercentage: null,
            },
          ],
          renewal: undefined,
          renewalTerms: undefined,
          status: undefined,
          updatedAt: purchaseDate,
        },
      ],
      grants: [],
      appTransaction: null,
    };
    // P1M from 2026-01-01T10:00Z.
    const end = Date.UTC(2026, 1, 1, 10);
    let now = T0 + DAY;
    const usecase = usecaseOver(
      () => records,
      () => new Date(now),
    );
    await usecase.entitlementsOf('u-1');
    now = end - 1;
    expect((await usecase.entitlementsOf('u-1')).entitlements.map((view) => view.status)).toEqual(['active', 'active']);
    now = end;
    expect((await usecase.entitlementsOf('u-1')).entitlements.map((view) => view.status)).toEqual(['expired', 'expired']);
  });
});

describe('validityAt', () => {
  it('is the interval between the last instant at or before now and the first after it', () => {
    expect(validityAt([10, 20, 30], 20)).toEqual({ from: 20, until: 30 });
    expect(validityAt([10, 20, 30], 19)).toEqual({ from: 10, until: 20 });
    expect(validityAt([10, 20, 30], 5)).toEqual({ from: -Infinity, until: 10 });
    expect(validityAt([10, 20, 30], 30)).toEqual({ from: 30, until: Infinity });
    expect(validityAt([], 30)).toEqual({ from: -Infinity, until: Infinity });
  });

  it('takes each instant of the records also plus the days of billing retry', () => {
    const records: UserRecords = {
      purchases: [],
      grants: [],
      appTransaction: { environment: 'Production', originalApplicationVersion: '1.0', originalPurchaseDate: null, updatedAt: new Date(T0) },
    };
    expect(answerChangeInstants(records, () => null).sort((a, b) => a - b)).toEqual([T0, T0 + BILLING_RETRY_MAX_MS]);
  });
});
