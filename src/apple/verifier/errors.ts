import { CodedError } from '../../errors.js';

export const VERIFICATION_ERROR_CODES = [
  'UNSUPPORTED_ALGORITHM',
  'MALFORMED_JWS',
  'INVALID_CHAIN_LENGTH',
  'UNTRUSTED_ROOT',
  'INVALID_CHAIN',
  'MISSING_APPLE_MARKER',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_REVOKED',
  'OCSP_UNAVAILABLE',
  'OCSP_INVALID',
  'INVALID_SIGNATURE',
  'WRONG_BUNDLE_ID',
  'WRONG_APP_APPLE_ID',
  'WRONG_ENVIRONMENT',
  'NESTED_MISMATCH',
  'MALFORMED_PAYLOAD',
] as const;

export type VerificationErrorCode = (typeof VERIFICATION_ERROR_CODES)[number];

/**
 * Any refusal of signed data. Only an unreachable OCSP responder is retryable: the
 * data may be fine, so the webhook answers 503 and Apple sends it again later.
 */
export class VerificationError extends CodedError {
  override readonly name = 'VerificationError';
  declare readonly code: VerificationErrorCode;

  constructor(code: VerificationErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause, retryable: code === 'OCSP_UNAVAILABLE' });
  }
}
