import { V1FormatError } from './errors.js';
import {
  checkFlag,
  checkMs,
  malformed,
  optionalString,
  parseArray,
  parseLatestReceiptInfo,
  parsePendingRenewalInfo,
  requireObject,
  requireString,
} from './receipt-info.js';
import { V1_NOTIFICATION_TYPES, type V1Environment, type V1Notification, type V1NotificationType } from './types.js';

/**
 * `PROD` is what Apple documents for V1 bodies; `Production` is accepted as the same, because
 * bodies captured in the wild (and the unified receipt inside every body) spell it that way.
 */
export function mapV1Environment(environment: string): 'Production' | 'Sandbox' {
  if (environment === 'PROD' || environment === 'Production') return 'Production';
  if (environment === 'Sandbox') return 'Sandbox';
  throw new V1FormatError('UNKNOWN_V1_ENVIRONMENT', 'environment', `unknown V1 environment "${environment}"`);
}

/**
 * Validates a V1 notification body. Unknown fields are kept (they matter for duplicate
 * detection); known fields must have Apple's types, so normalising cannot fail later.
 */
export function parseV1Notification(body: unknown): V1Notification {
  const root = requireObject(body, 'body');
  const type = requireString(root, 'notification_type', 'body');
  if (!(V1_NOTIFICATION_TYPES as readonly string[]).includes(type)) {
    throw new V1FormatError('UNKNOWN_V1_NOTIFICATION_TYPE', 'body.notification_type', `unknown V1 notification type "${type}"`);
  }
  if (typeof root.password !== 'string') throw malformed('body.password', 'must be a string');
  const environment = requireString(root, 'environment', 'body');
  mapV1Environment(environment);
  requireString(root, 'bid', 'body');
  for (const key of ['bvrs', 'auto_renew_product_id', 'original_transaction_id', 'web_order_line_item_id']) {
    optionalString(root, key, 'body');
  }
  checkFlag(root, 'auto_renew_status', 'body');
  checkMs(root, 'auto_renew_status_change_date_ms', 'body');
  checkMs(root, 'cancellation_date_ms', 'body');

  const receipt = requireObject(root.unified_receipt, 'body.unified_receipt');
  const status = receipt.status ?? 0;
  if (typeof status !== 'number' || !Number.isInteger(status)) throw malformed('body.unified_receipt.status', 'must be an integer');
  optionalString(receipt, 'environment', 'body.unified_receipt');
  optionalString(receipt, 'latest_receipt', 'body.unified_receipt');
  const latestReceiptInfo = parseArray(receipt.latest_receipt_info, 'body.unified_receipt.latest_receipt_info', parseLatestReceiptInfo);
  const pendingRenewalInfo = parseArray(receipt.pending_renewal_info, 'body.unified_receipt.pending_renewal_info', parsePendingRenewalInfo);
  return {
    ...root,
    notification_type: type as V1NotificationType,
    password: root.password,
    environment: environment as V1Environment,
    bid: root.bid as string,
    unified_receipt: { ...receipt, status, latest_receipt_info: latestReceiptInfo, pending_renewal_info: pendingRenewalInfo },
  };
}
