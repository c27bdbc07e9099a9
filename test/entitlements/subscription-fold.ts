import { mergeRenewal, mergeStatus, mergeTransaction } from '../../src/purchases/merge.model.js';
import type { StoredRenewal, StoredStatus, StoredTransaction } from '../../src/purchases/purchase-update.js';

/** What one notification (or API answer) brings for one subscription. */
export interface SubscriptionUpdate {
  transaction?: StoredTransaction;
  renewal?: StoredRenewal;
  status?: StoredStatus;
}

/** The stored records of one subscription, as the database would hold them. */
export interface SubscriptionRecords {
  transactions: Map<string, StoredTransaction>;
  renewal: StoredRenewal | undefined;
  status: StoredStatus | undefined;
}

export const emptyRecords = (): SubscriptionRecords => ({ transactions: new Map(), renewal: undefined, status: undefined });

/** Applies updates the way the ingest does, one database transaction each. */
export function applyAll(updates: readonly SubscriptionUpdate[]): SubscriptionRecords {
  const records = emptyRecords();
  for (const update of updates) {
    if (update.transaction !== undefined) {
      const id = update.transaction.transactionId;
      records.transactions.set(id, mergeTransaction(records.transactions.get(id), update.transaction));
    }
    if (update.renewal !== undefined) records.renewal = mergeRenewal(records.renewal, update.renewal);
    if (update.status !== undefined) records.status = mergeStatus(records.status, update.status);
  }
  return records;
}

/** Comparable form: transactions sorted by id, so Map insertion order does not matter. */
export function snapshot(records: SubscriptionRecords) {
  return {
    transactions: [...records.transactions.values()].sort((a, b) => (a.transactionId < b.transactionId ? -1 : 1)),
    renewal: records.renewal,
    status: records.status,
  };
}

/** The in-order updates with duplicates added, shuffled by a permutation fast-check chose. */
export function arrange<T>(items: readonly T[], duplicates: readonly number[], permutation: readonly number[]): T[] {
  const pool = [...items, ...duplicates.map((i) => items[i % items.length] as T)];
  return permutation.map((i) => pool[i] as T);
}
