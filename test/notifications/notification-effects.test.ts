import { describe, expect, it } from 'vitest';
import { HOUR } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { DAY, deliver, MONTH, type Scenario, scenario, storedPurchase, T0 } from './support.js';

// Each notification type and subtype that changes state, delivered over HTTP, then the
// stored rows and the entitlement state the model derives from them at a chosen time.
describe(`what each state-changing notification does to a subscription (${backendName})`, () => {
  const t = useTestApp();

  const stored = (s: Scenario) => storedPurchase(t.deps.database.db, s.originalTransactionId);
  const subscribe = (s: Scenario) => deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 }));
  const renew = (s: Scenario, period: number, subtype?: string) =>
    deliver(t.app, s.sign({ type: 'DID_RENEW', ...(subtype ? { subtype } : {}), signedDate: T0 + period * MONTH - HOUR, period, status: 1 }));

  it('SUBSCRIBED INITIAL_BUY starts an active period', async () => {
    const s = scenario(t.pki);
    expect(await subscribe(s)).toBe('processed');
    const p = await stored(s);
    expect(p.transactions).toMatchObject([{ transactionId: s.originalTransactionId, expiresDate: new Date(T0 + MONTH), revocationDate: null }]);
    expect(p.subscription).toMatchObject({ appleStatus: 1, autoRenewStatus: 1, autoRenewProductId: s.productId });
    expect(p.state(T0 + DAY)).toMatchObject({ status: 'active', active: true, willRenew: true });
    expect(p.state(T0 + MONTH + DAY)?.status).toBe('expired');
  });

  it('SUBSCRIBED RESUBSCRIBE starts a new period after an expiry', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(t.app, s.sign({ type: 'EXPIRED', subtype: 'VOLUNTARY', signedDate: T0 + MONTH, period: 0, status: 2, renewal: { autoRenewStatus: 0 } }));
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'RESUBSCRIBE', signedDate: T0 + 2 * MONTH, period: 2, status: 1 }));
    expect((await stored(s)).state(T0 + 2 * MONTH + DAY)).toMatchObject({ status: 'active', transactionId: s.transactionId(2) });
  });

  it('DID_RENEW makes the new period current', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await renew(s, 1);
    const p = await stored(s);
    expect(p.transactions.map((x) => x.transactionId)).toEqual([s.transactionId(0), s.transactionId(1)]);
    expect(p.state(T0 + MONTH + DAY)).toMatchObject({ status: 'active', transactionId: s.transactionId(1), expiresDate: new Date(T0 + 2 * MONTH) });
  });

  it('a REFUND of an older period leaves the newer active period active', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await renew(s, 1);
    await deliver(
      t.app,
      s.sign({
        type: 'REFUND',
        signedDate: T0 + MONTH + 5 * DAY,
        period: 0,
        transaction: { revocationDate: T0 + MONTH + 5 * DAY, revocationReason: 0 },
        status: 1,
      }),
    );
    const p = await stored(s);
    expect(p.transactions[0]).toMatchObject({ transactionId: s.transactionId(0), revocationDate: new Date(T0 + MONTH + 5 * DAY), revocationReason: 0 });
    expect(p.state(T0 + MONTH + 6 * DAY)).toMatchObject({ status: 'active', transactionId: s.transactionId(1), revocationDate: null });
  });

  it('a REFUND of the latest period revokes the subscription', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await renew(s, 1);
    await deliver(
      t.app,
      s.sign({ type: 'REFUND', signedDate: T0 + MONTH + 5 * DAY, period: 1, transaction: { revocationDate: T0 + MONTH + 5 * DAY, revocationReason: 1 } }),
    );
    const p = await stored(s);
    expect(p.state(T0 + MONTH + 6 * DAY)).toMatchObject({ status: 'revoked', active: false, transactionId: s.transactionId(1) });
  });

  it('REFUND_REVERSED restores the access a refund ended', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(t.app, s.sign({ type: 'REFUND', signedDate: T0 + 2 * DAY, period: 0, transaction: { revocationDate: T0 + 2 * DAY, revocationReason: 0 } }));
    expect((await stored(s)).state(T0 + 3 * DAY)?.status).toBe('revoked');
    await deliver(t.app, s.sign({ type: 'REFUND_REVERSED', signedDate: T0 + 4 * DAY, period: 0, status: 1 }));
    const p = await stored(s);
    expect(p.transactions[0]?.revocationDate).toBeNull();
    expect(p.state(T0 + 5 * DAY)).toMatchObject({ status: 'active' });
  });

  it('DID_FAIL_TO_RENEW GRACE_PERIOD keeps access until the grace period ends, then billing retry', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    const graceEnds = T0 + MONTH + 16 * DAY;
    await deliver(
      t.app,
      s.sign({
        type: 'DID_FAIL_TO_RENEW',
        subtype: 'GRACE_PERIOD',
        signedDate: T0 + MONTH + HOUR,
        period: 0,
        status: 4,
        renewal: { isInBillingRetryPeriod: true, gracePeriodExpiresDate: graceEnds, expirationIntent: 2 },
      }),
    );
    const p = await stored(s);
    expect(p.subscription).toMatchObject({ appleStatus: 4, isInBillingRetryPeriod: true, gracePeriodExpiresDate: new Date(graceEnds) });
    expect(p.state(T0 + MONTH + 2 * DAY)).toMatchObject({ status: 'grace_period', active: true, gracePeriodExpiresDate: new Date(graceEnds) });
    expect(p.state(graceEnds + DAY)).toMatchObject({ status: 'billing_retry', active: false });
  });

  it('GRACE_PERIOD_EXPIRED ends access while Apple still retries billing', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    const graceEnds = T0 + MONTH + 6 * DAY;
    const renewal = { isInBillingRetryPeriod: true, gracePeriodExpiresDate: graceEnds, expirationIntent: 2 };
    await deliver(t.app, s.sign({ type: 'DID_FAIL_TO_RENEW', subtype: 'GRACE_PERIOD', signedDate: T0 + MONTH + HOUR, period: 0, status: 4, renewal }));
    await deliver(t.app, s.sign({ type: 'GRACE_PERIOD_EXPIRED', signedDate: graceEnds, period: 0, status: 3, renewal }));
    const p = await stored(s);
    expect(p.subscription?.appleStatus).toBe(3);
    expect(p.state(graceEnds + HOUR)).toMatchObject({ status: 'billing_retry', active: false });
  });

  it('DID_FAIL_TO_RENEW without grace is billing retry, and DID_RENEW BILLING_RECOVERY makes it active again', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({
        type: 'DID_FAIL_TO_RENEW',
        signedDate: T0 + MONTH + HOUR,
        period: 0,
        status: 3,
        renewal: { isInBillingRetryPeriod: true, expirationIntent: 2 },
      }),
    );
    expect((await stored(s)).state(T0 + MONTH + 2 * DAY)).toMatchObject({ status: 'billing_retry', active: false });
    await deliver(
      t.app,
      s.sign({
        type: 'DID_RENEW',
        subtype: 'BILLING_RECOVERY',
        signedDate: T0 + MONTH + 3 * DAY,
        period: 1,
        transaction: { purchaseDate: T0 + MONTH + 3 * DAY, expiresDate: T0 + 2 * MONTH + 3 * DAY },
        status: 1,
        renewal: { isInBillingRetryPeriod: false },
      }),
    );
    expect((await stored(s)).state(T0 + MONTH + 4 * DAY)).toMatchObject({ status: 'active', transactionId: s.transactionId(1) });
  });

  it('DID_CHANGE_RENEWAL_STATUS AUTO_RENEW_DISABLED keeps access until expiry with willRenew false; EXPIRED VOLUNTARY then expires it', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: 'AUTO_RENEW_DISABLED',
        signedDate: T0 + 3 * DAY,
        period: 0,
        status: 1,
        renewal: { autoRenewStatus: 0 },
      }),
    );
    let p = await stored(s);
    expect(p.subscription?.autoRenewStatus).toBe(0);
    expect(p.state(T0 + 4 * DAY)).toMatchObject({ status: 'active', willRenew: false });
    await deliver(
      t.app,
      s.sign({
        type: 'EXPIRED',
        subtype: 'VOLUNTARY',
        signedDate: T0 + MONTH + HOUR,
        period: 0,
        status: 2,
        renewal: { autoRenewStatus: 0, expirationIntent: 1 },
      }),
    );
    p = await stored(s);
    expect(p.subscription).toMatchObject({ appleStatus: 2, expirationIntent: 1 });
    expect(p.state(T0 + MONTH + 2 * HOUR)).toMatchObject({ status: 'expired', active: false });
  });

  it('DID_CHANGE_RENEWAL_STATUS AUTO_RENEW_ENABLED turns willRenew back on', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({ type: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_DISABLED', signedDate: T0 + 3 * DAY, period: 0, renewal: { autoRenewStatus: 0 } }),
    );
    await deliver(
      t.app,
      s.sign({ type: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_ENABLED', signedDate: T0 + 4 * DAY, period: 0, renewal: { autoRenewStatus: 1 } }),
    );
    expect((await stored(s)).state(T0 + 5 * DAY)).toMatchObject({ status: 'active', willRenew: true });
  });

  it('DID_CHANGE_RENEWAL_PREF UPGRADE makes the higher product current at once', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    const upgradedAt = T0 + 10 * DAY;
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_PREF',
        subtype: 'UPGRADE',
        signedDate: upgradedAt,
        period: 1,
        transaction: { productId: 'com.example.pro.monthly', purchaseDate: upgradedAt, expiresDate: upgradedAt + MONTH, transactionReason: 'PURCHASE' },
        renewal: { productId: 'com.example.pro.monthly', autoRenewProductId: 'com.example.pro.monthly' },
        status: 1,
      }),
    );
    const p = await stored(s);
    expect(p.transactions.map((x) => x.productId)).toEqual([s.productId, 'com.example.pro.monthly']);
    expect(p.state(upgradedAt + DAY)).toMatchObject({ status: 'active', productId: 'com.example.pro.monthly', expiresDate: new Date(upgradedAt + MONTH) });
  });

  it('DID_CHANGE_RENEWAL_PREF DOWNGRADE changes the next renewal only, and a later change without subtype cancels it', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_PREF',
        subtype: 'DOWNGRADE',
        signedDate: T0 + 5 * DAY,
        period: 0,
        renewal: { autoRenewProductId: 'com.example.basic.monthly' },
      }),
    );
    let p = await stored(s);
    expect(p.subscription?.appleStatus).toBe(1);
    expect(p.state(T0 + 6 * DAY)).toMatchObject({ status: 'active', productId: s.productId, autoRenewProductId: 'com.example.basic.monthly' });
    await deliver(t.app, s.sign({ type: 'DID_CHANGE_RENEWAL_PREF', signedDate: T0 + 7 * DAY, period: 0 }));
    p = await stored(s);
    expect(p.state(T0 + 8 * DAY)).toMatchObject({ status: 'active', autoRenewProductId: s.productId });
  });

  it('REVOKE of a family-shared purchase ends access', async () => {
    const s = scenario(t.pki);
    await deliver(
      t.app,
      s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, transaction: { inAppOwnershipType: 'FAMILY_SHARED' }, status: 1 }),
    );
    expect((await stored(s)).state(T0 + DAY)).toMatchObject({ status: 'active', ownershipType: 'FAMILY_SHARED' });
    await deliver(
      t.app,
      s.sign({
        type: 'REVOKE',
        signedDate: T0 + 3 * DAY,
        period: 0,
        transaction: { inAppOwnershipType: 'FAMILY_SHARED', revocationDate: T0 + 3 * DAY, revocationReason: 0 },
        status: 5,
      }),
    );
    const p = await stored(s);
    expect(p.subscription?.appleStatus).toBe(5);
    expect(p.state(T0 + 4 * DAY)).toMatchObject({ status: 'revoked', active: false, revocationDate: new Date(T0 + 3 * DAY) });
  });

  it('RENEWAL_EXTENDED moves the expiry of the current period', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({ type: 'RENEWAL_EXTENDED', signedDate: T0 + 20 * DAY, period: 0, transaction: { expiresDate: T0 + MONTH + 10 * DAY }, status: 1 }),
    );
    const p = await stored(s);
    expect(p.transactions[0]?.expiresDate).toEqual(new Date(T0 + MONTH + 10 * DAY));
    expect(p.state(T0 + MONTH + 5 * DAY)).toMatchObject({ status: 'active' });
    expect(p.state(T0 + MONTH + 11 * DAY)?.status).toBe('expired');
  });

  it('EXPIRED BILLING_RETRY ends a subscription whose billing never recovered', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({
        type: 'DID_FAIL_TO_RENEW',
        signedDate: T0 + MONTH + HOUR,
        period: 0,
        status: 3,
        renewal: { isInBillingRetryPeriod: true, expirationIntent: 2 },
      }),
    );
    await deliver(
      t.app,
      s.sign({
        type: 'EXPIRED',
        subtype: 'BILLING_RETRY',
        signedDate: T0 + 2 * MONTH,
        period: 0,
        status: 2,
        renewal: { isInBillingRetryPeriod: false, expirationIntent: 2, autoRenewStatus: 0 },
      }),
    );
    expect((await stored(s)).state(T0 + 2 * MONTH + HOUR)).toMatchObject({ status: 'expired', active: false });
  });

  it('ignores an older status that arrives after a newer one', async () => {
    const s = scenario(t.pki);
    await subscribe(s);
    await deliver(
      t.app,
      s.sign({ type: 'EXPIRED', subtype: 'VOLUNTARY', signedDate: T0 + MONTH + HOUR, period: 0, status: 2, renewal: { autoRenewStatus: 0 } }),
    );
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: 'AUTO_RENEW_DISABLED',
        signedDate: T0 + 3 * DAY,
        period: 0,
        status: 1,
        renewal: { autoRenewStatus: 0 },
      }),
    );
    const p = await stored(s);
    expect(p.subscription).toMatchObject({ appleStatus: 2, statusSignedDate: new Date(T0 + MONTH + HOUR), renewalSignedDate: new Date(T0 + MONTH + HOUR) });
  });

  it('ONE_TIME_CHARGE of a non-consumable grants access until revoked; a consumable grants nothing', async () => {
    const lifetime = scenario(t.pki, { productId: 'com.example.lifetime' });
    await deliver(
      t.app,
      lifetime.sign({
        type: 'ONE_TIME_CHARGE',
        signedDate: T0,
        period: 0,
        renewal: null,
        status: null,
        transaction: { type: 'Non-Consumable', expiresDate: undefined, subscriptionGroupIdentifier: undefined },
      }),
    );
    const kept = await stored(lifetime);
    expect(kept.subscription).toBeUndefined();
    expect(kept.state(T0 + 10 * 365 * DAY)).toMatchObject({ status: 'active', productType: 'Non-Consumable', expiresDate: null });

    const coins = scenario(t.pki, { productId: 'com.example.coins' });
    await deliver(
      t.app,
      coins.sign({
        type: 'ONE_TIME_CHARGE',
        signedDate: T0,
        period: 0,
        renewal: null,
        status: null,
        transaction: { type: 'Consumable', expiresDate: undefined },
      }),
    );
    const consumed = await stored(coins);
    expect(consumed.transactions).toHaveLength(1);
    expect(consumed.state(T0 + DAY)).toBeNull();
  });
});
