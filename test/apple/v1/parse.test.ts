import { describe, expect, it } from 'vitest';
import { mapV1Environment, parseV1Notification, V1_NOTIFICATION_TYPES, V1FormatError } from '../../../src/apple/v1/index.js';
import { v1Body } from '../../helpers/v1-bodies.js';

function errorOf(fn: () => unknown): V1FormatError {
  try {
    fn();
  } catch (error) {
    if (error instanceof V1FormatError) return error;
    throw error;
  }
  throw new Error('expected a V1FormatError');
}

function withReceipt(body: Record<string, unknown>, patch: (receipt: Record<string, unknown>) => void) {
  const copy = structuredClone(body);
  patch(copy.unified_receipt as Record<string, unknown>);
  return copy;
}

describe('parseV1Notification', () => {
  it.each(V1_NOTIFICATION_TYPES)('accepts a well-formed %s body and keeps its fields', (type) => {
    const body = v1Body(type);
    const parsed = parseV1Notification(body);
    expect(parsed.notification_type).toBe(type);
    expect(parsed.bid).toBe('com.example.app');
    expect(parsed.unified_receipt.latest_receipt_info).toEqual((body.unified_receipt as { latest_receipt_info: unknown }).latest_receipt_info);
  });

  it('keeps unknown fields so that they count for duplicate detection', () => {
    const parsed = parseV1Notification(v1Body('DID_RENEW', { extra: { something_new: 'x' } }));
    expect(parsed.something_new).toBe('x');
  });

  it('treats a missing latest_receipt_info or pending_renewal_info as empty and a missing status as 0', () => {
    const body = withReceipt(v1Body('DID_RENEW'), (r) => {
      delete r.latest_receipt_info;
      delete r.pending_renewal_info;
      delete r.status;
    });
    const parsed = parseV1Notification(body);
    expect(parsed.unified_receipt).toMatchObject({ status: 0, latest_receipt_info: [], pending_renewal_info: [] });
  });

  it.each([
    ['a non-object body', () => 'hello', 'body'],
    ['an array body', () => [], 'body'],
    ['a missing notification_type', () => ({ ...v1Body('DID_RENEW'), notification_type: undefined }), 'body.notification_type'],
    ['a missing password', () => ({ ...v1Body('DID_RENEW'), password: undefined }), 'body.password'],
    ['a numeric bid', () => ({ ...v1Body('DID_RENEW'), bid: 42 }), 'body.bid'],
    ['a missing unified_receipt', () => ({ ...v1Body('DID_RENEW'), unified_receipt: undefined }), 'body.unified_receipt'],
    ['a non-numeric status', () => withReceipt(v1Body('DID_RENEW'), (r) => (r.status = '0')), 'body.unified_receipt.status'],
    [
      'latest_receipt_info that is not an array',
      () => withReceipt(v1Body('DID_RENEW'), (r) => (r.latest_receipt_info = {})),
      'body.unified_receipt.latest_receipt_info',
    ],
    [
      'a purchase date that is not a millisecond string',
      () =>
        withReceipt(v1Body('DID_RENEW'), (r) => {
          (r.latest_receipt_info as Record<string, unknown>[])[1]!.purchase_date_ms = '2026-01-01';
        }),
      'body.unified_receipt.latest_receipt_info[1].purchase_date_ms',
    ],
    [
      'a transaction without transaction_id',
      () =>
        withReceipt(v1Body('DID_RENEW'), (r) => {
          delete (r.latest_receipt_info as Record<string, unknown>[])[0]!.transaction_id;
        }),
      'body.unified_receipt.latest_receipt_info[0].transaction_id',
    ],
    [
      'a flag that is neither true/false nor 1/0',
      () =>
        withReceipt(v1Body('DID_FAIL_TO_RENEW'), (r) => {
          (r.pending_renewal_info as Record<string, unknown>[])[0]!.is_in_billing_retry_period = 'yes';
        }),
      'body.unified_receipt.pending_renewal_info[0].is_in_billing_retry_period',
    ],
    [
      'a non-numeric top-level change date',
      () => ({ ...v1Body('DID_RENEW'), auto_renew_status_change_date_ms: 'soon' }),
      'body.auto_renew_status_change_date_ms',
    ],
  ])('rejects %s as MALFORMED_V1_BODY naming the field', (_name, make, field) => {
    const error = errorOf(() => parseV1Notification(make()));
    expect(error.code).toBe('MALFORMED_V1_BODY');
    expect(error.field).toBe(field);
  });

  it('rejects a notification type V1 never had', () => {
    expect(errorOf(() => parseV1Notification(v1Body('DID_RENEW', { extra: { notification_type: 'SUBSCRIBED' } }))).code).toBe('UNKNOWN_V1_NOTIFICATION_TYPE');
  });

  it('rejects an unknown environment', () => {
    expect(errorOf(() => parseV1Notification({ ...v1Body('DID_RENEW'), environment: 'Xcode' })).code).toBe('UNKNOWN_V1_ENVIRONMENT');
  });
});

describe('mapV1Environment', () => {
  it('maps PROD and Production to Production and Sandbox to Sandbox', () => {
    expect(mapV1Environment('PROD')).toBe('Production');
    expect(mapV1Environment('Production')).toBe('Production');
    expect(mapV1Environment('Sandbox')).toBe('Sandbox');
  });

  it('refuses anything else', () => {
    expect(errorOf(() => mapV1Environment('sandbox')).code).toBe('UNKNOWN_V1_ENVIRONMENT');
  });
});
