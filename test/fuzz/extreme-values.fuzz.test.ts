import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TEST_BUNDLE_ID } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { anyJson, anyText } from './arbitraries.js';
import { expectHandled, useFuzzApp } from './support.js';

const SIGNED = Date.parse('2025-06-01T12:00:00Z');

// Numbers a database column or a Date cannot hold, next to ordinary ones.
const extremeNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 53), 8.64e15, 8.64e15 + 1, -8.64e15 - 1, 1e300, -1e300, 0.5, SIGNED),
  fc.integer(),
  fc.double({ noNaN: true }),
);
const extremeValue = fc.oneof(extremeNumber, anyText(60), fc.string({ minLength: 1_000, maxLength: 5_000 }), anyJson);

/**
 * Trusted, correctly signed notifications whose nested transaction and renewal info
 * carry extreme or ill-typed values. Such a payload may be applied (200) or refused
 * (400), but it must never reach the database in a shape the database refuses (500).
 */
describe(`trusted notifications with extreme field values (${backendName})`, () => {
  const t = useFuzzApp();

  it('answers every one with 200 or a coded 400, never a 5xx, and stays ready', async () => {
    const transactionFields = fc.dictionary(
      fc.constantFrom(
        'transactionId',
        'originalTransactionId',
        'productId',
        'purchaseDate',
        'originalPurchaseDate',
        'expiresDate',
        'revocationDate',
        'revocationReason',
        'price',
        'quantity',
        'type',
        'inAppOwnershipType',
        'appAccountToken',
        'webOrderLineItemId',
        'offerType',
        'isUpgraded',
        'currency',
        'storefront',
      ),
      extremeValue,
      { maxKeys: 3 },
    );
    const renewalFields = fc.dictionary(
      fc.constantFrom(
        'autoRenewStatus',
        'autoRenewProductId',
        'gracePeriodExpiresDate',
        'renewalDate',
        'expirationIntent',
        'isInBillingRetryPeriod',
        'recentSubscriptionStartDate',
        'originalTransactionId',
      ),
      extremeValue,
      { maxKeys: 3 },
    );
    await fc.assert(
      fc.asyncProperty(
        transactionFields,
        renewalFields,
        fc.constantFrom('SUBSCRIBED', 'DID_RENEW', 'REFUND', 'DID_CHANGE_RENEWAL_STATUS', 'GRACE_PERIOD_EXPIRED', 'ONE_TIME_CHARGE'),
        fc.oneof(fc.constant(1), extremeNumber),
        fc.nat({ max: 999_999 }),
        async (transactionOverrides, renewalOverrides, notificationType, status, n) => {
          const id = `3${String(n).padStart(15, '0')}`;
          const transaction = {
            transactionId: id,
            originalTransactionId: id,
            bundleId: TEST_BUNDLE_ID,
            productId: 'com.example.monthly',
            purchaseDate: SIGNED - 1_000,
            originalPurchaseDate: SIGNED - 1_000,
            expiresDate: SIGNED + 30 * 86_400_000,
            quantity: 1,
            type: 'Auto-Renewable Subscription',
            inAppOwnershipType: 'PURCHASED',
            signedDate: SIGNED,
            environment: 'Sandbox',
            ...transactionOverrides,
          };
          const renewal = {
            originalTransactionId: id,
            productId: 'com.example.monthly',
            autoRenewProductId: 'com.example.monthly',
            autoRenewStatus: 1,
            signedDate: SIGNED,
            environment: 'Sandbox',
            ...renewalOverrides,
          };
          const signedPayload = t.trusted.sign({
            notificationType,
            notificationUUID: randomUUID(),
            version: '2.0',
            signedDate: SIGNED,
            data: {
              bundleId: TEST_BUNDLE_ID,
              environment: 'Sandbox',
              bundleVersion: '1',
              status,
              signedTransactionInfo: t.trusted.sign(transaction),
              signedRenewalInfo: t.trusted.sign(renewal),
            },
          });
          const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } });
          expectHandled(response, `${notificationType} ${JSON.stringify({ transactionOverrides, renewalOverrides, status }).slice(0, 400)}`, {
            allowOk: true,
          });
        },
      ),
      { numRuns: 60, interruptAfterTimeLimit: 40_000 },
    );
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  }, 60_000);
});
