import type { AppStoreServerApi } from '../apple/api/index.js';
import { AppStoreApiError } from '../apple/api/index.js';
import type { SignedDataVerifier } from '../apple/types.js';
import { badRequest } from '../errors.js';
import { appStoreApiError } from '../app-store-errors.js';
import type { SignedPurchaseState } from './purchase-updates.model.js';

/** A purchase to look up: any of its transaction ids, and whether it is a subscription. */
export interface PurchaseRef {
  originalTransactionId: string;
  transactionId: string;
  subscription: boolean;
}

export interface FetchSignedStateDeps {
  appStoreApi: AppStoreServerApi;
  verifier: SignedDataVerifier;
}

/**
 * Fetches each purchase's current signed state from the App Store Server API and verifies
 * it. The raw endpoints are used (not the `*Verified` helpers) so the JWS strings are kept
 * and stored next to the decoded records, like those that come by V2 notification.
 *
 * One Get All Subscription Statuses answer covers every subscription of the customer, so
 * purchases it already answered are not asked about again.
 */
export async function fetchSignedPurchaseState(
  deps: FetchSignedStateDeps,
  environment: 'Production' | 'Sandbox',
  refs: readonly PurchaseRef[],
): Promise<SignedPurchaseState[]> {
  const api = deps.appStoreApi.forEnvironment(environment);
  const states: SignedPurchaseState[] = [];
  const covered = new Set<string>();
  try {
    for (const ref of refs) {
      if (covered.has(ref.originalTransactionId)) continue;
      if (ref.subscription) {
        const answer = await api.getAllSubscriptionStatuses(ref.transactionId);
        for (const group of answer.data ?? []) {
          for (const item of group.lastTransactions ?? []) {
            if (!item.signedTransactionInfo) continue;
            const transaction = await deps.verifier.verifyTransaction(item.signedTransactionInfo);
            const renewal = item.signedRenewalInfo
              ? { payload: await deps.verifier.verifyRenewalInfo(item.signedRenewalInfo), jws: item.signedRenewalInfo }
              : undefined;
            states.push({ transaction: { payload: transaction, jws: item.signedTransactionInfo }, renewal, appleStatus: item.status ?? null });
            covered.add(transaction.originalTransactionId);
          }
        }
        if (covered.has(ref.originalTransactionId)) continue;
        // Apple answered without this subscription: still record its transaction as Apple signs it.
      }
      const info = await api.getTransactionInfo(ref.transactionId);
      if (!info.signedTransactionInfo) {
        throw new AppStoreApiError('API_BAD_RESPONSE', 'getTransactionInfo: answer has no signedTransactionInfo', { endpoint: 'getTransactionInfo' });
      }
      const transaction = await deps.verifier.verifyTransaction(info.signedTransactionInfo);
      states.push({ transaction: { payload: transaction, jws: info.signedTransactionInfo } });
      covered.add(transaction.originalTransactionId);
    }
  } catch (error) {
    throw asHttpError(error);
  }
  return states;
}

const purchaseNotFound = () => badRequest('PURCHASE_NOT_FOUND', 'The App Store Server API does not know this purchase');

/** Apple's failures mapped as on every other route; only Apple not knowing the purchase is the caller's problem. */
function asHttpError(error: unknown): unknown {
  if (!(error instanceof AppStoreApiError)) return error;
  return appStoreApiError(error, { notFound: purchaseNotFound });
}
