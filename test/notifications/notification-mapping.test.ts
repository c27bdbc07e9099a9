import { describe, expect, it } from 'vitest';
import { statusFromNotification } from '../../src/notifications/notification-mapping.js';

describe('statusFromNotification', () => {
  it("prefers Apple's data.status when the notification carries it", () => {
    expect(statusFromNotification('REFUND', undefined, 1)).toBe(1);
    expect(statusFromNotification('DID_RENEW', undefined, 3)).toBe(3);
  });

  it.each([
    ['SUBSCRIBED', 'INITIAL_BUY', 1],
    ['SUBSCRIBED', 'RESUBSCRIBE', 1],
    ['DID_RENEW', undefined, 1],
    ['DID_RENEW', 'BILLING_RECOVERY', 1],
    ['OFFER_REDEEMED', 'UPGRADE', 1],
    ['RENEWAL_EXTENDED', undefined, 1],
    ['DID_CHANGE_RENEWAL_PREF', 'UPGRADE', 1],
    ['DID_FAIL_TO_RENEW', 'GRACE_PERIOD', 4],
    ['DID_FAIL_TO_RENEW', undefined, 3],
    ['GRACE_PERIOD_EXPIRED', undefined, 3],
    ['EXPIRED', 'VOLUNTARY', 2],
    ['EXPIRED', 'BILLING_RETRY', 2],
    ['REVOKE', undefined, 5],
  ] as const)('infers the status of %s %s as %s when data.status is absent', (type, subtype, expected) => {
    expect(statusFromNotification(type, subtype)).toBe(expected);
  });

  it.each([
    ['REFUND', undefined],
    ['REFUND_REVERSED', undefined],
    ['DID_CHANGE_RENEWAL_STATUS', 'AUTO_RENEW_DISABLED'],
    ['DID_CHANGE_RENEWAL_PREF', 'DOWNGRADE'],
    ['PRICE_INCREASE', 'PENDING'],
    ['ONE_TIME_CHARGE', undefined],
    ['TEST', undefined],
    ['SOMETHING_NEW', 'ODD'],
  ] as const)('infers nothing from %s %s without data.status', (type, subtype) => {
    expect(statusFromNotification(type, subtype, undefined)).toBeNull();
  });
});
