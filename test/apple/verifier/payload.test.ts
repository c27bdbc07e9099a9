import { beforeAll, describe, expect, it } from 'vitest';
import { VerificationError } from '../../../src/apple/verifier/index.js';
import { createTestPki, signNotification, type TestPki } from '../../helpers/pki.js';
import { APP_APPLE_ID, BUNDLE_ID, codeOf, errorOf, notification, productionTestNotification, renewalInfo, transaction, verifierFor } from './support.js';

describe('payload checks', () => {
  let pki: TestPki;
  let impostor: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
    impostor = await createTestPki();
  });

  it('verifies a notification and its nested transaction and renewal info', async () => {
    const signed = signNotification(pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      bundleId: BUNDLE_ID,
      appAppleId: APP_APPLE_ID,
      environment: 'Sandbox',
    });
    const result = await verifierFor(pki).verifyNotification(signed);
    expect(result.payload.notificationType).toBe('SUBSCRIBED');
    expect(result.payload.subtype).toBe('INITIAL_BUY');
    expect(result.transaction?.bundleId).toBe(BUNDLE_ID);
    expect(result.renewalInfo?.originalTransactionId).toBe(result.transaction?.originalTransactionId);
  });

  it('lets unknown notification types, subtypes and product types through', async () => {
    const signed = signNotification(pki, {
      notificationType: 'SOMETHING_APPLE_ADDS_LATER',
      subtype: 'NEW_SUBTYPE',
      bundleId: BUNDLE_ID,
      environment: 'Sandbox',
      transaction: { type: 'Some Future Product Type', inAppOwnershipType: 'NEW_OWNERSHIP' },
    });
    const result = await verifierFor(pki).verifyNotification(signed);
    expect(result.payload.notificationType).toBe('SOMETHING_APPLE_ADDS_LATER');
    expect(result.transaction?.type).toBe('Some Future Product Type');
  });

  describe('app identity', () => {
    it('rejects another bundle id', async () => {
      const signed = signNotification(pki, { notificationType: 'TEST', bundleId: 'com.other.app', environment: 'Sandbox' });
      expect(await codeOf(verifierFor(pki).verifyNotification(signed))).toBe('WRONG_BUNDLE_ID');
      expect(await codeOf(verifierFor(pki).verifyTransaction(pki.sign(transaction({ bundleId: 'com.other.app' }))))).toBe('WRONG_BUNDLE_ID');
    });

    it('rejects a Production notification for another appAppleId, or with none configured', async () => {
      const wrong = productionTestNotification(pki, BUNDLE_ID, 999);
      expect(await codeOf(verifierFor(pki).verifyNotification(wrong))).toBe('WRONG_APP_APPLE_ID');
      const right = pki.sign(notification({}, { environment: 'Production' }));
      expect(await codeOf(verifierFor(pki).verifyNotification(right))).toBe('ACCEPTED');
      expect(await codeOf(verifierFor(pki, { appAppleId: undefined }).verifyNotification(right))).toBe('WRONG_APP_APPLE_ID');
    });

    it('does not require appAppleId on Sandbox notifications', async () => {
      const signed = pki.sign(notification({}, { appAppleId: undefined }));
      expect(await codeOf(verifierFor(pki, { appAppleId: undefined }).verifyNotification(signed))).toBe('ACCEPTED');
    });

    it('rejects environments that are not configured, Xcode and LocalTesting by default', async () => {
      const verifier = verifierFor(pki, { environments: ['Sandbox'] });
      for (const environment of ['Xcode', 'LocalTesting', 'Production']) {
        const signed = pki.sign(notification({}, { environment }));
        expect(await codeOf(verifier.verifyNotification(signed)), environment).toBe('WRONG_ENVIRONMENT');
        expect(await codeOf(verifier.verifyTransaction(pki.sign(transaction({ environment }))))).toBe('WRONG_ENVIRONMENT');
        expect(await codeOf(verifier.verifyRenewalInfo(pki.sign(renewalInfo({ environment }))))).toBe('WRONG_ENVIRONMENT');
      }
      const xcode = verifierFor(pki, { environments: ['Xcode'] });
      expect(await codeOf(xcode.verifyTransaction(pki.sign(transaction({ environment: 'Xcode' }))))).toBe('ACCEPTED');
    });

    it('takes the app identity from summary, externalPurchaseToken or appData when data is absent', async () => {
      const verifier = verifierFor(pki);
      const summary = pki.sign(notification({ data: undefined, summary: { bundleId: BUNDLE_ID, environment: 'Sandbox', appAppleId: APP_APPLE_ID } }));
      expect(await codeOf(verifier.verifyNotification(summary))).toBe('ACCEPTED');
      const otherSummary = pki.sign(notification({ data: undefined, summary: { bundleId: 'x.y', environment: 'Sandbox' } }));
      expect(await codeOf(verifier.verifyNotification(otherSummary))).toBe('WRONG_BUNDLE_ID');

      const sandboxToken = { externalPurchaseId: 'SANDBOX_123', bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID };
      const token = pki.sign(notification({ data: undefined, externalPurchaseToken: sandboxToken }));
      expect(await codeOf(verifier.verifyNotification(token))).toBe('ACCEPTED');
      const productionToken = pki.sign(notification({ data: undefined, externalPurchaseToken: { ...sandboxToken, externalPurchaseId: 'abc' } }));
      expect(await codeOf(verifierFor(pki, { environments: ['Sandbox'] }).verifyNotification(productionToken))).toBe('WRONG_ENVIRONMENT');

      const appData = pki.sign(notification({ data: undefined, appData: { bundleId: 'x.y', environment: 'Sandbox' } }));
      expect(await codeOf(verifier.verifyNotification(appData))).toBe('WRONG_BUNDLE_ID');
    });
  });

  describe('nested JWS', () => {
    it('verifies the nested transaction signature, not only the outer one', async () => {
      const signed = pki.sign(notification({}, { signedTransactionInfo: impostor.sign(transaction()) }));
      expect(await codeOf(verifierFor(pki).verifyNotification(signed))).toBe('UNTRUSTED_ROOT');
      const tampered = pki.sign(transaction()).split('.');
      tampered[1] = Buffer.from(JSON.stringify(transaction({ productId: 'free' }))).toString('base64url');
      const withTampered = pki.sign(notification({}, { signedTransactionInfo: tampered.join('.') }));
      expect(await codeOf(verifierFor(pki).verifyNotification(withTampered))).toBe('INVALID_SIGNATURE');
    });

    it('verifies the nested renewal info and app transaction signatures', async () => {
      const renewal = pki.sign(notification({}, { signedRenewalInfo: impostor.sign(renewalInfo()) }));
      expect(await codeOf(verifierFor(pki).verifyNotification(renewal))).toBe('UNTRUSTED_ROOT');
      const appData = {
        bundleId: BUNDLE_ID,
        environment: 'Sandbox',
        signedAppTransactionInfo: impostor.sign({ bundleId: BUNDLE_ID, environment: 'Sandbox', signedDate: 1 }),
      };
      const app = pki.sign(notification({ data: undefined, appData }));
      expect(await codeOf(verifierFor(pki).verifyNotification(app))).toBe('UNTRUSTED_ROOT');
    });

    it('returns a verified nested app transaction', async () => {
      const appTransaction = { bundleId: BUNDLE_ID, environment: 'Sandbox', appAppleId: APP_APPLE_ID, signedDate: Date.parse('2025-06-01T00:00:00Z') };
      const appData = { bundleId: BUNDLE_ID, environment: 'Sandbox', signedAppTransactionInfo: pki.sign(appTransaction) };
      const result = await verifierFor(pki).verifyNotification(pki.sign(notification({ data: undefined, appData })));
      expect(result.appTransaction?.bundleId).toBe(BUNDLE_ID);
    });

    it('rejects a nested transaction from another environment than its notification', async () => {
      const signed = pki.sign(notification({}, { signedTransactionInfo: pki.sign(transaction({ environment: 'Production' })) }));
      const error = await errorOf(verifierFor(pki).verifyNotification(signed));
      expect(error.code).toBe('NESTED_MISMATCH');
      expect(error.message).toMatch(/transaction environment/);
    });

    it('rejects a nested renewal info from another environment than its notification', async () => {
      const signed = pki.sign(notification({}, { signedRenewalInfo: pki.sign(renewalInfo({ environment: 'Production' })) }));
      expect(await codeOf(verifierFor(pki).verifyNotification(signed))).toBe('NESTED_MISMATCH');
    });

    it('rejects a nested transaction for another bundle than its notification', async () => {
      const signed = pki.sign(notification({}, { signedTransactionInfo: pki.sign(transaction({ bundleId: 'com.other.app' })) }));
      const error = await errorOf(verifierFor(pki).verifyNotification(signed));
      expect(error.code).toBe('NESTED_MISMATCH');
      expect(error.message).toMatch(/bundleId/);
    });

    it('rejects a renewal info for another original transaction than the notification transaction', async () => {
      const signed = pki.sign(
        notification(
          {},
          {
            signedTransactionInfo: pki.sign(transaction({ originalTransactionId: '1000' })),
            signedRenewalInfo: pki.sign(renewalInfo({ originalTransactionId: '2000' })),
          },
        ),
      );
      const error = await errorOf(verifierFor(pki).verifyNotification(signed));
      expect(error.code).toBe('NESTED_MISMATCH');
      expect(error.message).toMatch(/originalTransactionId/);
    });

    it('rejects a nested app transaction for another bundle than its notification', async () => {
      const appData = {
        bundleId: BUNDLE_ID,
        environment: 'Sandbox',
        signedAppTransactionInfo: pki.sign({ bundleId: 'com.other.app', environment: 'Sandbox', signedDate: Date.parse('2025-01-01T00:00:00Z') }),
      };
      expect(await codeOf(verifierFor(pki).verifyNotification(pki.sign(notification({ data: undefined, appData }))))).toBe('NESTED_MISMATCH');
    });
  });

  describe('required fields', () => {
    it('rejects a notification without notificationUUID, notificationType or signedDate', async () => {
      for (const field of ['notificationUUID', 'notificationType', 'signedDate']) {
        const error = await errorOf(verifierFor(pki).verifyNotification(pki.sign(notification({ [field]: undefined }))));
        expect(error.code, field).toBe('MALFORMED_PAYLOAD');
        expect(error.message).toContain(field);
      }
      const wrongType = pki.sign(notification({ notificationUUID: 42 }));
      expect(await codeOf(verifierFor(pki).verifyNotification(wrongType))).toBe('MALFORMED_PAYLOAD');
    });

    it('rejects a notification that carries no data, summary, externalPurchaseToken or appData', async () => {
      expect(await codeOf(verifierFor(pki).verifyNotification(pki.sign(notification({ data: undefined }))))).toBe('MALFORMED_PAYLOAD');
    });

    it('rejects a transaction missing an identifier, its product or purchase date', async () => {
      for (const field of ['transactionId', 'originalTransactionId', 'productId', 'purchaseDate']) {
        const error = await errorOf(verifierFor(pki).verifyTransaction(pki.sign(transaction({ [field]: undefined }))));
        expect(error.code, field).toBe('MALFORMED_PAYLOAD');
        expect(error.message).toContain(field);
      }
      const stringDate = pki.sign(transaction({ purchaseDate: '2025-01-01' }));
      expect(await codeOf(verifierFor(pki).verifyTransaction(stringDate))).toBe('MALFORMED_PAYLOAD');
    });

    it('rejects a renewal info without originalTransactionId', async () => {
      const jws = pki.sign(renewalInfo({ originalTransactionId: undefined }));
      expect(await codeOf(verifierFor(pki).verifyRenewalInfo(jws))).toBe('MALFORMED_PAYLOAD');
    });

    it('rejects a malformed nested transaction inside a valid notification', async () => {
      const signed = pki.sign(notification({}, { signedTransactionInfo: pki.sign(transaction({ transactionId: 7 })) }));
      expect(await codeOf(verifierFor(pki).verifyNotification(signed))).toBe('MALFORMED_PAYLOAD');
    });

    it('rejects a payload that is not a JSON object', async () => {
      const [header, ,] = pki.sign({}).split('.');
      for (const body of ['[1,2]', '"text"', 'not json']) {
        const { signCompactJws } = await import('../../helpers/pki.js');
        const jws = signCompactJws(pki.leafPrivateKey, JSON.parse(Buffer.from(header ?? '', 'base64url').toString()), body);
        expect(await codeOf(verifierFor(pki).verifyTransaction(jws)), body).toBe('MALFORMED_PAYLOAD');
      }
    });
  });

  it('marks no failure but an unreachable OCSP responder as retryable', () => {
    expect(new VerificationError('OCSP_UNAVAILABLE', 'x').retryable).toBe(true);
    for (const code of ['CERTIFICATE_REVOKED', 'OCSP_INVALID', 'INVALID_SIGNATURE', 'WRONG_BUNDLE_ID'] as const) {
      expect(new VerificationError(code, 'x').retryable, code).toBe(false);
    }
  });

  describe('field types the service stores', () => {
    it('refuses signed values the database could not hold with MALFORMED_PAYLOAD', async () => {
      const verifier = verifierFor(pki);
      for (const broken of [
        { quantity: [] },
        { quantity: 2 ** 40 },
        { purchaseDate: 2 ** 53 },
        { expiresDate: -1 },
        { expiresDate: 1.5 },
        { isUpgraded: 'yes' },
        { price: '4.99' },
        { type: 7 },
      ]) {
        const error = await errorOf(verifier.verifyTransaction(pki.sign(transaction(broken))));
        expect(error.code, JSON.stringify(broken)).toBe('MALFORMED_PAYLOAD');
        expect(error.message).toContain(Object.keys(broken)[0]!);
      }
      for (const broken of [{ autoRenewStatus: 'on' }, { gracePeriodExpiresDate: 9e15 }, { isInBillingRetryPeriod: 1 }]) {
        expect(await codeOf(verifier.verifyRenewalInfo(pki.sign(renewalInfo(broken)))), JSON.stringify(broken)).toBe('MALFORMED_PAYLOAD');
      }
    });

    it('refuses a notification whose signedDate or status is out of range', async () => {
      const verifier = verifierFor(pki);
      const huge = signNotification(pki, { notificationType: 'TEST', bundleId: BUNDLE_ID, environment: 'Sandbox', signedDate: 9e15 });
      expect(await codeOf(verifier.verifyNotification(huge))).toBe('MALFORMED_PAYLOAD');
      const status = signNotification(pki, {
        notificationType: 'DID_RENEW',
        bundleId: BUNDLE_ID,
        environment: 'Sandbox',
        status: 1_748_779_200_000,
      });
      expect(await codeOf(verifier.verifyNotification(status))).toBe('MALFORMED_PAYLOAD');
    });
  });
});
