import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  historyEnvironments,
  type IngestSignedPayload,
  type RecoveryDeps,
  RecoveryInterruptedError,
  recoverNotifications,
} from '../../src/admin/recovery.usecase.js';
import { VerificationError } from '../../src/apple/verifier/index.js';
import { badRequest } from '../../src/errors.js';
import { classifyError } from '../../src/http/error-handler.js';
import { HOUR } from '../helpers/constants.js';
import { useAppStoreApiDouble } from '../helpers/fixtures.js';
import { HISTORY_PATH, historyPage } from './fixture.js';

// The use case alone, with ingest played by the test: how each kind of failure is counted.
describe('recoverNotifications', () => {
  const apple = useAppStoreApiDouble();
  afterEach(() => {
    apple.double.reset();
    apple.double.requests.length = 0;
  });

  const now = new Date();
  const window = { startDate: new Date(now.getTime() - HOUR), endDate: now, onlyFailures: false };
  function deps(ingest: IngestSignedPayload): RecoveryDeps {
    return {
      api: apple.client(),
      environments: ['Production'],
      ingest,
      clock: () => now,
      logger: pino({ level: 'silent' }),
    };
  }
  const byPayload =
    (outcomes: Record<string, () => { status: 'processed' | 'duplicate' }>): IngestSignedPayload =>
    async (payload) =>
      outcomes[payload]!();

  it('counts verification refusals, invalid records and faults of its own as rejected, and goes on', async () => {
    apple.double.reply('POST', HISTORY_PATH, historyPage(['bad-signature', 'invalid-record', 'bug', 'good', 'seen']));
    const result = await recoverNotifications(
      deps(
        byPayload({
          'bad-signature': () => {
            throw new VerificationError('INVALID_SIGNATURE', 'signature does not match');
          },
          'invalid-record': () => {
            throw badRequest('INVALID_RECORD', 'no productId');
          },
          bug: () => {
            throw new RangeError('Invalid time value');
          },
          good: () => ({ status: 'processed' }),
          seen: () => ({ status: 'duplicate' }),
        }),
      ),
      window,
    );
    expect(result).toEqual({ fetched: 5, applied: 1, duplicate: 1, rejected: 3, environments: ['Production'] });
  });

  it('counts a history entry without a signedPayload as rejected', async () => {
    apple.double.reply('POST', HISTORY_PATH, { body: { notificationHistory: [{ sendAttempts: [] }], hasMore: false } });
    const result = await recoverNotifications(
      deps(async () => ({ status: 'processed' })),
      window,
    );
    expect(result).toMatchObject({ fetched: 1, applied: 0, rejected: 1 });
  });

  it('stops with 503 OCSP_UNAVAILABLE when the verifier cannot reach OCSP, keeping the counts so far', async () => {
    apple.double.reply('POST', HISTORY_PATH, historyPage(['good', 'ocsp', 'never-reached']));
    const seen: string[] = [];
    const run = recoverNotifications(
      deps(async (payload) => {
        seen.push(payload);
        if (payload === 'ocsp') throw new VerificationError('OCSP_UNAVAILABLE', 'responder unreachable');
        return { status: 'processed' };
      }),
      window,
    );
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecoveryInterruptedError);
    expect(error).toMatchObject({ code: 'OCSP_UNAVAILABLE', counts: { fetched: 2, applied: 1 } });
    expect(classifyError(error).statusCode).toBe(503);
    expect(seen).toEqual(['good', 'ocsp']);
  });

  it('stops with 503 DATABASE_UNAVAILABLE when the database is away', async () => {
    apple.double.reply('POST', HISTORY_PATH, historyPage(['x']));
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const error = await recoverNotifications(
      deps(async () => {
        throw refused;
      }),
      window,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(classifyError(error).statusCode).toBe(503);
  });

  it('stops between notifications once its signal is aborted', async () => {
    apple.double.reply('POST', HISTORY_PATH, historyPage(['a', 'b', 'c']));
    const controller = new AbortController();
    const seen: string[] = [];
    const error = await recoverNotifications(
      deps(async (payload) => {
        seen.push(payload);
        controller.abort();
        return { status: 'processed' };
      }),
      window,
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RECOVERY_ABORTED' });
    expect(seen).toEqual(['a']);
  });

  it('asks Apple nothing for a window that ends before it starts once clamped to now', async () => {
    const ahead = { startDate: new Date(now.getTime() + 10_000), endDate: new Date(now.getTime() + 50_000), onlyFailures: false };
    const result = await recoverNotifications(
      deps(async () => ({ status: 'processed' })),
      ahead,
    );
    expect(result).toMatchObject({ fetched: 0 });
    expect(apple.double.requests).toHaveLength(0);
  });

  it('reads only Production and Sandbox histories, whatever else is accepted', () => {
    expect(historyEnvironments(['Xcode', 'Sandbox', 'LocalTesting', 'Production'])).toEqual(['Production', 'Sandbox']);
    expect(historyEnvironments(['Xcode'])).toEqual([]);
  });
});
