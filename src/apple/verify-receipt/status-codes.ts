export type VerifyReceiptErrorCode =
  | 'INVALID_REQUEST'
  | 'STATUS_21001'
  | 'MALFORMED_RECEIPT_DATA'
  | 'RECEIPT_NOT_AUTHENTICATED'
  | 'SHARED_SECRET_MISMATCH'
  | 'SERVICE_UNAVAILABLE'
  | 'SUBSCRIPTION_EXPIRED'
  | 'SANDBOX_RECEIPT_IN_PRODUCTION'
  | 'PRODUCTION_RECEIPT_IN_SANDBOX'
  | 'INTERNAL_DATA_ACCESS_ERROR'
  | 'ACCOUNT_NOT_FOUND'
  | 'INTERNAL_ERROR'
  | 'UNKNOWN_STATUS'
  | 'HTTP_ERROR'
  | 'NETWORK_ERROR'
  | 'TIMEOUT'
  | 'INVALID_RESPONSE';

export interface StatusMeaning {
  code: VerifyReceiptErrorCode;
  retryable: boolean;
  message: string;
}

/** Apple's verifyReceipt status codes (status 0 is success and has no entry). */
const STATUSES: Record<number, StatusMeaning> = {
  21000: { code: 'INVALID_REQUEST', retryable: false, message: 'the App Store could not read the request' },
  21001: { code: 'STATUS_21001', retryable: false, message: 'status 21001 (no longer sent by Apple)' },
  // Apple documents 21002 as malformed data "or a temporary issue; try again".
  21002: { code: 'MALFORMED_RECEIPT_DATA', retryable: true, message: 'the receipt data was malformed, or the service had a temporary issue' },
  21003: { code: 'RECEIPT_NOT_AUTHENTICATED', retryable: false, message: 'the receipt could not be authenticated' },
  21004: { code: 'SHARED_SECRET_MISMATCH', retryable: false, message: "the shared secret does not match the account's" },
  21005: { code: 'SERVICE_UNAVAILABLE', retryable: true, message: 'the receipt server is temporarily unavailable' },
  21006: { code: 'SUBSCRIPTION_EXPIRED', retryable: false, message: 'the receipt is valid but its subscription has expired' },
  21007: { code: 'SANDBOX_RECEIPT_IN_PRODUCTION', retryable: false, message: 'the receipt is from the sandbox but was sent to production' },
  21008: { code: 'PRODUCTION_RECEIPT_IN_SANDBOX', retryable: false, message: 'the receipt is from production but was sent to the sandbox' },
  21009: { code: 'INTERNAL_DATA_ACCESS_ERROR', retryable: true, message: 'internal data access error' },
  21010: { code: 'ACCOUNT_NOT_FOUND', retryable: false, message: 'the user account cannot be found or has been deleted' },
};

export function meaningOfStatus(status: number): StatusMeaning {
  const known = STATUSES[status];
  if (known !== undefined) return known;
  if (status >= 21100 && status <= 21199) {
    return { code: 'INTERNAL_ERROR', retryable: true, message: `internal data access error (status ${status})` };
  }
  return { code: 'UNKNOWN_STATUS', retryable: false, message: `unknown status ${status}` };
}
