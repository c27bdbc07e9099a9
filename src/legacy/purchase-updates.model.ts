import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '../apple/types.js';
import type { V1Normalized } from '../apple/v1/index.js';
import { renewalFromPayload, transactionFromPayload } from '../purchases/merge.model.js';
import type { PurchaseUpdate, RecordSource } from '../purchases/purchase-update.js';

// Pure conversions from what the legacy paths learn (a V1 body, a verifyReceipt answer,
// signed Server API answers) to purchase updates: one per originalTransactionId, because
// the purchases repository takes one renewal and one status per call.

function updateFor(updates: Map<string, PurchaseUpdate>, originalTransactionId: string): PurchaseUpdate {
  let update = updates.get(originalTransactionId);
  if (update === undefined) {
    update = { transactions: [] };
    updates.set(originalTransactionId, update);
  }
  return update;
}

const sorted = (updates: Map<string, PurchaseUpdate>): PurchaseUpdate[] =>
  [...updates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, update]) => update);

/**
 * A normalised V1 body (or verifyReceipt answer) as unsigned updates, marked 'v1'. They
 * carry no Apple status: a status has no source of its own to rank it below signed data,
 * and the state model reads the same facts (cancellation, expiry, billing retry, grace)
 * from the V1 transactions and renewal info, which do rank below signed data.
 */
export function updatesFromV1(normalized: V1Normalized): PurchaseUpdate[] {
  const updates = new Map<string, PurchaseUpdate>();
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
  return sorted(updates);
}

/** One piece of signed purchase state fetched from the App Store Server API, verified. */
export interface SignedPurchaseState {
  transaction: { payload: JWSTransactionDecodedPayload; jws: string };
  /** Present for auto-renewable subscriptions answered by Get All Subscription Statuses. */
  renewal?: { payload: JWSRenewalInfoDecodedPayload; jws: string } | undefined;
  /** Apple's status (1 active … 5 revoked); undefined for non-subscriptions. */
  appleStatus?: number | null | undefined;
}

/**
 * Signed state as updates. The status has no signing time of its own: it is as fresh as
 * the signed records Apple sent with it, so it takes the later of their signedDates.
 */
export function updatesFromSignedState(states: readonly SignedPurchaseState[], source: RecordSource = 'api'): PurchaseUpdate[] {
  const updates = new Map<string, PurchaseUpdate>();
  for (const state of states) {
    const originalTransactionId = state.transaction.payload.originalTransactionId;
    const update = updateFor(updates, originalTransactionId);
    update.transactions.push({ record: transactionFromPayload(state.transaction.payload, source), signedTransaction: state.transaction.jws });
    if (state.renewal && state.renewal.payload.originalTransactionId === originalTransactionId) {
      update.renewal = { record: renewalFromPayload(state.renewal.payload, source), signedRenewalInfo: state.renewal.jws };
    }
    if (state.appleStatus !== undefined) {
      const signedDate = Math.max(state.transaction.payload.signedDate, state.renewal?.payload.signedDate ?? 0);
      update.status = { originalTransactionId, appleStatus: state.appleStatus, statusSignedDate: new Date(signedDate) };
    }
  }
  return sorted(updates);
}

/** Every originalTransactionId the updates touch, sorted (the order purchases are locked in). */
export function originalTransactionIdsOf(updates: readonly PurchaseUpdate[]): string[] {
  const ids = new Set<string>();
  for (const update of updates) {
    for (const { record } of update.transactions) ids.add(record.originalTransactionId);
    if (update.renewal) ids.add(update.renewal.record.originalTransactionId);
    if (update.status) ids.add(update.status.originalTransactionId);
  }
  return [...ids].sort();
}
