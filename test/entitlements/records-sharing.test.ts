import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createEntitlementsRepository } from '../../src/entitlements/entitlements.repository.js';
import { backendName } from '../helpers/database.js';
import { useTestDatabase } from '../helpers/fixtures.js';

// The read's records share what repeats (entitlements.repository.ts, `Sharing`): one Date
// per instant within a read and the purchase's id in each of its transactions, so that a
// cached user holds fewer objects. The values are those stored, whatever is shared.

const t = useTestDatabase();
const MONTH = 30 * 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1, 10);

async function subscription(userId: string, originalId: string, periods: number): Promise<void> {
  await t.database.handle.db.execute(sql`insert into users (user_id, app_account_token) values (${userId}, md5(${userId})::uuid)`);
  await t.database.handle.db.execute(
    sql`insert into purchase_links (original_transaction_id, user_id, link_source) values (${originalId}, ${userId}, 'transaction')`,
  );
  for (let k = 0; k < periods; k++) {
    await t.database.handle.db.execute(sql`
      insert into transactions (transaction_id, original_transaction_id, bundle_id, product_id, product_type, environment,
        purchase_date, original_purchase_date, expires_date, quantity, ownership_type, storefront, transaction_reason, signed_date, source)
      values (${`${originalId}-${k}`}, ${originalId}, 'com.example.app', 'com.example.pro.monthly', 'Auto-Renewable Subscription', 'Production',
        ${new Date(START + k * MONTH).toISOString()}::timestamptz, ${new Date(START).toISOString()}::timestamptz,
        ${new Date(START + (k + 1) * MONTH).toISOString()}::timestamptz, 1, 'PURCHASED', 'USA', ${k === 0 ? 'PURCHASE' : 'RENEWAL'},
        ${new Date(START + k * MONTH + 5_000).toISOString()}::timestamptz, 'v2')`);
  }
}

describe(`the entitlement read's records (${backendName})`, () => {
  it('share one Date per instant and the purchase id within a read, and hold the stored values', async () => {
    await subscription('u-share-1', 'share-1', 3);
    await subscription('u-share-2', 'share-2', 1);
    const repository = createEntitlementsRepository({ database: t.database.handle });
    // Asked for in the same turn: one read for both.
    const [first, second] = await Promise.all([repository.recordsOfUser('u-share-1'), repository.recordsOfUser('u-share-2')]);
    const transactions = [...first.purchases[0]!.transactions].sort((a, b) => a.purchaseDate.getTime() - b.purchaseDate.getTime());
    expect(transactions.map((each) => [each.transactionId, each.purchaseDate.getTime(), each.expiresDate?.getTime(), each.signedDate.getTime()])).toEqual(
      [0, 1, 2].map((k) => [`share-1-${k}`, START + k * MONTH, START + (k + 1) * MONTH, START + k * MONTH + 5_000]),
    );
    expect(transactions.every((each) => each.originalTransactionId === 'share-1' && each.productId === 'com.example.pro.monthly')).toBe(true);
    // A renewal starts where the previous period ended: the same Date.
    expect(transactions[1]!.purchaseDate).toBe(transactions[0]!.expiresDate);
    expect(transactions[2]!.purchaseDate).toBe(transactions[1]!.expiresDate);
    // Every transaction's original purchase date, and the other user's too (same instant, same read).
    expect(transactions[2]!.originalPurchaseDate).toBe(transactions[0]!.originalPurchaseDate);
    expect(second.purchases[0]!.transactions[0]!.originalPurchaseDate).toBe(transactions[0]!.originalPurchaseDate);
    expect(transactions[0]!.originalPurchaseDate).toEqual(new Date(START));
  });
});
