export { ReceiptError, type ReceiptErrorCode } from './errors.js';
export { APPLE_INC_ROOT_PATH, APPLE_INC_ROOT_SHA256, loadAppleIncRootCertificate } from './legacy-root.js';
export { type ParseAppReceiptOptions, parseAppReceipt } from './parse-app-receipt.js';
export { decodeReceiptPayload, environmentOfReceiptType } from './payload.js';
export type { AppReceipt, AppReceiptInApp, ReceiptType } from './types.js';
