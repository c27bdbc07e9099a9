import { describe, expect, it } from 'vitest';
import { RecoveryInterruptedError } from '../../src/admin/recovery.usecase.js';
import { apiNotConfigured, appStoreApiError } from '../../src/app-store-errors.js';
import { AppStoreApiError } from '../../src/apple/api/index.js';
import { ReceiptError } from '../../src/apple/receipt/index.js';
import { V1FormatError } from '../../src/apple/v1/index.js';
import { VERIFICATION_ERROR_CODES, VerificationError } from '../../src/apple/verifier/index.js';
import { VerifyReceiptError } from '../../src/apple/verify-receipt/index.js';
import {
  badRequest,
  type CodedError,
  ConflictError,
  conflict,
  ForbiddenError,
  forbidden,
  InvalidInputError,
  isRetryable,
  NotFoundError,
  notFound,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  UpstreamError,
  unauthorized,
  unavailable,
} from '../../src/errors.js';
import { classifyError, STATUS_BY_KIND, statusOf } from '../../src/http/error-handler.js';
import { UnderPressureError } from '../../src/http/pressure.js';
import { RateLimitedError } from '../../src/http/rate-limit.js';
import { FutureDatedError } from '../../src/purchases/future-dated.model.js';
import { InvalidRecordError } from '../../src/purchases/merge.model.js';

const counts = { fetched: 1, applied: 0, duplicate: 0, rejected: 0 };

describe('the status of every coded error', () => {
  it('gives every kind of coded error one status, and no two kinds the same one', () => {
    const kinds = new Map<unknown, number>(STATUS_BY_KIND.map(([kind, status]) => [kind, status]));
    expect(kinds).toEqual(
      new Map<unknown, number>([
        [InvalidInputError, 400],
        [UnauthorizedError, 401],
        [ForbiddenError, 403],
        [NotFoundError, 404],
        [ConflictError, 409],
        [TooManyRequestsError, 429],
        [UpstreamError, 502],
        [UnavailableError, 503],
      ]),
    );
    expect(new Set(kinds.values()).size).toBe(kinds.size);
  });

  it.each<[string, CodedError, number, string]>([
    ['badRequest', badRequest('INVALID_DATE', 'x'), 400, 'INVALID_DATE'],
    ['unauthorized', unauthorized(), 401, 'UNAUTHORIZED'],
    ['forbidden', forbidden('ADMIN_DISABLED', 'x'), 403, 'ADMIN_DISABLED'],
    ['notFound', notFound('V1_DISABLED', 'x'), 404, 'V1_DISABLED'],
    ['conflict', conflict('ALREADY_LINKED', 'x'), 409, 'ALREADY_LINKED'],
    ['unavailable', unavailable('DATABASE_UNAVAILABLE', 'x'), 503, 'DATABASE_UNAVAILABLE'],
    ['a rate limit', new RateLimitedError(3), 429, 'RATE_LIMITED'],
    ['overload', new UnderPressureError(10), 503, 'UNDER_PRESSURE'],
    ['an interrupted recovery', new RecoveryInterruptedError('OCSP_UNAVAILABLE', 'x', counts, null), 503, 'OCSP_UNAVAILABLE'],
    ['a future date', new FutureDatedError('purchaseDate', new Date(0)), 400, 'FUTURE_DATED'],
    ['a record that does not fit', new InvalidRecordError('x'), 400, 'INVALID_SIGNED_DATA'],
    ['a malformed receipt', new ReceiptError('MALFORMED_RECEIPT', 'x'), 400, 'MALFORMED_RECEIPT'],
    ['a malformed V1 body', new V1FormatError('MALFORMED_V1_BODY', 'body', 'x'), 400, 'MALFORMED_V1_BODY'],
    ['a verifyReceipt refusal', new VerifyReceiptError('SHARED_SECRET_MISMATCH', 'x', { retryable: false }), 400, 'SHARED_SECRET_MISMATCH'],
    ['a verifyReceipt failure that may pass later', new VerifyReceiptError('TIMEOUT', 'x', { retryable: true }), 503, 'APP_STORE_UNAVAILABLE'],
    ['the App Store Server API not configured', apiNotConfigured(), 400, 'API_NOT_CONFIGURED'],
    ['Apple away', appStoreApiError(new AppStoreApiError('API_TIMEOUT', 'x')), 503, 'APP_STORE_UNAVAILABLE'],
    ['Apple refusing our request', appStoreApiError(new AppStoreApiError('API_ERROR', 'x', { httpStatus: 403 })), 502, 'APP_STORE_ERROR'],
  ])('answers %s with its status and its own code', (_name, error, status, code) => {
    expect(classifyError(error)).toMatchObject({ statusCode: status, code });
  });

  it('answers every verification failure with 400, but an unreachable OCSP responder with 503', () => {
    for (const code of VERIFICATION_ERROR_CODES) {
      expect(statusOf(new VerificationError(code, 'x')), code).toBe(code === 'OCSP_UNAVAILABLE' ? 503 : 400);
    }
  });

  it("sends a coded error's safe headers with its answer, and none when it has none", () => {
    expect(classifyError(new RateLimitedError(7)).headers).toEqual({ 'retry-after': '7' });
    expect(classifyError(badRequest('INVALID_DATE', 'x')).headers).toBeUndefined();
  });
});

describe('isRetryable', () => {
  it('trusts a coded error to say whether trying again may help', () => {
    expect(isRetryable(unavailable('DATABASE_UNAVAILABLE', 'x'))).toBe(true);
    expect(isRetryable(new VerificationError('OCSP_UNAVAILABLE', 'x'))).toBe(true);
    expect(isRetryable(new VerificationError('INVALID_SIGNATURE', 'x'))).toBe(false);
    expect(isRetryable(badRequest('INVALID_DATE', 'x'))).toBe(false);
  });

  it('calls a lost database connection retryable, and any other uncoded error not', () => {
    expect(isRetryable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetryable(new TypeError('x is undefined'))).toBe(false);
    expect(isRetryable(Object.assign(new Error('looks coded'), { code: 'OCSP_UNAVAILABLE', retryable: true }))).toBe(false);
  });
});
