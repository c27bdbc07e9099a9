// A cursor comes back from the client: whatever it was turned into, the answer is
// 400 INVALID_CURSOR, and nothing of it reaches the database or the log.
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyError } from '../../src/http/error-handler.js';
import { createLogger } from '../../src/logger.js';
import { postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe(`tampered cursors on GET /users/:userId/transactions (${backendName})`, () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const t = useTestApp({ overrides: { logger: createLogger('debug', sink) } });
  beforeAll(async () => {
    const response = await postTransaction(t, 'u-cursor', transactionPayload({ transactionId: '900' }));
    expect(response.statusCode).toBe(200);
  });

  const tampered: Record<string, string> = {
    'a date of year 275760': cursorOf(['+275760-09-13T00:00:00.000Z', '900']),
    'a date of year -271821': cursorOf(['-271821-04-20T00:00:00.000Z', '900']),
    'a NUL in the transaction id': cursorOf(['2026-11-01T00:00:00.000Z', '90\u00000']),
    'a control character in the transaction id': cursorOf(['2026-11-01T00:00:00.000Z', '90\u001b0']),
    'an over-long transaction id': cursorOf(['2026-11-01T00:00:00.000Z', '9'.repeat(300)]),
    'bad base64': '%%%not-base64%%%',
    'base64 of something that is not JSON': Buffer.from('nope').toString('base64url'),
    'the wrong shape': cursorOf({ purchaseDate: '2026-11-01T00:00:00.000Z', transactionId: '900' }),
    'a number for the id': cursorOf(['2026-11-01T00:00:00.000Z', 900]),
    'a huge cursor': cursorOf(['2026-11-01T00:00:00.000Z', '9'.repeat(4000)]),
  };

  for (const [what, cursor] of Object.entries(tampered)) {
    it(`answers 400 INVALID_CURSOR for a cursor with ${what}`, async () => {
      const response = await t.app.inject({
        method: 'GET',
        url: `/users/u-cursor/transactions?cursor=${encodeURIComponent(cursor)}`,
        headers: authHeader(),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('INVALID_CURSOR');
    });
  }

  it('still pages with the cursors it hands out', async () => {
    await postTransaction(t, 'u-cursor', transactionPayload({ transactionId: '901' }));
    const first = await t.app.inject({ method: 'GET', url: '/users/u-cursor/transactions?limit=1', headers: authHeader() });
    const next = first.json().nextCursor as string;
    const second = await t.app.inject({ method: 'GET', url: `/users/u-cursor/transactions?limit=1&cursor=${next}`, headers: authHeader() });
    expect(second.statusCode).toBe(200);
    expect(second.json().transactions).toHaveLength(1);
  });

  it('logs no SQL parameters while answering them', () => {
    const log = lines.join('');
    expect(log).not.toMatch(/params:/);
    expect(log).not.toContain('275760');
    expect(log).not.toContain('u-cursor');
  });
});

describe(`database errors in the log (${backendName})`, () => {
  const t = useTestApp();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });

  /** A real failed query, as drizzle throws it: its message lists the parameters. */
  async function failedQuery(): Promise<unknown> {
    try {
      await t.deps.database.db.execute(sql`select ${'+275760-09-13T00:00:00.000Z secret-param'}::timestamptz`);
    } catch (error) {
      return error;
    }
    throw new Error('the query was expected to fail');
  }

  it('classifies a value PostgreSQL refuses as 400 INVALID_INPUT, though drizzle wraps the error', async () => {
    const error = await failedQuery();
    expect(String((error as Error).message)).toContain('secret-param');
    expect(classifyError(error)).toMatchObject({ statusCode: 400, code: 'INVALID_INPUT' });
  });

  it('logs a failed query with its SQL but none of its parameters, nor the values PostgreSQL quotes back', async () => {
    const error = await failedQuery();
    createLogger('info', sink).error({ err: error }, 'request failed');
    const line = lines.join('');
    expect(line).toContain('Failed query: select $1::timestamptz');
    expect(line).toMatch(/"code":"22[0-9A-Z]{3}"/);
    expect(line).not.toContain('secret-param');
    expect(line).not.toContain('275760');
    expect(line).not.toMatch(/params:/);
  });
});
