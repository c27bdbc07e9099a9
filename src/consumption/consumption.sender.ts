import type { Logger } from 'pino';
import { isTransientApiFailure } from '../app-store-errors.js';
import { AppStoreApiError, type AppStoreServerApi, apiErrorName } from '../apple/api/index.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { decide, retryDelayMs } from './consumption.model.js';
import { type ClaimedRequest, claimDueRequests, factsOf, finishRequest, type RequestOutcome } from './consumption.repository.js';

// Answers Apple's CONSUMPTION_REQUESTs through Send Consumption Information (v2). Runs in
// every replica: a request is claimed with FOR UPDATE SKIP LOCKED and a lease, so only one
// replica attempts it at a time. Woken after a commit that recorded a request and after the
// app backend stores facts; a slow poll catches the rest (deadlines, retries, other replicas).

/** Requests claimed per round. */
const CLAIM_BATCH = 20;
/** Longer than the client's own retries of one call (4 attempts of 10 s at most, with backoff). */
const LEASE_MS = 5 * 60_000;

export interface ConsumptionSenderDeps {
  /** The plain database: answering Apple changes no purchase, so it records no events. */
  db: Database;
  /** null without App Store Server API credentials: requests are recorded as not sent. */
  api: AppStoreServerApi | null;
  clock: Clock;
  logger: Logger;
  /** How often due requests are looked for without a wake-up. Default 15 s. */
  pollIntervalMs?: number;
}

export interface ConsumptionSender {
  start(): void;
  stop(): Promise<void>;
  /** An attempt soon, in the background (never awaited by the caller). */
  wake(): void;
  /** Attempts every due request now; how many were looked at. */
  runOnce(): Promise<number>;
}

function describe(error: unknown): string {
  if (error instanceof AppStoreApiError) {
    const parts = [error.code, error.httpStatus === null ? 'no HTTP status' : `HTTP ${error.httpStatus}`];
    if (error.apiError !== null) parts.push(`error ${error.apiError} (${apiErrorName(error.apiError) ?? 'unknown code'})`);
    return parts.join(', ');
  }
  return error instanceof Error ? error.message : String(error);
}

export function createConsumptionSender(deps: ConsumptionSenderDeps): ConsumptionSender {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | null = null;
  let again = false;
  let stopped = true;

  async function attempt(request: ClaimedRequest): Promise<RequestOutcome> {
    const facts = await factsOf(deps.db, request.transactionId);
    const decision = decide(request, facts, deps.clock(), deps.api !== null);
    switch (decision.kind) {
      case 'expire':
        return { kind: 'not_sent', reason: 'expired' };
      case 'wait':
        return decision;
      case 'not_sent':
        return decision;
      case 'send': {
        const attempts = request.attempts + 1;
        try {
          await deps.api!.forEnvironment(decision.environment).sendConsumptionInformation(request.transactionId, decision.body);
          return { kind: 'sent', body: decision.body, attempts };
        } catch (error) {
          const message = describe(error);
          if (error instanceof AppStoreApiError && !isTransientApiFailure(error)) return { kind: 'failed', attempts, error: message };
          // Apple away or busy (or our own network): try again later, until the deadline.
          return { kind: 'retry', at: new Date(deps.clock().getTime() + retryDelayMs(attempts)), attempts, error: message };
        }
      }
    }
  }

  async function runOnce(): Promise<number> {
    let seen = 0;
    for (;;) {
      const now = deps.clock();
      const claimed = await claimDueRequests(deps.db, { now, leaseUntil: new Date(now.getTime() + LEASE_MS), limit: CLAIM_BATCH });
      for (const request of claimed) {
        const outcome = await attempt(request);
        await finishRequest(deps.db, request.notificationId, outcome, deps.clock());
        const log = { notificationId: request.notificationId, transactionId: request.transactionId, outcome: outcome.kind };
        if (outcome.kind === 'failed' || outcome.kind === 'retry')
          deps.logger.warn({ ...log, error: outcome.error }, 'consumption information not accepted by Apple');
        else if (outcome.kind !== 'wait')
          deps.logger.info({ ...log, ...(outcome.kind === 'not_sent' ? { reason: outcome.reason } : {}) }, 'consumption request answered');
      }
      seen += claimed.length;
      if (claimed.length < CLAIM_BATCH) return seen;
    }
  }

  /** One run at a time in this process; a wake-up during a run asks for one more. */
  function run(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = runOnce()
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, 'consumption sender failed; the next run retries');
        return 0;
      })
      .finally(() => {
        running = null;
        if (again && !stopped) {
          again = false;
          void run();
        }
      });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void run().finally(schedule);
    }, deps.pollIntervalMs ?? 15_000);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    wake() {
      // Not started (the CLI) or stopping: the server's next poll sends it.
      if (!stopped) void run();
    },
    async runOnce() {
      while (running) await running;
      return run();
    },
  };
}
