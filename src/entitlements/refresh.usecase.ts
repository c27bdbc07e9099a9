import type { AppStoreServerApi } from '../apple/api/index.js';
import type { SignedDataVerifier } from '../apple/types.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { datedFieldsOf, futureDatedField } from '../purchases/future-dated.model.js';
import { renewalFromPayload, transactionFromPayload } from '../purchases/merge.model.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { applyPurchaseUpdate } from '../purchases/purchases.repository.js';

export interface RefreshDeps {
  db: Database;
  appStoreApi: AppStoreServerApi;
  verifier: SignedDataVerifier;
  clock: Clock;
}

export interface PurchaseToRefresh {
  originalTransactionId: string;
  environment: string;
}

export interface RefreshResult {
  /** Subscriptions Apple reported and that were applied (or already known). */
  applied: number;
}

const SERVER_ENVIRONMENTS = new Set(['Production', 'Sandbox']);

/**
 * Asks Get All Subscription Statuses about the given purchases and applies the answers
 * through the same merge rules as notifications. One answer covers every subscription of
 * the customer in the app, so a purchase already seen in an earlier answer is not asked
 * about again. The raw call is verified here (rather than with the client's verified
 * helper) to keep each JWS for the audit columns.
 */
export async function refreshPurchases(deps: RefreshDeps, purchases: readonly PurchaseToRefresh[]): Promise<RefreshResult> {
  const covered = new Set<string>();
  let applied = 0;
  for (const purchase of purchases) {
    // Xcode and LocalTesting purchases never reach Apple's servers.
    if (covered.has(purchase.originalTransactionId) || !SERVER_ENVIRONMENTS.has(purchase.environment)) continue;
    const api = deps.appStoreApi.forEnvironment(purchase.environment as 'Production' | 'Sandbox');
    const answer = await api.getAllSubscriptionStatuses(purchase.originalTransactionId);
    covered.add(purchase.originalTransactionId);

    const updates: PurchaseUpdate[] = [];
    for (const group of answer.data ?? []) {
      for (const item of group.lastTransactions ?? []) {
        if (!item.signedTransactionInfo) continue;
        const transaction = await deps.verifier.verifyTransaction(item.signedTransactionInfo);
        const renewal = item.signedRenewalInfo ? await deps.verifier.verifyRenewalInfo(item.signedRenewalInfo) : null;
        const originalTransactionId = transaction.originalTransactionId;
        covered.add(originalTransactionId);
        // The status itself is not signed; it is as fresh as the newest signed item it came with.
        const statusSignedDate = new Date(Math.max(transaction.signedDate, renewal?.signedDate ?? 0));
        const update: PurchaseUpdate = {
          transactions: [{ record: transactionFromPayload(transaction, 'api'), signedTransaction: item.signedTransactionInfo }],
          renewal:
            renewal && renewal.originalTransactionId === originalTransactionId
              ? { record: renewalFromPayload(renewal, 'api'), signedRenewalInfo: item.signedRenewalInfo ?? null }
              : undefined,
          status: { originalTransactionId, appleStatus: typeof item.status === 'number' ? item.status : null, statusSignedDate },
        };
        // Nothing dated in the future is accepted from any source; a read does not fail for it.
        if (futureDatedField(datedFieldsOf([update]), deps.clock()) === null) updates.push(update);
      }
    }
    if (updates.length === 0) continue;
    await deps.db.transaction(async (tx) => {
      for (const update of updates) await applyPurchaseUpdate(tx, update);
    });
    applied += updates.length;
  }
  return { applied };
}
