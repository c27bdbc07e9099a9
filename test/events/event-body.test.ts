import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { answerTexts, entitlementsUpdatedJson } from '../../src/events/answers.js';
import type { EntitlementsUpdatedData, NewEvent } from '../../src/events/event-types.js';
import { eventBody } from '../../src/events/events.repository.js';

// The recorder serialises each body once, by putting JSON texts it already has together;
// these bodies must be exactly what JSON.stringify of the envelope gives.

const at = new Date('2026-12-01T10:00:00.123Z');

const view = (overrides: Record<string, unknown> = {}) => ({
  entitlement: 'pro "plus" \u2028 ✓',
  active: true,
  status: 'active',
  productId: 'com.example.monthly',
  productType: 'Auto-Renewable Subscription',
  environment: 'Sandbox',
  originalTransactionId: '1000',
  transactionId: '1001',
  purchaseDate: '2026-11-01T10:00:00.000Z',
  originalPurchaseDate: '2026-11-01T10:00:00.000Z',
  expiresDate: null,
  gracePeriodExpiresDate: null,
  willRenew: true,
  price: 4990,
  revocationPercentage: 0.5,
  ...overrides,
});

describe('event bodies', () => {
  it('serialises entitlements.updated from the answers’ JSON exactly as JSON.stringify of its data', () => {
    const entitlements = [view(), view({ entitlement: 'b', active: false, price: null })];
    const previous = [view({ status: 'billing_retry', willRenew: false })];
    const data = { userId: 'user "1" é', entitlements, previous } as unknown as EntitlementsUpdatedData;
    const json = entitlementsUpdatedJson(data.userId, JSON.stringify(entitlements), JSON.stringify(previous));
    expect(json).toBe(JSON.stringify(data));
    expect(entitlementsUpdatedJson('u', '[]', '[]')).toBe(JSON.stringify({ userId: 'u', entitlements: [], previous: [] }));
  });

  it('wraps data, serialised or not, in the Standard Webhooks envelope JSON.stringify gives', () => {
    const data = {
      notificationUUID: 'n-1',
      notificationType: 'TEST',
      subtype: null,
      environment: 'Sandbox',
      signedDate: at.toISOString(),
      userId: 'u\n1',
      transactionId: null,
      originalTransactionId: '1000',
      productId: 'p',
    };
    const envelope = JSON.stringify({ type: 'notification.received', timestamp: at.toISOString(), data });
    const typed: NewEvent = { type: 'notification.received', userId: 'u\n1', data };
    const serialised: NewEvent = { type: 'notification.received', userId: 'u\n1', dataJson: JSON.stringify(data) };
    expect(eventBody(typed, at)).toBe(envelope);
    expect(eventBody(serialised, at)).toBe(envelope);
    expect(JSON.parse(eventBody(typed, at))).toEqual({ type: 'notification.received', timestamp: '2026-12-01T10:00:00.123Z', data });
  });

  it('gives an answer’s JSON as JSON.stringify does and its fingerprint from the entries without updatedAt', () => {
    const fingerprint = (entries: Array<Record<string, unknown>>) =>
      createHash('sha256')
        .update(JSON.stringify(entries.map(({ updatedAt: _updatedAt, ...rest }: Record<string, unknown>) => rest)))
        .digest('base64url');
    const last = view({ updatedAt: '2026-11-02T00:00:00.000Z' });
    // updatedAt elsewhere than last, or a string an entry's JSON could be mistaken for: serialised again without it.
    const { entitlement, ...rest } = view({ updatedAt: '2026-11-03T00:00:00.000Z' });
    const notLast = { ...rest, entitlement };
    const lookalike = view({ note: ',"updatedAt":"x"}', updatedAt: 'x' });
    for (const entries of [[], [last], [last, notLast], [notLast], [lookalike, last]]) {
      const texts = answerTexts(entries as never);
      expect(texts.json).toBe(JSON.stringify(entries));
      expect(texts.fingerprint).toBe(fingerprint(entries));
    }
    // updatedAt alone does not change the fingerprint; anything else does.
    expect(answerTexts([view({ updatedAt: 'a' })] as never).fingerprint).toBe(answerTexts([view({ updatedAt: 'b' })] as never).fingerprint);
    expect(answerTexts([view({ updatedAt: 'a' })] as never).fingerprint).not.toBe(answerTexts([view({ updatedAt: 'a', active: false })] as never).fingerprint);
  });
});
