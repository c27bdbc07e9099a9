import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../src/apple/verifier/index.js';
import { VerifyReceiptError } from '../../src/apple/verify-receipt/errors.js';
import { classifyError } from '../../src/http/error-handler.js';

// PostgreSQL's errors carry a severity; socket errors do not.
const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code }, /^[0-9A-Z]{5}$/.test(code) ? { severity: 'ERROR' } : {});

describe('classifyError', () => {
  it('answers a PostgreSQL data exception (a NUL in text, a number out of range) with 400 INVALID_INPUT', () => {
    for (const code of ['22021', '22003', '22P02', '22008']) {
      expect(classifyError(withCode(code))).toMatchObject({ statusCode: 400, code: 'INVALID_INPUT' });
    }
  });

  it('answers a lost or refused database connection with 503 DATABASE_UNAVAILABLE', () => {
    for (const error of [withCode('ECONNREFUSED'), withCode('57P01'), withCode('08006'), new Error('Connection terminated unexpectedly')]) {
      expect(classifyError(error)).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' });
    }
  });

  it('answers other database errors with 500 and no detail', () => {
    expect(classifyError(withCode('42P01', 'relation "secret_table" does not exist'))).toEqual({
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
    });
  });

  it('maps coded module errors by whether trying again may help', () => {
    expect(classifyError(new VerificationError('INVALID_SIGNATURE', 'no'))).toMatchObject({
      statusCode: 400,
      code: 'INVALID_SIGNATURE',
    });
    expect(classifyError(new VerificationError('OCSP_UNAVAILABLE', 'later'))).toMatchObject({
      statusCode: 503,
      code: 'OCSP_UNAVAILABLE',
    });
  });

  it('does not mistake an error that merely looks coded for one of ours', () => {
    expect(classifyError(Object.assign(new Error('secret detail'), { code: 'INVALID_SIGNATURE', retryable: false }))).toEqual({
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
    });
  });

  // What undici's fetch throws when a host cannot be resolved or reached.
  const fetchFailed = (code: string) => new TypeError('fetch failed', { cause: withCode(code, `getaddrinfo ${code} ocsp.apple.com`) });

  it("answers a verifier's transient refusal with its own code, whatever socket error lies beneath", () => {
    for (const socketCode of ['ENOTFOUND', 'ECONNREFUSED', 'ETIMEDOUT']) {
      const error = new VerificationError('OCSP_UNAVAILABLE', 'the OCSP responder cannot be reached', { cause: fetchFailed(socketCode) });
      expect(classifyError(error), socketCode).toMatchObject({ statusCode: 503, code: 'OCSP_UNAVAILABLE' });
    }
  });

  it("answers a verifyReceipt call that may pass later with 503 APP_STORE_UNAVAILABLE, one of SPEC's 503 codes", () => {
    const unreachable = new VerifyReceiptError('NETWORK_ERROR', 'verifyReceipt (Production): unreachable', {
      retryable: true,
      cause: fetchFailed('ENOTFOUND'),
    });
    const busy = new VerifyReceiptError('SERVICE_UNAVAILABLE', 'verifyReceipt (Production): 21005', { retryable: true, status: 21005 });
    for (const error of [unreachable, busy]) {
      expect(classifyError(error), error.code).toMatchObject({ statusCode: 503, code: 'APP_STORE_UNAVAILABLE' });
    }
  });

  it('does not call a failed outbound request a database failure', () => {
    expect(classifyError(fetchFailed('ENOTFOUND'))).toMatchObject({ statusCode: 500, code: 'INTERNAL_ERROR' });
  });

  it("still recognises a lost database connection inside drizzle's wrapper", () => {
    const wrapped = Object.assign(new Error('Failed query: select 1\nparams: '), { query: 'select 1', params: [] });
    wrapped.cause = withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432');
    expect(classifyError(wrapped)).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' });
  });
});
