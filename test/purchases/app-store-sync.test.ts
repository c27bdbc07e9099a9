import { beforeAll, describe, expect, it } from 'vitest';
import { createSignedDataVerifier, VerificationError } from '../../src/apple/verifier/index.js';
import type { Database } from '../../src/db/client.js';
import { createAppStoreSync } from '../../src/purchases/app-store-sync.usecase.js';
import { useApiDouble } from '../apple/api/fixture.js';
import { TEST_BUNDLE_ID } from '../helpers/constants.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

// What the sync asks Apple and how it verifies the answers; what it writes is covered
// through the routes that use it (refresh, V1, receipts, transactions).

const SIGNED_DATE = Date.parse('2025-06-01T12:00:00Z');

function transaction(id: string, extra: object = {}) {
  return {
    transactionId: id,
    originalTransactionId: '1000',
    bundleId: TEST_BUNDLE_ID,
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

// updatesOf and transaction() read Apple only; nothing here reaches the database.
const noDatabase = new Proxy(
  {},
  {
    get() {
      throw new Error('the database is not used here');
    },
  },
) as Database;

describe('App Store sync: statuses and transaction info, verified', () => {
  const fixture = useApiDouble();
  let pki: TestPki;
  const verifier = () =>
    createSignedDataVerifier({ rootCertificates: [pki.rootDer], bundleId: TEST_BUNDLE_ID, environments: ['Sandbox'], onlineChecks: false });
  const clock = () => new Date(SIGNED_DATE);
  const sync = () => createAppStoreSync({ db: noDatabase, appStoreApi: fixture.client({ maxAttempts: 1 }), verifier: verifier(), clock });
  const subscription = { originalTransactionId: '1000', transactionId: '1000', subscription: true };
  const oneTime = { originalTransactionId: '1', transactionId: '1', subscription: false };

  beforeAll(async () => {
    pki = await createTestPki();
  });

  it('turns each subscription of a statuses answer into one update with its JWS, renewal info and status', async () => {
    const renewal = {
      originalTransactionId: '1000',
      productId: 'com.example.monthly',
      autoRenewStatus: 1,
      signedDate: SIGNED_DATE + 5,
      environment: 'Sandbox',
    };
    const first = pki.sign(transaction('1'));
    const renewalJws = pki.sign(renewal);
    const second = pki.sign(transaction('2', { originalTransactionId: '2000' }));
    fixture.double.reply('GET', '/inApps/v1/subscriptions/1000', {
      body: {
        environment: 'Sandbox',
        bundleId: TEST_BUNDLE_ID,
        data: [
          {
            subscriptionGroupIdentifier: 'g1',
            lastTransactions: [{ status: 1, originalTransactionId: '1000', signedTransactionInfo: first, signedRenewalInfo: renewalJws }],
          },
          { subscriptionGroupIdentifier: 'g2', lastTransactions: [{ status: 2, originalTransactionId: '2000', signedTransactionInfo: second }] },
        ],
      },
    });

    const updates = await sync().updatesOf('Sandbox', [subscription, { ...subscription, originalTransactionId: '2000', transactionId: '2000' }]);

    // One answer covers both subscriptions: Apple is asked once.
    expect(fixture.double.requests.map((r) => r.path)).toEqual(['/inApps/v1/subscriptions/1000']);
    expect(updates).toHaveLength(2);
    expect(updates[0]).toMatchObject({
      transactions: [{ record: { transactionId: '1', source: 'api' }, signedTransaction: first }],
      renewal: { record: { autoRenewStatus: 1, source: 'api' }, signedRenewalInfo: renewalJws },
      // As fresh as the newest signed item it came with: the renewal info here.
      status: { originalTransactionId: '1000', appleStatus: 1, statusSignedDate: new Date(SIGNED_DATE + 5) },
    });
    expect(updates[1]).toMatchObject({
      transactions: [{ record: { transactionId: '2', originalTransactionId: '2000' }, signedTransaction: second }],
      status: { originalTransactionId: '2000', appleStatus: 2, statusSignedDate: new Date(SIGNED_DATE) },
    });
    expect(updates[1]?.renewal).toBeUndefined();
  });

  it('fails as a whole when one renewal info of a statuses answer is forged', async () => {
    fixture.double.reply('GET', '/inApps/v1/subscriptions/1000', {
      body: { data: [{ lastTransactions: [{ signedTransactionInfo: pki.sign(transaction('1')), signedRenewalInfo: tamper(pki.sign(transaction('1'))) }] }] },
    });
    await expect(sync().updatesOf('Sandbox', [subscription])).rejects.toBeInstanceOf(VerificationError);
  });

  it('looks a purchase that is no subscription up by transaction info, keeping its JWS and giving it no status', async () => {
    const jws = pki.sign(transaction('1', { originalTransactionId: '1', type: 'Non-Consumable' }));
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: jws } });
    const updates = await sync().updatesOf('Sandbox', [oneTime]);
    expect(updates).toEqual([{ transactions: [expect.objectContaining({ signedTransaction: jws })] }]);
    expect(updates[0]?.transactions[0]?.record).toMatchObject({ transactionId: '1', productId: 'com.example.monthly', source: 'api' });
  });

  it('rejects transaction info whose signature does not match', async () => {
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: tamper(pki.sign(transaction('1'))) } });
    await expect(sync().updatesOf('Sandbox', [oneTime])).rejects.toBeInstanceOf(VerificationError);
  });

  it('rejects transaction info signed by a PKI that is not trusted', async () => {
    const stranger = await createTestPki();
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: stranger.sign(transaction('1')) } });
    await expect(sync().updatesOf('Sandbox', [oneTime])).rejects.toBeInstanceOf(VerificationError);
  });

  it('reports transaction info without signed data as APP_STORE_BAD_RESPONSE', async () => {
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: {} });
    await expect(sync().updatesOf('Sandbox', [oneTime])).rejects.toMatchObject({ code: 'APP_STORE_BAD_RESPONSE' });
  });

  it('refuses to ask Apple without Server API credentials, but still verifies a posted transaction', async () => {
    const offline = createAppStoreSync({ db: noDatabase, appStoreApi: null, verifier: verifier(), clock });
    expect(offline.connected).toBe(false);
    await expect(offline.updatesOf('Sandbox', [oneTime])).rejects.toMatchObject({ code: 'API_NOT_CONFIGURED' });
    await expect(offline.transaction({ transactionId: '1' }, ['Sandbox'])).rejects.toMatchObject({ code: 'API_NOT_CONFIGURED' });
    const jws = pki.sign(transaction('1'));
    await expect(offline.transaction({ signedTransaction: jws }, ['Sandbox'])).resolves.toMatchObject({
      originalTransactionId: '1000',
      update: { transactions: [{ record: { transactionId: '1', source: 'api' }, signedTransaction: jws }] },
    });
  });
});
