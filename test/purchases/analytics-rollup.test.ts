import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/client.js';
import { analyticsDaily } from '../../src/db/schema.js';
import type { PurchaseUpdate } from '../../src/purchases/purchase-update.js';
import { applyPurchaseUpdates } from '../../src/purchases/purchases.repository.js';
import { at, transaction } from '../entitlements/records.js';
import { backendName, testDatabaseUrl } from '../helpers/database.js';
import { useTestDatabase } from '../helpers/fixtures.js';

// The daily rollup (analytics_daily) is written as the last statement of the transaction
// that changes purchases (src/purchases/analytics.repository.ts): every change of the
// transaction summed into one upsert, committed or rolled back with the purchases, and a
// concurrent writer of the same day × product rows never waits for the rest of another's
// transaction.

const fixture = useTestDatabase();
const db = () => fixture.database.handle.db;
const NOW = at('2026-03-01T00:00:00Z');
const PRICE = 4990;

/** A first purchase of the monthly product, bought on `day` (each test its own day, so its own rollup rows). */
function firstPurchase(id: string, day: string): PurchaseUpdate {
  const purchaseDate = at(`${day}T10:00:00Z`);
  return {
    transactions: [
      {
        record: transaction({
          transactionId: id,
          originalTransactionId: id,
          purchaseDate,
          originalPurchaseDate: purchaseDate,
          expiresDate: new Date(purchaseDate.getTime() + 30 * 86_400_000),
          signedDate: new Date(purchaseDate.getTime() + 1000),
        }),
        signedTransaction: null,
      },
    ],
  };
}

/** The rollup row of `day` for the monthly product in USD (null: none). */
async function rollupOf(executor: Executor, day: string) {
  const [row] = await executor
    .select({ newSubscriptions: analyticsDaily.newSubscriptions, revenue: analyticsDaily.revenue })
    .from(analyticsDaily)
    .where(and(eq(analyticsDaily.day, day), eq(analyticsDaily.productId, 'com.example.pro.monthly'), eq(analyticsDaily.currency, 'USD')));
  return row ?? null;
}

describe(`the analytics rollup, written when the transaction commits (${backendName})`, () => {
  it('adds every change of a transaction once, at its end', async () => {
    const day = '2026-01-05';
    const seenBeforeCommit = await db().transaction(async (tx) => {
      await applyPurchaseUpdates(tx, [firstPurchase('rollup-1a', day)], { now: NOW });
      await applyPurchaseUpdates(tx, [firstPurchase('rollup-1b', day), firstPurchase('rollup-1c', day)], { now: NOW });
      return rollupOf(tx, day);
    });
    expect(seenBeforeCommit).toBeNull();
    expect(await rollupOf(db(), day)).toEqual({ newSubscriptions: 3, revenue: 3 * PRICE });
  });

  it('adds nothing when the transaction rolls back', async () => {
    const day = '2026-01-06';
    await db().transaction((tx) => applyPurchaseUpdates(tx, [firstPurchase('rollup-2a', day)], { now: NOW }));
    await expect(
      db().transaction(async (tx) => {
        await applyPurchaseUpdates(tx, [firstPurchase('rollup-2b', day)], { now: NOW });
        throw new Error('the batch failed');
      }),
    ).rejects.toThrow('the batch failed');
    expect(await rollupOf(db(), day)).toEqual({ newSubscriptions: 1, revenue: PRICE });
  });

  // Two connections at once: PostgreSQL only (PGlite has one session, its transactions take turns).
  it.skipIf(testDatabaseUrl === null)(
    'lets a second writer of the same rollup rows commit while the first is still open, and counts both',
    async () => {
      const day = '2026-01-07';
      let firstApplied!: () => void;
      const applied = new Promise<void>((resolve) => {
        firstApplied = resolve;
      });
      let secondCommitted!: () => void;
      const committed = new Promise<void>((resolve) => {
        secondCommitted = resolve;
      });
      const first = db().transaction(async (tx) => {
        await applyPurchaseUpdates(tx, [firstPurchase('rollup-3a', day)], { now: NOW });
        firstApplied();
        // Still open until the other writer has committed: it must not need anything this one holds.
        await committed;
      });
      await applied;
      try {
        await db().transaction(async (tx) => {
          // A wait for the first writer's row locks would never end (it waits for this commit): fail instead.
          await tx.driver.query("set local lock_timeout = '20s'");
          await applyPurchaseUpdates(tx, [firstPurchase('rollup-3b', day)], { now: NOW });
        });
        expect(await rollupOf(db(), day)).toEqual({ newSubscriptions: 1, revenue: PRICE });
      } finally {
        secondCommitted();
        await first;
      }
      expect(await rollupOf(db(), day)).toEqual({ newSubscriptions: 2, revenue: 2 * PRICE });
    },
    60_000,
  );

  it('keeps exact sums under many concurrent batches over the same rows', async () => {
    const day = '2026-01-08';
    const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 5 }, (_, i) => firstPurchase(`rollup-4-${b}-${i}`, day)));
    await Promise.all(batches.map((updates) => db().transaction((tx) => applyPurchaseUpdates(tx, updates, { now: NOW }))));
    expect(await rollupOf(db(), day)).toEqual({ newSubscriptions: 40, revenue: 40 * PRICE });
  });
});
