import type { FastifyBaseLogger } from 'fastify';
import { appStoreApiError, isTransientApiFailure } from '../app-store-errors.js';
import type { ApiEnvironment, AppStoreServerApi } from '../apple/api/index.js';
import { AppStoreApiError } from '../apple/api/index.js';
import type { AppleEnvironment } from '../config.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { badRequest, CodedError, isRetryable, UnavailableError } from '../errors.js';

const DAY_MS = 86_400_000;
/** Apple keeps 180 days of notification history and refuses older start dates. */
export const HISTORY_RETENTION_MS = 180 * DAY_MS;
/** Clocks differ a little: an end date this far ahead of ours is still "now". */
export const FUTURE_TOLERANCE_MS = 60_000;
/**
 * Apple measures the 180 days with its own clock when the request arrives; starting a
 * little later than the limit keeps a run that starts right at it from being refused.
 */
const RETENTION_MARGIN_MS = 5 * 60_000;

/** Feeds one signed payload through the service's ingest path (source 'recovery'). */
export type IngestSignedPayload = (signedPayload: string) => Promise<{ status: 'processed' | 'duplicate' }>;

export interface RecoveryWindow {
  startDate: Date;
  endDate: Date;
  onlyFailures: boolean;
}

export interface RecoveryCounts {
  fetched: number;
  applied: number;
  duplicate: number;
  rejected: number;
}

export interface RecoveryResult extends RecoveryCounts {
  /** The environments whose history was read (Production and/or Sandbox). */
  environments: ApiEnvironment[];
}

/** pino's Logger and Fastify's request logger both fit. */
export type RecoveryLogger = Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

export interface RecoveryDeps {
  api: AppStoreServerApi;
  /** The accepted environments (APPLE_ENVIRONMENTS); only Production and Sandbox have a history. */
  environments: readonly AppleEnvironment[];
  ingest: IngestSignedPayload;
  clock: () => Date;
  logger: RecoveryLogger;
}

/** A run stopped by a transient failure; what it did before stopping is kept and stays applied. */
export class RecoveryInterruptedError extends UnavailableError {
  constructor(
    code: string,
    message: string,
    readonly counts: RecoveryCounts,
    cause: unknown,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message, { cause, headers: { ...headers } });
  }
}

export function historyEnvironments(accepted: readonly AppleEnvironment[]): ApiEnvironment[] {
  // Xcode and LocalTesting notifications never pass through Apple's servers.
  return (['Production', 'Sandbox'] as const).filter((environment) => accepted.includes(environment));
}

function parseDate(field: string, raw: string): Date {
  // ISO 8601 with a date and a time; bare dates are ambiguous about the time zone.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw badRequest('INVALID_DATE', `${field} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z, got "${raw}"`);
  }
  return new Date(raw);
}

/** Checks an operator's window against Apple's limits; every refusal is a 400 with its own code. */
export function validateRecoveryWindow(input: { startDate: string; endDate: string; onlyFailures?: boolean | undefined }, now: Date): RecoveryWindow {
  const startDate = parseDate('startDate', input.startDate);
  const endDate = parseDate('endDate', input.endDate);
  if (startDate.getTime() >= endDate.getTime()) {
    throw badRequest('INVALID_WINDOW', 'startDate must be before endDate');
  }
  if (endDate.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) {
    throw badRequest('WINDOW_IN_FUTURE', `endDate must not be in the future (now is ${now.toISOString()})`);
  }
  if (startDate.getTime() < now.getTime() - HISTORY_RETENTION_MS) {
    throw badRequest(
      'WINDOW_TOO_OLD',
      `startDate must be within the last 180 days (Apple keeps no older notification history): not before ${new Date(now.getTime() - HISTORY_RETENTION_MS).toISOString()}`,
    );
  }
  return { startDate, endDate, onlyFailures: input.onlyFailures ?? false };
}

/** The earliest start date Apple accepts now, with a small margin. */
export function earliestHistoryStart(now: Date): Date {
  return new Date(now.getTime() - HISTORY_RETENTION_MS + RETENTION_MARGIN_MS);
}

/**
 * A failure that stops the run, and nothing is counted against the payload: one that may
 * pass on a later try, or any App Store failure (a refusal of our own request is not the
 * notification's fault either).
 */
