import { beforeAll, describe, expect, it } from 'vitest';
import { AppStoreApiError } from '../../../src/apple/api/index.js';
import { createSignedDataVerifier, VerificationError } from '../../../src/apple/verifier/index.js';
import { createTestPki, signNotification, type TestPki } from '../../helpers/pki.js';
import { useApiDouble } from './fixture.js';
import { TEST_BUNDLE_ID } from '../../helpers/constants.js';

const SIGNED_DATE = Date.parse('2025-06-01T12:00:00Z');
const BUNDLE_ID = TEST_BUNDLE_ID;

function transaction(id: string, extra: object = {}) {
  return {
    transactionId: id,
    originalTransactionId: '1000',
    bundleId: BUNDLE_ID,
    productId: 'com.example.monthly',
    purchaseDate: SIGNED_DATE - 1000,
    signedDate: SIGNED_DATE,
    type: 'Auto-Renewable Subscription',
    environment: 'Sandbox',
    ...extra,
  };
}

function tamper(jws: string): string {
  const [header, , signature] = jws.split('.');
  const payload = Buffer.from(JSON.stringify(transaction('9999'))).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

describe('App Store Server API verified helpers', () => {
  const fixture = useApiDouble();
  let pki: TestPki;
  const verified = () =>
    fixture
      .client({
        verifier: createSignedDataVerifier({
          rootCertificates: [pki.rootDer],
          bundleId: BUNDLE_ID,
          environments: ['Sandbox'],
          onlineChecks: false,
        }),
      })
      .forEnvironment('Sandbox');

  beforeAll(async () => {
    pki = await createTestPki();
  });

  it('getTransactionInfoVerified returns the decoded, verified transaction', async () => {
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: pki.sign(transaction('1')) } });
    await expect(verified().getTransactionInfoVerified('1')).resolves.toMatchObject({ transactionId: '1', productId: 'com.example.monthly' });
  });

  it('getTransactionInfoVerified rejects a transaction whose signature does not match', async () => {
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: tamper(pki.sign(transaction('1'))) } });
    await expect(verified().getTransactionInfoVerified('1')).rejects.toBeInstanceOf(VerificationError);
  });

  it('getTransactionInfoVerified rejects a transaction signed by a PKI that is not trusted', async () => {
    const stranger = await createTestPki();
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: stranger.sign(transaction('1')) } });
    await expect(verified().getTransactionInfoVerified('1')).rejects.toBeInstanceOf(VerificationError);
  });

  it('getTransactionInfoVerified reports an answer without signed data as API_BAD_RESPONSE', async () => {
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: {} });
    await expect(verified().getTransactionInfoVerified('1')).rejects.toMatchObject({ code: 'API_BAD_RESPONSE' });
  });

  it('getAllSubscriptionStatusesVerified decodes transaction and renewal info per subscription', async () => {
    const renewal = {
      originalTransactionId: '1000',
      productId: 'com.example.monthly',
      autoRenewStatus: 1,
      signedDate: SIGNED_DATE,
      environment: 'Sandbox',
    };
    fixture.double.reply('GET', '/inApps/v1/subscriptions/1', {
      body: {
        environment: 'Sandbox',
        bundleId: BUNDLE_ID,
        appAppleId: 123,
        data: [
          {
            subscriptionGroupIdentifier: 'g1',
            lastTransactions: [
              { status: 1, originalTransactionId: '1000', signedTransactionInfo: pki.sign(transaction('1')), signedRenewalInfo: pki.sign(renewal) },
            ],
          },
          {
            subscriptionGroupIdentifier: 'g2',
            lastTransactions: [{ status: 2, originalTransactionId: '2000', signedTransactionInfo: pki.sign(transaction('2', { originalTransactionId: '2000' })) }],
          },
        ],
      },
    });
    const statuses = await verified().getAllSubscriptionStatusesVerified('1', [1, 2]);

    expect(fixture.double.requests[0]?.query).toEqual({ status: ['1', '2'] });
    expect(statuses).toMatchObject({ environment: 'Sandbox', bundleId: BUNDLE_ID, appAppleId: 123 });
    expect(statuses.subscriptions).toHaveLength(2);
    expect(statuses.subscriptions[0]).toMatchObject({
      subscriptionGroupIdentifier: 'g1',
      status: 1,
      transaction: { transactionId: '1' },
      renewalInfo: { autoRenewStatus: 1 },
    });
    expect(statuses.subscriptions[1]).toMatchObject({ subscriptionGroupIdentifier: 'g2', status: 2, renewalInfo: null });
  });

  it('getAllSubscriptionStatusesVerified fails as a whole when one renewal info is forged', async () => {
    const forged = tamper(pki.sign(transaction('1')));
    fixture.double.reply('GET', '/inApps/v1/subscriptions/1', {
      body: { data: [{ lastTransactions: [{ signedTransactionInfo: pki.sign(transaction('1')), signedRenewalInfo: forged }] }] },
    });
    await expect(verified().getAllSubscriptionStatusesVerified('1')).rejects.toBeInstanceOf(VerificationError);
  });

  it('iterateTransactionHistoryVerified yields every verified transaction across pages', async () => {
    fixture.double.reply(
      'GET',
      '/inApps/v2/history/1',
      { body: { revision: 'r1', hasMore: true, signedTransactions: [pki.sign(transaction('1')), pki.sign(transaction('2'))] } },
      { body: { revision: 'r2', hasMore: false, signedTransactions: [pki.sign(transaction('3'))] } },
    );
    const ids: string[] = [];
    for await (const t of verified().iterateTransactionHistoryVerified('1')) ids.push(t.transactionId);
    expect(ids).toEqual(['1', '2', '3']);
  });

  it('iterateRefundHistoryVerified yields verified refunded transactions', async () => {
    fixture.double.reply('GET', '/inApps/v2/refund/lookup/1', {
      body: { hasMore: false, signedTransactions: [pki.sign(transaction('7', { revocationDate: SIGNED_DATE, revocationReason: 0 }))] },
    });
    const refunds = [];
    for await (const t of verified().iterateRefundHistoryVerified('1')) refunds.push(t);
    expect(refunds).toMatchObject([{ transactionId: '7', revocationReason: 0 }]);
  });

  it('lookUpOrderIdVerified returns the status and the verified transactions', async () => {
    fixture.double.reply('GET', '/inApps/v1/lookup/ORDER1', { body: { status: 0, signedTransactions: [pki.sign(transaction('5'))] } });
    const answer = await verified().lookUpOrderIdVerified('ORDER1');
    expect(answer.status).toBe(0);
    expect(answer.transactions.map((t) => t.transactionId)).toEqual(['5']);
  });

  it('getAppTransactionInfoVerified returns the verified app transaction', async () => {
    const appTransaction = { bundleId: BUNDLE_ID, receiptType: 'Sandbox', environment: 'Sandbox', appTransactionId: 'at-1', signedDate: SIGNED_DATE };
    fixture.double.reply('GET', '/inApps/v1/transactions/appTransactions/1', { body: { signedAppTransactionInfo: pki.sign(appTransaction) } });
    await expect(verified().getAppTransactionInfoVerified('1')).resolves.toMatchObject({ appTransactionId: 'at-1' });
  });

  it('iterateNotificationHistoryVerified yields verified notifications with their send attempts', async () => {
    const n1 = signNotification(pki, { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY', bundleId: BUNDLE_ID, environment: 'Sandbox' });
    const n2 = signNotification(pki, { notificationType: 'DID_RENEW', bundleId: BUNDLE_ID, environment: 'Sandbox' });
    fixture.double.reply(
      'POST',
      '/inApps/v1/notifications/history',
      { body: { paginationToken: 't1', hasMore: true, notificationHistory: [{ signedPayload: n1, sendAttempts: [{ attemptDate: 1, sendAttemptResult: 'TIMED_OUT' }] }] } },
      { body: { hasMore: false, notificationHistory: [{ signedPayload: n2 }] } },
    );
    const items = [];
    for await (const item of verified().iterateNotificationHistoryVerified({ startDate: 1, endDate: 2 })) items.push(item);

    expect(items.map((i) => i.notification.payload.notificationType)).toEqual(['SUBSCRIBED', 'DID_RENEW']);
    expect(items[0]?.signedPayload).toBe(n1);
    expect(items[0]?.notification.transaction?.transactionId).toBe('2000000000000002');
    expect(items[0]?.sendAttempts).toEqual([{ attemptDate: 1, sendAttemptResult: 'TIMED_OUT' }]);
    expect(items[1]?.sendAttempts).toEqual([]);
  });

  it('getTestNotificationStatusVerified verifies the test notification', async () => {
    const payload = pki.sign({ notificationType: 'TEST', notificationUUID: 'u-1', signedDate: SIGNED_DATE, data: { bundleId: BUNDLE_ID, environment: 'Sandbox' } });
    fixture.double.reply('GET', '/inApps/v1/notifications/test/tok', { body: { signedPayload: payload, sendAttempts: [{ attemptDate: 5, sendAttemptResult: 'SUCCESS' }] } });
    const status = await verified().getTestNotificationStatusVerified('tok');
    expect(status.notification.payload.notificationUUID).toBe('u-1');
    expect(status.sendAttempts).toHaveLength(1);
  });

  it('refuses verified helpers on a client built without a verifier, before calling Apple', async () => {
    const api = fixture.client().forEnvironment('Sandbox');
    const error = await api.getTransactionInfoVerified('1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreApiError);
    expect(error).toMatchObject({ code: 'API_NO_VERIFIER' });
    expect(fixture.double.requests).toHaveLength(0);
  });
});
