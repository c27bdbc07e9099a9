import { afterEach, describe, expect, it } from 'vitest';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestApp, useTestPki } from '../helpers/fixtures.js';
import { at, getEntitlements, manualClock, postTransaction, renewedStatusesAnswer, transactionPayload } from './app-backend-fixtures.js';

describe(`entitlement refresh from the App Store Server API (${backendName})`, () => {
  const time = manualClock('2026-11-10T00:00:00Z');
  const apple = useAppStoreApiDouble();
  const trusted = useTestPki();
  const t = useTestApp(() => ({ clock: time.clock, pki: trusted.pki, overrides: { appStoreApi: apple.client() } }));
  const unreachable = useTestApp(() => ({ clock: time.clock, pki: trusted.pki, overrides: { appStoreApi: apple.client({ baseUrl: 'http://127.0.0.1:1' }) } }));
  afterEach(() => {
    apple.double.reset();
    apple.double.requests.length = 0;
  });
  // Reads only: linking also asks Apple, in the background, to set the user's appAccountToken (a PUT).
  const appleReads = () => apple.double.requests.filter((r) => r.method === 'GET');

  /** Apple's answer: the renewal that happened, signed now, with status active. */
  const renewedAnswer = (originalTransactionId: string, renewalId: string, signedDate: number) =>
    renewedStatusesAnswer(t.pki, originalTransactionId, renewalId, signedDate);

  it('with refresh=true applies the signed statuses Apple returns before answering', async () => {
    // Apple signs its answer after the renewal it reports began (renewal info signed weeks
    // before a period would be about an earlier one).
    time.set('2026-12-10T00:00:00Z');
    await postTransaction(t, 'u-refresh', transactionPayload({ transactionId: '800', purchaseDate: at('2026-11-01T00:00:00Z') }));
    apple.double.reply('GET', '/inApps/v1/subscriptions/800', { body: renewedAnswer('800', '801', at('2026-12-10T00:00:00Z')) });

    const response = await getEntitlements(t, 'u-refresh', '?refresh=true');

    expect(response.statusCode).toBe(200);
    expect(response.headers['x-entitlements-stale']).toBeUndefined();
    expect(response.json().entitlements[0]).toMatchObject({ transactionId: '801', expiresDate: '2027-01-01T00:00:00.000Z', willRenew: false });
    expect(appleReads().map((r) => r.path)).toEqual(['/inApps/v1/subscriptions/800']);
  });

  it('refreshes on its own when a stored period has ended with no news, and then says active', async () => {
    time.set('2026-11-10T00:00:00Z');
    await postTransaction(t, 'u-auto', transactionPayload({ transactionId: '810', purchaseDate: at('2026-11-01T00:00:00Z') }));
    time.set('2026-12-02T00:00:00Z');
    apple.double.reply('GET', '/inApps/v1/subscriptions/810', { body: renewedAnswer('810', '811', at('2026-12-02T00:00:00Z')) });

    const response = await getEntitlements(t, 'u-auto');

    expect(response.json().entitlements[0]).toMatchObject({ status: 'active', transactionId: '811' });
    expect(appleReads()).toHaveLength(1);
    // Newer data is stored now: the next answer needs no call.
    await getEntitlements(t, 'u-auto');
    expect(appleReads()).toHaveLength(1);
  });

  it('does not call the App Store for a subscription whose period is still running', async () => {
    time.set('2026-11-10T00:00:00Z');
    await postTransaction(t, 'u-running', transactionPayload({ transactionId: '820', purchaseDate: at('2026-11-01T00:00:00Z') }));
    const response = await getEntitlements(t, 'u-running');
    expect(response.json().entitlements[0]).toMatchObject({ status: 'active' });
    expect(appleReads()).toHaveLength(0);
  });

  it('answers 200 from stored data with X-Entitlements-Stale when the App Store cannot be reached', async () => {
    time.set('2026-11-10T00:00:00Z');
    await postTransaction(unreachable, 'u-stale', transactionPayload({ transactionId: '830', purchaseDate: at('2026-11-01T00:00:00Z') }));

    const explicit = await getEntitlements(unreachable, 'u-stale', '?refresh=true');
    expect(explicit.statusCode).toBe(200);
    expect(explicit.headers['x-entitlements-stale']).toBe('true');
    expect(explicit.json().entitlements[0]).toMatchObject({ transactionId: '830', status: 'active' });

    time.set('2026-12-02T00:00:00Z');
    const automatic = await getEntitlements(unreachable, 'u-stale');
    expect(automatic.statusCode).toBe(200);
    expect(automatic.headers['x-entitlements-stale']).toBe('true');
    expect(automatic.json().entitlements[0]).toMatchObject({ status: 'expired' });
  });

  it('answers from stored data with X-Entitlements-Stale when the App Store answers with an error', async () => {
    time.set('2026-11-10T00:00:00Z');
    await postTransaction(t, 'u-error', transactionPayload({ transactionId: '840', purchaseDate: at('2026-11-01T00:00:00Z') }));
    apple.double.reply('GET', '/inApps/v1/subscriptions/840', { status: 500, body: { errorCode: 5000000, errorMessage: 'An unknown error occurred.' } });

    const response = await getEntitlements(t, 'u-error', '?refresh=true');
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-entitlements-stale']).toBe('true');
  });
});
