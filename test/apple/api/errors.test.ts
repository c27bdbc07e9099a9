import { APIError as AppleLibraryAPIError } from '@apple/app-store-server-library';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/apple/api/backoff.js';
import { APIError, AppStoreApiError, apiErrorName, parseRetryAfter, RETRYABLE_API_ERRORS } from '../../../src/apple/api/index.js';

function numericEntries(enumeration: object): [string, number][] {
  return Object.entries(enumeration).filter((entry): entry is [string, number] => typeof entry[1] === 'number');
}

describe('App Store Server API error codes', () => {
  it('names every error code Apple’s own library knows, with the same number', () => {
    const ours = new Map(numericEntries(APIError));
    const missing = numericEntries(AppleLibraryAPIError).filter(([name, code]) => ours.get(name) !== code);
    expect(missing).toEqual([]);
  });

  it('treats every *_RETRYABLE code, and only those plus rate limiting, as retryable', () => {
    const retryableByName = numericEntries(APIError)
      .filter(([name]) => name.endsWith('_RETRYABLE') || name === 'RATE_LIMIT_EXCEEDED')
      .map(([, code]) => code)
      .sort();
    expect([...RETRYABLE_API_ERRORS].sort()).toEqual(retryableByName);
  });

  it('names known codes and returns null for unknown ones', () => {
    expect(apiErrorName(4040010)).toBe('TRANSACTION_ID_NOT_FOUND');
    expect(apiErrorName(1234567)).toBeNull();
  });

  it('carries a stable code and defaults the optional fields to null', () => {
    const error = new AppStoreApiError('API_UNREACHABLE', 'down');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'API_UNREACHABLE', httpStatus: null, apiError: null, retryAfter: null, retryable: false });
  });
});

describe('Retry-After and backoff', () => {
  const now = new Date('2030-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
  });

  it('reads an HTTP date as seconds from now, never negative', () => {
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });

  it('doubles the jitter window per retry up to the maximum', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, { ...options, random: () => 0 })).toBe(0);
  });
});
