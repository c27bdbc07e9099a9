import { describe, expect, it } from 'vitest';
import { apiNotConfigured, appStoreApiError, isTransientApiFailure } from '../src/app-store-errors.js';
import { APIError, AppStoreApiError } from '../src/apple/api/index.js';
import { badRequest } from '../src/errors.js';
import { statusOf } from '../src/http/error-handler.js';

const appleError = (status: number, apiError: number | null = null, retryable = false) =>
  new AppStoreApiError('API_ERROR', `Apple answered ${status}`, { httpStatus: status, apiError, retryable });

const notFound = () => badRequest('PURCHASE_NOT_FOUND', 'no such purchase');

describe('App Store Server API failures as coded errors and their HTTP answers', () => {
  it('answers 400 API_NOT_CONFIGURED naming every credential variable when the API is not configured', () => {
    const error = apiNotConfigured();
    expect([statusOf(error), error.code]).toEqual([400, 'API_NOT_CONFIGURED']);
    for (const name of ['APPLE_ISSUER_ID', 'APPLE_KEY_ID', 'APPLE_PRIVATE_KEY', 'APPLE_PRIVATE_KEY_FILE']) {
      expect(error.message).toContain(name);
    }
  });

  it.each([
    ['unreachable', new AppStoreApiError('API_UNREACHABLE', 'connection refused')],
    ['timed out', new AppStoreApiError('API_TIMEOUT', 'no answer')],
    ['rate limited', new AppStoreApiError('API_RATE_LIMITED', 'slow down', { httpStatus: 429 })],
    ['marked retryable', appleError(404, APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE, true)],
    ['an Apple 5xx', appleError(500, APIError.GENERAL_INTERNAL)],
  ])('answers 503 APP_STORE_UNAVAILABLE when Apple is %s, even with a not-found option', (_name, error) => {
    expect(isTransientApiFailure(error)).toBe(true);
    const mapped = appStoreApiError(error, { notFound });
    expect([statusOf(mapped), mapped.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
    expect(mapped.cause).toBe(error);
  });

  it('passes Retry-After on when Apple said how long to wait, and only then', () => {
    const told = new AppStoreApiError('API_RATE_LIMITED', 'slow down', { httpStatus: 429, retryAfter: 30 });
    expect(appStoreApiError(told).headers).toEqual({ 'retry-after': '30' });
    expect(appStoreApiError(new AppStoreApiError('API_UNREACHABLE', 'down')).headers).toEqual({});
  });

  it("uses the call site's not-found answer for Apple's 400 and 404, keeping Apple's error as the cause", () => {
    for (const status of [400, 404]) {
      const error = appleError(status, APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND);
      const mapped = appStoreApiError(error, { notFound });
      expect([statusOf(mapped), mapped.code]).toEqual([400, 'PURCHASE_NOT_FOUND']);
      expect(mapped.cause).toBe(error);
    }
  });

  it("answers 502 APP_STORE_ERROR with Apple's code and its name for a refusal without a not-found option", () => {
    const error = appleError(400, APIError.START_DATE_TOO_FAR_IN_PAST);
    expect(isTransientApiFailure(error)).toBe(false);
    const mapped = appStoreApiError(error);
    expect([statusOf(mapped), mapped.code]).toEqual([502, 'APP_STORE_ERROR']);
    expect(mapped.message).toContain('4000012 (START_DATE_TOO_FAR_IN_PAST)');
  });

  it('says an unknown Apple code is unknown rather than dropping it', () => {
    expect(appStoreApiError(appleError(403, 4039999)).message).toContain('4039999 (unknown code)');
  });

  it('answers 502 APP_STORE_UNAUTHORIZED pointing at the credentials and the bundle id when Apple answers 401', () => {
    const mapped = appStoreApiError(appleError(401), { notFound });
    expect([statusOf(mapped), mapped.code]).toEqual([502, 'APP_STORE_UNAUTHORIZED']);
    expect(mapped.message).toContain('APPLE_BUNDLE_ID');
  });

  it('answers 502 APP_STORE_BAD_RESPONSE for an answer that is not what Apple documents', () => {
    const mapped = appStoreApiError(new AppStoreApiError('API_BAD_RESPONSE', 'getTransactionInfo: answer has no signedTransactionInfo'));
    expect([statusOf(mapped), mapped.code]).toEqual([502, 'APP_STORE_BAD_RESPONSE']);
    expect(mapped.message).toContain('no signedTransactionInfo');
  });
});
