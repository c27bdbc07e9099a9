export { v1DedupKey } from './dedup-key.js';
export { V1FormatError, type V1FormatErrorCode } from './errors.js';
export { type NormalizeV1Options, normalizeV1Notification, type V1Normalized } from './normalize.js';
export {
  V1_STATUS_RULES,
  type V1StatusRule,
  type V2Equivalent,
  type V2EquivalentFacts,
  v2EquivalentOf,
} from './notification-types.js';
export { mapV1Environment, parseV1Notification } from './parse.js';
export { parseLatestReceiptInfo, parsePendingRenewalInfo } from './receipt-info.js';
export { sharedSecretMatches } from './shared-secret.js';
export {
  V1_NOTIFICATION_TYPES,
  type V1Environment,
  type V1LatestReceiptInfo,
  type V1Notification,
  type V1NotificationType,
  type V1PendingRenewalInfo,
  type V1UnifiedReceipt,
} from './types.js';
