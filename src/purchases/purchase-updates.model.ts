import type { PurchaseUpdate } from './purchase-update.js';

// Building purchase updates one per purchase (originalTransactionId), as the V1 paths and
// the App Store sync do: the purchases repository takes one renewal and one status per
// update. Pure.

export type UpdatesByPurchase = Map<string, PurchaseUpdate>;

/** The update of one purchase, created empty on first use. */
export function updateFor(updates: UpdatesByPurchase, originalTransactionId: string): PurchaseUpdate {
  let update = updates.get(originalTransactionId);
  if (update === undefined) {
    update = { transactions: [] };
    updates.set(originalTransactionId, update);
  }
  return update;
}

/** The updates in originalTransactionId order, so the same input always applies the same way. */
export function sortedUpdates(updates: UpdatesByPurchase): PurchaseUpdate[] {
  return [...updates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, update]) => update);
}
