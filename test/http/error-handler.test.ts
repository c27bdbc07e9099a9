import { describe, expect, it } from 'vitest';
import { classifyError } from '../../src/http/error-handler.js';

// PostgreSQL's errors carry a severity; socket errors do not.
const withCode = (code: string, message = 'x') =>
  Object.assign(new Error(message), { code }, /^[0-9A-Z]{5}$/.test(code) ? { severity: 'ERROR' } : {});

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
    expect(classifyError(Object.assign(new Error('no'), { code: 'INVALID_SIGNATURE', retryable: false }))).toMatchObject({
      statusCode: 400,
      code: 'INVALID_SIGNATURE',
    });
    expect(classifyError(Object.assign(new Error('later'), { code: 'OCSP_UNAVAILABLE', retryable: true }))).toMatchObject({
      statusCode: 503,
      code: 'OCSP_UNAVAILABLE',
    });
  });
});
