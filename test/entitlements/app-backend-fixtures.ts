// Builders for the app-backend API tests: signed transactions from the test PKI and a
// way to store renewal info and status exactly as the notification ingest would.
import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '../../src/apple/types.js';
import { renewalFromPayload, transactionFromPayload } from '../../src/purchases/merge.model.js';
import { applyPurchaseUpdate } from '../../src/purchases/purchases.repository.js';
import { authHeader, TEST_BUNDLE_ID, type TestApp } from '../helpers/app.js';
import { DAY } from '../helpers/constants.js';
import type { TestPki } from '../helpers/pki.js';

export const MONTHLY = 'com.example.pro.monthly';
export const YEARLY = 'com.example.pro.yearly';
export const LIFETIME = 'com.example.lifetime';
export const COINS = 'com.example.coins';

export const days = (n: number) => n * DAY;
export const at = (iso: string) => Date.parse(iso);

export function transactionPayload(overrides: Partial<JWSTransactionDecodedPayload> & { transactionId: string }): JWSTransactionDecodedPayload {
  const purchaseDate = overrides.purchaseDate ?? at('2026-11-01T10:00:00Z');
  return {
    originalTransactionId: overrides.transactionId,
    bundleId: TEST_BUNDLE_ID,
    productId: MONTHLY,
    purchaseDate,
    originalPurchaseDate: purchaseDate,
    expiresDate: purchaseDate + days(30),
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate: purchaseDate + 5_000,
    environment: 'Sandbox',
    transactionReason: 'PURCHASE',
    storefront: 'USA',
    ...overrides,
  } as JWSTransactionDecodedPayload;
}

export function renewalPayload(
  overrides: Partial<JWSRenewalInfoDecodedPayload> & { originalTransactionId: string; signedDate: number },
): JWSRenewalInfoDecodedPayload {
  return {
    productId: MONTHLY,
    autoRenewProductId: MONTHLY,
    autoRenewStatus: 1,
    environment: 'Sandbox',
    ...overrides,
  } as JWSRenewalInfoDecodedPayload;
}

/** Links the transaction to the user the way the app's backend does: POST /users/:id/transactions. */
export async function postTransaction(t: TestApp, userId: string, payload: JWSTransactionDecodedPayload) {
  return t.app.inject({
    method: 'POST',
    url: `/users/${encodeURIComponent(userId)}/transactions`,
    headers: authHeader(),
    payload: { signedTransaction: t.pki.sign(payload) },
  });
}

/** Stores data as a notification would, without linking anything to a user. */
export async function storeSigned(
  t: TestApp,
  data: {
    transactions?: JWSTransactionDecodedPayload[];
    renewal?: JWSRenewalInfoDecodedPayload;
    status?: { originalTransactionId: string; appleStatus: number; signedDate: number };
  },
) {
  await t.deps.database.db.transaction(async (tx) => {
    await applyPurchaseUpdate(
      tx,
      {
        transactions: (data.transactions ?? []).map((p) => ({ record: transactionFromPayload(p, 'v2'), signedTransaction: null })),
        renewal: data.renewal ? { record: renewalFromPayload(data.renewal, 'v2'), signedRenewalInfo: null } : undefined,
        status: data.status
          ? {
              originalTransactionId: data.status.originalTransactionId,
              appleStatus: data.status.appleStatus,
              statusSignedDate: new Date(data.status.signedDate),
            }
          : undefined,
      },
      { now: t.deps.clock() },
    );
  });
  // Written behind the service's back (no recording transaction): drop its entitlement
  // cache, as an operator's `NOTIFY ase_answer_inputs, '*'` would (docs/entitlements-cache.md).
  t.app.entitlementsCache.invalidateAll();
}

export async function getEntitlements(t: TestApp, userId: string, query = '') {
  return t.app.inject({ method: 'GET', url: `/entitlements/${encodeURIComponent(userId)}${query}`, headers: authHeader() });
}

/** A clock the test moves by hand. */
export function manualClock(start: string) {
  let now = new Date(start);
  return {
    clock: () => now,
    set(iso: string) {
      now = new Date(iso);
    },
  };
}

/**
 * Apple's Get All Subscription Statuses answer for one subscription: the renewal
 * `renewalId` (December 2026, active), signed at `signedDate`, auto-renew off.
 */
export function renewedStatusesAnswer(pki: TestPki, originalTransactionId: string, renewalId: string, signedDate: number) {
  const renewed = transactionPayload({
    transactionId: renewalId,
    originalTransactionId,
    purchaseDate: at('2026-12-01T00:00:00Z'),
    originalPurchaseDate: at('2026-11-01T00:00:00Z'),
    expiresDate: at('2027-01-01T00:00:00Z'),
    signedDate,
  });
  return {
    environment: 'Sandbox',
    bundleId: TEST_BUNDLE_ID,
    data: [
      {
        subscriptionGroupIdentifier: 'g1',
        lastTransactions: [
          {
            status: 1,
            originalTransactionId,
            signedTransactionInfo: pki.sign(renewed),
            signedRenewalInfo: pki.sign(renewalPayload({ originalTransactionId, autoRenewStatus: 0, signedDate })),
          },
        ],
      },
    ],
  };
}