function stopsTheRun(error: unknown): boolean {
  return isRetryable(error) || error instanceof AppStoreApiError;
}

/** The code of a refusal for good (verification failed, or not a valid record); null when unrecognised. */
function refusalCode(error: unknown): string | null {
  return error instanceof CodedError ? error.code : null;
}

function interrupted(error: unknown, counts: RecoveryCounts): RecoveryInterruptedError | null {
  const done = `after ${counts.fetched} notification(s)`;
  if (error instanceof AppStoreApiError) {
    if (!isTransientApiFailure(error)) return null;
    const mapped = appStoreApiError(error);
    return new RecoveryInterruptedError(mapped.code, `Recovery stopped ${done}: ${mapped.message}`, counts, error, mapped.headers);
  }
  if (isDatabaseUnavailable(error)) {
    return new RecoveryInterruptedError('DATABASE_UNAVAILABLE', `Recovery stopped ${done}: the database is unavailable; try again`, counts, error);
  }
  if (error instanceof CodedError && error.retryable) {
    return new RecoveryInterruptedError(error.code, `Recovery stopped ${done}: ${error.message}; try again`, counts, error);
  }
  return null;
}

/**
 * Reads Apple's notification history for the window, in each accepted environment, and
 * feeds every notification through ingest: recorded ones come back as duplicates and are
 * not applied again. A notification refused for good (bad signature, wrong app…), or one
 * that fails in our own code, is counted as rejected and logged, and the run goes on (a
 * poison notification must not block every later run); a transient failure stops the run with a
 * RecoveryInterruptedError (503), and running it again is safe.
 */
export async function recoverNotifications(deps: RecoveryDeps, window: RecoveryWindow, options: { signal?: AbortSignal } = {}): Promise<RecoveryResult> {
  const environments = historyEnvironments(deps.environments);
  const counts: RecoveryCounts = { fetched: 0, applied: 0, duplicate: 0, rejected: 0 };
  // The minute of tolerance absorbs an operator's clock skew; Apple is asked only up to our now.
  const now = deps.clock();
  const endDate = new Date(Math.min(window.endDate.getTime(), now.getTime()));
  if (window.startDate.getTime() >= endDate.getTime()) return { ...counts, environments };

  try {
    for (const environment of environments) {
      const pages = deps.api.forEnvironment(environment).iterateNotificationHistory({
        startDate: window.startDate.getTime(),
        endDate: endDate.getTime(),
        ...(window.onlyFailures ? { onlyFailures: true } : {}),
      });
      for await (const page of pages) {
        for (const item of page.notificationHistory ?? []) {
          if (options.signal?.aborted) {
            throw new RecoveryInterruptedError('RECOVERY_ABORTED', 'Recovery stopped: the service is shutting down', { ...counts }, options.signal.reason);
          }
          counts.fetched += 1;
          if (typeof item.signedPayload !== 'string' || item.signedPayload === '') {
            counts.rejected += 1;
            deps.logger.warn({ environment, code: 'MISSING_SIGNED_PAYLOAD' }, 'recovery: history entry without a signedPayload');
            continue;
          }
          try {
            const { status } = await deps.ingest(item.signedPayload);
            if (status === 'processed') counts.applied += 1;
            else counts.duplicate += 1;
          } catch (error) {
            if (stopsTheRun(error)) throw error;
            counts.rejected += 1;
            const code = refusalCode(error);
            if (code !== null) {
              deps.logger.warn({ environment, code, reason: (error as Error).message }, 'recovery: notification rejected');
            } else {
              // Not a verdict on the payload but a fault of ours with this one notification. It stays
              // unrecorded (recovering its window again applies it once fixed) and does not block the rest.
              deps.logger.error({ environment, code: 'INTERNAL_ERROR', err: error }, 'recovery: notification could not be ingested');
            }
          }
        }
      }
    }
  } catch (error) {
    const stopped = interrupted(error, { ...counts });
    if (stopped) {
      deps.logger.warn({ err: error, code: stopped.code, ...counts }, 'recovery stopped by a transient failure');
      throw stopped;
    }
    if (error instanceof AppStoreApiError) throw appStoreApiError(error);
    throw error;
  }
  return { ...counts, environments };
}
