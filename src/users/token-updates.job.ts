import type { Logger } from 'pino';
import { isTransientApiFailure } from '../app-store-errors.js';
import { AppStoreApiError, type AppStoreServerApi } from '../apple/api/index.js';
import type { Clock } from '../clock.js';
import type { Database, DatabaseHandle } from '../db/client.js';
import { type ClaimedTokenUpdate, claimTokenUpdates, finishTokenUpdate } from './token-updates.repository.js';

// Sends the recorded Set App Account Token requests to Apple: right after the link that
// recorded them commits (in the background: the link has already answered), and again
// from a periodic job, in one replica at a time, for those that failed transiently.

/** pg advisory lock key of the job ("ase-tokn"): one replica at a time runs it. */
export const TOKEN_UPDATES_LOCK_KEY = 0x6173652d746f6b6en;
/** How long a claimed request is left alone by other senders while its attempt runs. */
const LEASE_MS = 5 * 60_000;
/** Requests sent per job run. */
const BATCH = 100;
/** Tries before a request is marked failed. */
const MAX_ATTEMPTS = 10;
/** The wait after the n-th transient failure: 1 min, doubling, at most 6 h. */
export const retryDelayMs = (attempts: number): number => Math.min(60_000 * 2 ** Math.max(0, attempts - 1), 6 * 3_600_000);

export interface TokenUpdatesDeps {
  /** The plain handle: these rows change no purchase state, so they record no events. */
  database: DatabaseHandle;
  /** null without App Store Server API credentials: nothing is recorded then, nothing sent. */
  api: AppStoreServerApi | null;
  clock: Clock;
  logger: Logger;
  /** How often the job looks for due requests. Default 60 s. */
  intervalMs?: number;
}

export interface TokenUpdatesRunResult {
  done: number;
  retry: number;
  failed: number;
}

export interface TokenUpdates {
  /** Whether requests can be sent at all (credentials are set). */
  readonly enabled: boolean;
  /** After a link's commit: sends these purchases' requests now, without the caller waiting. */
  sendSoon(originalTransactionIds: readonly string[]): void;
  /** One run of the job: every due request, under the job's advisory lock (skipped when another replica holds it). */
  runOnce(): Promise<TokenUpdatesRunResult | 'skipped'>;
  start(): void;
  /** Stops the job and waits for attempts in flight. */
  stop(): Promise<void>;
}

function describe(error: unknown): string {
  if (error instanceof AppStoreApiError) {
    return `${error.code}${error.httpStatus === null ? '' : ` HTTP ${error.httpStatus}`}${error.apiError === null ? '' : ` error ${error.apiError}`}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function createTokenUpdates(deps: TokenUpdatesDeps): TokenUpdates {
  const db: Database = deps.database.db;
  const inFlight = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;

  async function attempt(claimed: ClaimedTokenUpdate): Promise<keyof TokenUpdatesRunResult> {
    const api = deps.api;
    if (api === null) return 'retry';
    try {
      await api.forEnvironment(claimed.environment).setAppAccountToken(claimed.originalTransactionId, { appAccountToken: claimed.appAccountToken });
      const at = deps.clock();
      await finishTokenUpdate(db, claimed, { status: 'done', error: null, nextAttemptAt: at, at });
      return 'done';
    } catch (error) {
      const at = deps.clock();
      const attempts = claimed.attempts + 1;
      // Apple refusing the request for good (an unknown purchase, a bad token) is not retried.
      const transient = !(error instanceof AppStoreApiError) || isTransientApiFailure(error);
      const status = transient && attempts < MAX_ATTEMPTS ? 'pending' : 'failed';
      const nextAttemptAt = new Date(at.getTime() + retryDelayMs(attempts));
      await finishTokenUpdate(db, claimed, { status, error: describe(error), nextAttemptAt, at });
      deps.logger.warn(
        { err: error, originalTransactionId: claimed.originalTransactionId, attempts, status },
        status === 'pending' ? 'Set App Account Token failed; retried later' : 'Set App Account Token failed for good',
      );
      return status === 'pending' ? 'retry' : 'failed';
    }
  }

  async function sendClaimed(claimed: readonly ClaimedTokenUpdate[]): Promise<TokenUpdatesRunResult> {
    const result: TokenUpdatesRunResult = { done: 0, retry: 0, failed: 0 };
    for (const request of claimed) result[await attempt(request)] += 1;
    return result;
  }

  function track(work: Promise<unknown>): void {
    const tracked = work
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'Set App Account Token requests could not be sent; the job retries them'))
      .finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }

  async function runOnce(): Promise<TokenUpdatesRunResult | 'skipped'> {
    const outcome = await deps.database.withTryAdvisoryLock(TOKEN_UPDATES_LOCK_KEY, async () => {
      const total: TokenUpdatesRunResult = { done: 0, retry: 0, failed: 0 };
      for (;;) {
        const claimed = await claimTokenUpdates(db, { now: deps.clock(), leaseMs: LEASE_MS, limit: BATCH });
        const result = await sendClaimed(claimed);
        total.done += result.done;
        total.retry += result.retry;
        total.failed += result.failed;
        if (claimed.length < BATCH) return total;
      }
    });
    return outcome.acquired ? outcome.result : 'skipped';
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      const run = runOnce().finally(() => schedule());
      track(run);
    }, deps.intervalMs ?? 60_000);
    timer.unref();
  }

  return {
    enabled: deps.api !== null,
    sendSoon(originalTransactionIds) {
      if (deps.api === null || originalTransactionIds.length === 0) return;
      track(claimTokenUpdates(db, { now: deps.clock(), leaseMs: LEASE_MS, limit: originalTransactionIds.length, originalTransactionIds }).then(sendClaimed));
    },
    runOnce,
    start() {
      if (deps.api === null || !stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
