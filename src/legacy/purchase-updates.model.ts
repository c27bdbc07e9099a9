import type { V1Normalized } from '../apple/v1/index.js';
import { renewalFromPayload, transactionFromPayload } from '../purchases/merge.model.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { sortedUpdates, type UpdatesByPurchase, updateFor } from '../purchases/purchase-updates.model.js';

// Pure conversion from what the V1 paths learn unsigned (a V1 body, a verifyReceipt answer)
// to purchase updates, one per purchase. Signed Server API answers become updates in the
// App Store sync (purchases/app-store-sync.usecase.ts).

/**
 * A normalised V1 body (or verifyReceipt answer) as unsigned updates, marked 'v1'. They
 * carry no Apple status: a status has no source of its own to rank it below signed data,
 * and the state model reads the same facts (cancellation, expiry, billing retry, grace)
 * from the V1 transactions and renewal info, which do rank below signed data.
 */
export function updatesFromV1(normalized: V1Normalized): PurchaseUpdate[] {
  const updates: UpdatesByPurchase = new Map();
  for (const transaction of normalized.transactions) {
    updateFor(updates, transaction.originalTransactionId).transactions.push({
      record: transactionFromPayload(transaction, 'v1'),
      signedTransaction: null,
    });
  }
  for (const renewal of normalized.renewals) {
    updateFor(updates, renewal.originalTransactionId).renewal = {
      record: renewalFromPayload(renewal, 'v1'),
      signedRenewalInfo: null,
    };
  }
  return sortedUpdates(updates);
}
