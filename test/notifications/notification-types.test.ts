import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NOTIFICATION_SUBTYPES, NOTIFICATION_TYPES } from '../../src/apple/types.js';
import { describeNotification, NOTIFICATION_HANDLING, renderNotificationTable } from '../../src/notifications/notification-types.js';
import { projectRoot } from '../../src/paths.js';

describe('the V2 notification handling table', () => {
  it('covers every notification type Apple defines, and nothing else', () => {
    expect(Object.keys(NOTIFICATION_HANDLING).sort()).toEqual([...NOTIFICATION_TYPES].sort());
    expect(NOTIFICATION_TYPES).toHaveLength(23);
  });

  it('mentions every subtype Apple defines under some type', () => {
    const listed = new Set(Object.values(NOTIFICATION_HANDLING).flatMap((subtypes) => Object.keys(subtypes)));
    for (const subtype of NOTIFICATION_SUBTYPES) expect(listed, subtype).toContain(subtype);
  });

  it('gives every recorded-only entry a reason and every applied entry what it changes', () => {
    for (const [type, subtypes] of Object.entries(NOTIFICATION_HANDLING)) {
      for (const [subtype, handling] of Object.entries(subtypes)) {
        const text = handling.kind === 'applies' ? handling.effect : handling.reason;
        expect(text.length, `${type} ${subtype}`).toBeGreaterThan(10);
        if (handling.kind === 'applies') expect(handling.applies.length, `${type} ${subtype}`).toBeGreaterThan(0);
      }
    }
  });

  it.each(['TEST', 'CONSUMPTION_REQUEST', 'EXTERNAL_PURCHASE_TOKEN', 'METADATA_UPDATE', 'MIGRATION', 'PRICE_CHANGE', 'RESCIND_CONSENT', 'REFUND_DECLINED'])(
    'records %s without applying it',
    (type) => {
      const subtype = type === 'EXTERNAL_PURCHASE_TOKEN' ? 'UNREPORTED' : undefined;
      expect(describeNotification(type, subtype)).toMatchObject({ kind: 'recorded-only', known: true });
    },
  );

  it('records the SUMMARY of a mass renewal extension only, but applies a per-subscription FAILURE', () => {
    expect(describeNotification('RENEWAL_EXTENSION', 'SUMMARY').kind).toBe('recorded-only');
    expect(describeNotification('RENEWAL_EXTENSION', 'FAILURE').kind).toBe('applies');
  });

  it.each([
    ['SUBSCRIBED', 'INITIAL_BUY'],
    ['SUBSCRIBED', 'RESUBSCRIBE'],
    ['DID_RENEW', undefined],
    ['DID_RENEW', 'BILLING_RECOVERY'],
    ['DID_CHANGE_RENEWAL_PREF', 'UPGRADE'],
    ['DID_CHANGE_RENEWAL_PREF', 'DOWNGRADE'],
    ['DID_CHANGE_RENEWAL_PREF', undefined],
    ['DID_CHANGE_RENEWAL_STATUS', 'AUTO_RENEW_DISABLED'],
    ['DID_FAIL_TO_RENEW', 'GRACE_PERIOD'],
    ['DID_FAIL_TO_RENEW', undefined],
    ['GRACE_PERIOD_EXPIRED', undefined],
    ['EXPIRED', 'VOLUNTARY'],
    ['REFUND', undefined],
    ['REFUND_REVERSED', undefined],
    ['RENEWAL_EXTENDED', undefined],
    ['REVOKE', undefined],
  ])('applies the transaction, renewal info and status of %s %s', (type, subtype) => {
    expect(describeNotification(type, subtype)).toEqual(
      expect.objectContaining({ kind: 'applies', known: true, applies: ['transaction', 'renewal', 'status'] }),
    );
  });

  it('applies only the transaction of a ONE_TIME_CHARGE', () => {
    expect(describeNotification('ONE_TIME_CHARGE')).toMatchObject({ kind: 'applies', applies: ['transaction'] });
  });

  it('treats an empty subtype like a missing one', () => {
    expect(describeNotification('DID_RENEW', '')).toEqual(describeNotification('DID_RENEW', undefined));
    expect(describeNotification('REFUND', null).kind).toBe('applies');
  });

  it('records an unknown type without throwing', () => {
    expect(describeNotification('SOMETHING_APPLE_ADDS_LATER', 'NEW')).toEqual({
      kind: 'recorded-only',
      known: false,
      reason: 'unknown notification type, recorded',
    });
  });

  it('records an unknown subtype of a known type without throwing', () => {
    expect(describeNotification('DID_RENEW', 'SOMETHING_NEW')).toMatchObject({ kind: 'recorded-only', known: false });
    expect(describeNotification('SUBSCRIBED', undefined)).toMatchObject({ kind: 'recorded-only', known: false });
  });

  it('never throws on values that are not names at all', () => {
    for (const odd of [undefined, null, 42, {}, '__proto__', 'constructor', 'toString']) {
      expect(describeNotification(odd as never, odd as never).kind).toBe('recorded-only');
    }
    expect(describeNotification('DID_RENEW', '__proto__' as never).kind).toBe('recorded-only');
  });

  it('is rendered unchanged in docs/notification-types.md', () => {
    const doc = readFileSync(path.join(projectRoot, 'docs/notification-types.md'), 'utf8');
    expect(doc).toContain(renderNotificationTable());
  });
});
