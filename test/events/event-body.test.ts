import { describe, expect, it } from 'vitest';
import { entitlementsUpdatedJson } from '../../src/events/answers.js';
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
});
