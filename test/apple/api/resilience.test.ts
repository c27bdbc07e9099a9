import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { APIError, AppStoreApiError } from '../../../src/apple/api/index.js';
import { useApiDouble } from './fixture.js';

const PATH = '/inApps/v1/transactions/1';
const ok = { body: { signedTransactionInfo: 'x.y.z' } };

async function failure(promise: Promise<unknown>): Promise<AppStoreApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AppStoreApiError)) throw new Error(`expected AppStoreApiError, got ${String(error)}`);
  return error;
}

describe('App Store Server API retries and errors', () => {
  const fixture = useApiDouble();

  it('retries a 429 after the seconds Retry-After asks for', async () => {
    fixture.double.reply('GET', PATH, { status: 429, headers: { 'retry-after': '7' }, body: { errorCode: 4290000, errorMessage: 'Rate limit exceeded.' } }, ok);
    const answer = await fixture.client().forEnvironment('Production').getTransactionInfo('1');

    expect(answer).toEqual(ok.body);
    expect(fixture.double.requests).toHaveLength(2);
    expect(fixture.sleeps).toEqual([7000]);
  });

  it('honours Retry-After given as an HTTP date, relative to the injected clock', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    fixture.double.reply('GET', PATH, { status: 429, headers: { 'retry-after': 'Tue, 01 Jan 2030 00:00:03 GMT' } }, ok);
    await fixture
      .client({ clock: () => now })
      .forEnvironment('Production')
      .getTransactionInfo('1');
    expect(fixture.sleeps).toEqual([3000]);
  });

  it('gives a Retry-After longer than it will wait back to the caller at once', async () => {
    fixture.double.reply('GET', PATH, { status: 429, headers: { 'retry-after': '3600' } });
    const error = await failure(fixture.client({ maxRetryAfterMs: 60_000 }).forEnvironment('Production').getTransactionInfo('1'));

    expect(error).toMatchObject({ code: 'API_RATE_LIMITED', httpStatus: 429, retryAfter: 3600, retryable: true });
    expect(fixture.double.requests).toHaveLength(1);
    expect(fixture.sleeps).toEqual([]);
  });

  it('retries a 503 with exponential backoff and full jitter', async () => {
    fixture.double.reply('GET', PATH, { status: 503 }, { status: 503 }, { status: 503 }, ok);
    const api = fixture.client({ baseDelayMs: 100, maxDelayMs: 300, random: () => 0.5, maxAttempts: 4 });
    await api.forEnvironment('Production').getTransactionInfo('1');

    expect(fixture.double.requests).toHaveLength(4);
    // Windows 100, 200, then capped at 300; jitter picks the middle of each.
    expect(fixture.sleeps).toEqual([50, 100, 150]);
  });

  it.each([
    ['AccountNotFoundRetryable', 404, APIError.ACCOUNT_NOT_FOUND_RETRYABLE],
    ['AppNotFoundRetryable', 404, APIError.APP_NOT_FOUND_RETRYABLE],
    ['OriginalTransactionIdNotFoundRetryable', 404, APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE],
    ['GeneralInternalRetryable', 500, APIError.GENERAL_INTERNAL_RETRYABLE],
  ])('retries Apple’s retryable error code %s', async (_name, status, errorCode) => {
    fixture.double.reply('GET', PATH, { status, body: { errorCode, errorMessage: 'try again' } }, ok);
    await fixture.client().forEnvironment('Production').getTransactionInfo('1');
    expect(fixture.double.requests).toHaveLength(2);
  });

  it('does not retry a 400 and reports Apple’s code by name', async () => {
    fixture.double.reply('GET', PATH, { status: 400, body: { errorCode: 4000006, errorMessage: 'Invalid transaction id.' } });
    const error = await failure(fixture.client().forEnvironment('Production').getTransactionInfo('1'));

    expect(fixture.double.requests).toHaveLength(1);
    expect(fixture.sleeps).toEqual([]);
    expect(error).toMatchObject({
      code: 'API_ERROR',
      httpStatus: 400,
      apiError: APIError.INVALID_TRANSACTION_ID,
      retryAfter: null,
      retryable: false,
      endpoint: 'getTransactionInfo',
    });
    expect(error.message).toContain('INVALID_TRANSACTION_ID');
  });

  it('does not retry a non-retryable 404', async () => {
    fixture.double.reply('GET', PATH, { status: 404, body: { errorCode: APIError.TRANSACTION_ID_NOT_FOUND } });
    const error = await failure(fixture.client().forEnvironment('Production').getTransactionInfo('1'));
    expect(error.apiError).toBe(APIError.TRANSACTION_ID_NOT_FOUND);
    expect(fixture.double.requests).toHaveLength(1);
  });

  it('keeps an error code it does not know raw', async () => {
    fixture.double.reply('GET', PATH, { status: 400, body: { errorCode: 4009999 } });
    const error = await failure(fixture.client().forEnvironment('Production').getTransactionInfo('1'));
    expect(error.apiError).toBe(4009999);
    expect(error.message).toContain('4009999');
  });

  it('stops after maxAttempts and throws the last error', async () => {
    fixture.double.reply('GET', PATH, { status: 500, body: { errorCode: APIError.GENERAL_INTERNAL } });
    const error = await failure(fixture.client({ maxAttempts: 3 }).forEnvironment('Production').getTransactionInfo('1'));

    expect(fixture.double.requests).toHaveLength(3);
    expect(fixture.sleeps).toHaveLength(2);
    expect(error).toMatchObject({ code: 'API_ERROR', httpStatus: 500, apiError: 5000000, retryable: true });
  });

  it('times out a request that gets no answer, and retries it', async () => {
    fixture.double.reply('GET', PATH, { delayMs: 5_000, ...ok }, ok);
    const api = fixture.client({ timeoutMs: 100, maxAttempts: 2 }).forEnvironment('Production');
    const answer = await api.getTransactionInfo('1');

    expect(answer).toEqual(ok.body);
    expect(fixture.double.requests).toHaveLength(2);
    expect(fixture.calls.map((c) => c.status)).toEqual(['network_error', 200]);
  });

  it('reports API_TIMEOUT when every attempt times out', async () => {
    fixture.double.reply('GET', PATH, { delayMs: 5_000, ...ok });
    const error = await failure(fixture.client({ timeoutMs: 100, maxAttempts: 2 }).forEnvironment('Production').getTransactionInfo('1'));
    expect(error).toMatchObject({ code: 'API_TIMEOUT', httpStatus: null, retryable: true });
  });

  it('reports API_UNREACHABLE when nothing listens, after retrying', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');

    const api = fixture.client({ baseUrl: `http://127.0.0.1:${address.port}`, maxAttempts: 3 });
    const error = await failure(api.forEnvironment('Production').getTransactionInfo('1'));
    expect(error).toMatchObject({ code: 'API_UNREACHABLE', httpStatus: null, retryable: true });
    expect(fixture.sleeps).toHaveLength(2);
  });

  it('reports a 2xx answer that is not a JSON object as API_BAD_RESPONSE without retrying', async () => {
    fixture.double.reply('GET', PATH, { body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } });
    const error = await failure(fixture.client().forEnvironment('Production').getTransactionInfo('1'));
    expect(error).toMatchObject({ code: 'API_BAD_RESPONSE', httpStatus: 200, retryable: false });
    expect(fixture.double.requests).toHaveLength(1);
  });

  it('reports every attempt to onCall with endpoint, environment, status and attempt number', async () => {
    fixture.double.reply('GET', PATH, { status: 503 }, ok);
    await fixture.client().forEnvironment('Sandbox').getTransactionInfo('1');
    expect(fixture.calls.map(({ durationMs: _d, ...rest }) => rest)).toEqual([
      { endpoint: 'getTransactionInfo', environment: 'Sandbox', status: 503, attempt: 1 },
      { endpoint: 'getTransactionInfo', environment: 'Sandbox', status: 200, attempt: 2 },
    ]);
    expect(fixture.calls.every((c) => c.durationMs >= 0)).toBe(true);
  });

  it('ignores an onCall hook that throws', async () => {
    const api = fixture.client({
      onCall: () => {
        throw new Error('metrics down');
      },
    });
    await expect(api.forEnvironment('Production').getTransactionInfo('1')).resolves.toEqual({});
  });

  it('uses Apple’s production and sandbox hosts when no base URL is set', async () => {
    const urls: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      urls.push(String(input));
      return new Response('{}', { status: 200 });
    };
    const api = fixture.client({ baseUrl: undefined, fetch: fakeFetch });
    await api.forEnvironment('Production').getTransactionInfo('1');
    await api.forEnvironment('Sandbox').getTransactionInfo('1');
    expect(urls).toEqual(['https://api.storekit.apple.com/inApps/v1/transactions/1', 'https://api.storekit-sandbox.apple.com/inApps/v1/transactions/1']);
  });
});
