import { eq } from 'drizzle-orm';
import type { Transaction } from '../db/client.js';
import { columnName, insertRows, selectList, tableName } from '../db/raw.js';
import { purchaseLinkEvents, purchaseLinks, users } from '../db/schema.js';
import { noteUsers } from '../events/transaction-changes.js';
import type { ApplyResult, PurchaseUpdate } from './purchase-update.js';

// Attribution by appAccountToken, the last step of applying purchase updates
// (applyPurchaseUpdates), in the same database transaction: on the ingest's group commit,
// so its statements go to the transaction's driver, but for the rare move of a link.

const TOKEN_OWNERS = `select ${selectList(users, ['userId', 'appAccountToken'])} from ${tableName(users)} where ${columnName(users, 'appAccountToken')} = any($1::uuid[])`;
const LINK_COLUMNS = selectList(purchaseLinks, ['originalTransactionId', 'userId']);
const LINKS_OF = `select ${LINK_COLUMNS} from ${tableName(purchaseLinks)} where ${columnName(purchaseLinks, 'originalTransactionId')} = any($1::text[])`;

interface Link {
  originalTransactionId: string;
  userId: string;
}

/**
 * linkByAppAccountToken for every transaction that carries a token, in update order:
 * a token's user (created as its own UUID user when nobody holds it) gets the purchase,
 * also when it is linked to someone else (the token wins over a link made without it).
 */
export async function attribute(tx: Transaction, updates: readonly PurchaseUpdate[], results: ApplyResult[], now: Date): Promise<void> {
  const wanted: Array<{ index: number; originalTransactionId: string; token: string }> = [];
  updates.forEach((update, index) => {
    const seen = new Set<string>();
    for (const { record } of update.transactions) {
      if (record.appAccountToken === null || seen.has(record.originalTransactionId)) continue;
      seen.add(record.originalTransactionId);
      wanted.push({ index, originalTransactionId: record.originalTransactionId, token: record.appAccountToken.toLowerCase() });
    }
  });
  if (wanted.length === 0) return;

  const tokens = [...new Set(wanted.map((w) => w.token))].sort();
  await insertRows(
    tx,
    users,
    tokens.map((token) => ({ userId: token, appAccountToken: token })),
    'on conflict do nothing',
  );
  const owners = await tx.driver.query<{ userId: string; appAccountToken: string }>(TOKEN_OWNERS, [tokens]);
  const ownerOf = new Map(owners.map((owner) => [owner.appAccountToken.toLowerCase(), owner.userId]));

  // The first resolvable token of each purchase, in update order, is the one a run of
  // single updates would have linked.
  const proposed = new Map<string, string>();
  for (const w of wanted) {
    const userId = ownerOf.get(w.token);
    if (userId !== undefined && !proposed.has(w.originalTransactionId)) proposed.set(w.originalTransactionId, userId);
  }
  if (proposed.size === 0) return;
  const purchases = [...proposed.keys()].sort();
  const inserted = await insertRows<Link>(
    tx,
    purchaseLinks,
    purchases.map((originalTransactionId) => ({
      originalTransactionId,
      userId: proposed.get(originalTransactionId)!,
      linkSource: 'app_account_token',
      linkedAt: now,
    })),
    `on conflict do nothing returning ${LINK_COLUMNS}`,
  );
  if (inserted.length > 0) {
    await insertRows(
      tx,
      purchaseLinkEvents,
      inserted.map((link) => ({
        originalTransactionId: link.originalTransactionId,
        fromUserId: null,
        toUserId: link.userId,
        reason: 'app_account_token',
        at: now,
      })),
    );
  }
  const linked = new Map(inserted.map((link) => [link.originalTransactionId, link.userId]));
  const existing = purchases.filter((id) => !linked.has(id));
  if (existing.length > 0) {
    const rows = await tx.driver.query<Link>(LINKS_OF, [existing]);
    // A purchase carrying a token belongs to the token's user (SPEC): a link made without
    // the token (a tokenless transaction posted by someone else) moves back to that user.
    const moved = rows.filter((row) => row.userId !== proposed.get(row.originalTransactionId));
    for (const row of moved) {
      await tx
        .update(purchaseLinks)
        .set({ userId: proposed.get(row.originalTransactionId)!, linkSource: 'app_account_token', linkedAt: now })
        .where(eq(purchaseLinks.originalTransactionId, row.originalTransactionId));
    }
    if (moved.length > 0) {
      noteUsers(
        tx,
        moved.map((row) => row.userId),
      );
      await insertRows(
        tx,
        purchaseLinkEvents,
        moved.map((row) => ({
          originalTransactionId: row.originalTransactionId,
          fromUserId: row.userId,
          toUserId: proposed.get(row.originalTransactionId)!,
          reason: 'app_account_token',
          at: now,
        })),
      );
    }
    for (const row of rows) linked.set(row.originalTransactionId, proposed.get(row.originalTransactionId)!);
  }
  for (const w of wanted) {
    const userId = ownerOf.get(w.token) === undefined ? undefined : linked.get(w.originalTransactionId);
    if (userId !== undefined) results[w.index]!.attributed.set(w.originalTransactionId, userId);
  }
}
