import { inArray } from 'drizzle-orm';
import type { Transaction } from '../db/client.js';
import { purchaseLinks, subscriptions, transactions } from '../db/schema.js';

// What the recorder looks up, inside the recording transaction, to say who an event
// concerns and what was bought. Small reads by the query builder.

/** originalTransactionId → the user it is linked to now (within `tx`). */
export async function ownersOf(tx: Transaction, originalTransactionIds: readonly string[]): Promise<Map<string, string>> {
  if (originalTransactionIds.length === 0) return new Map();
  const rows = await tx
    .select({ id: purchaseLinks.originalTransactionId, userId: purchaseLinks.userId })
    .from(purchaseLinks)
    .where(inArray(purchaseLinks.originalTransactionId, [...new Set(originalTransactionIds)]));
  return new Map(rows.map((row) => [row.id, row.userId]));
}

/** transactionId → its product. */
export async function productsOfTransactions(tx: Transaction, transactionIds: readonly string[]): Promise<Map<string, string>> {
  if (transactionIds.length === 0) return new Map();
  const rows = await tx
    .select({ id: transactions.transactionId, productId: transactions.productId })
    .from(transactions)
    .where(inArray(transactions.transactionId, [...new Set(transactionIds)]));
  return new Map(rows.map((row) => [row.id, row.productId]));
}

/** originalTransactionId → the subscription's product (null when not known yet). */
export async function productsOfSubscriptions(tx: Transaction, originalTransactionIds: readonly string[]): Promise<Map<string, string | null>> {
  if (originalTransactionIds.length === 0) return new Map();
  const rows = await tx
    .select({ id: subscriptions.originalTransactionId, productId: subscriptions.productId })
    .from(subscriptions)
    .where(inArray(subscriptions.originalTransactionId, [...new Set(originalTransactionIds)]));
  return new Map(rows.map((row) => [row.id, row.productId]));
}
