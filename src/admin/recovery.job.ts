import type { DatabaseHandle } from '../db/client.js';
import { CodedError, codeOf } from '../errors.js';
import type { ServiceEvents } from '../metrics/events.js';
import { readRecoveryBookmark, writeRecoveryBookmark } from './recovery.repository.js';
import {
  earliestHistoryStart,
  type RecoveryDeps,
  RecoveryInterruptedError,
  type RecoveryLogger,
  type RecoveryResult,
  type RecoveryWindow,
  recoverNotifications,
  validateRecoveryWindow,
} from './recovery.usecase.js';
import type { RecoveryRunRecord, RecoveryRunsRepository } from './recovery-runs.repository.js';

/** pg advisory lock key of the periodic job ("ase-reco"): one replica at a time runs it. */
export const RECOVERY_LOCK_KEY = 0x6173652d7265636fn;
/** How far back the very first run looks, unless twice the interval is longer. */
export const FIRST_RUN_LOOKBACK_MS = 24 * 3_600_000;
/**
 * Each window starts this much before the previous one ended, so a notification Apple
 * files a little late is still seen; recovering it twice is a harmless duplicate.
 */
export const WINDOW_OVERLAP_MS = 5 * 60_000;
/** The first run comes this long after start-up (or after one interval, if shorter). */
export const FIRST_RUN_DELAY_MS = 60_000;

export interface RecoveryJobDeps extends RecoveryDeps {
  database: DatabaseHandle;
  events: ServiceEvents;
  intervalMs: number;
  /** Where every run is recorded (GET /admin/notifications/recover/runs); none when absent. */
  runs?: RecoveryRunsRepository;
}

export type RecoveryTrigger = 'schedule' | 'admin' | 'cli';

export type RecoveryRunOutcome =
  | { outcome: 'success'; startDate: Date; endDate: Date; result: RecoveryResult }
  /** `locked`: another replica holds the job's lock; `running`: this process is already running it. */
  | { outcome: 'skipped'; reason: 'locked' | 'running' }
  | { outcome: 'failure'; error: unknown };

/** A failed run's code and message as the admin route would answer them (never a stack or a driver's text). */
function failureOf(error: unknown): { code: string; message: string } {
  const code = codeOf(error);
  if (error instanceof CodedError) return { code, message: error.message };
  return { code, message: code === 'DATABASE_UNAVAILABLE' ? 'The database is unavailable' : 'An internal error stopped the run (see the service log)' };
}

/**
 * Records a finished run. Never throws: the record is for the operator's list, and a run
 * (or its answer) must not fail because the list could not be written.
 */
async function recordRun(deps: RecoveryJobDeps, logger: RecoveryLogger, run: RecoveryRunRecord): Promise<void> {
  if (!deps.runs) return;
  try {
    await deps.runs.record(run);
  } catch (error) {
    logger.warn({ err: error, trigger: run.trigger, outcome: run.outcome }, 'recovery run could not be recorded (the run itself is unaffected)');
  }
}

const NO_COUNTS = { fetched: 0, applied: 0, duplicate: 0, rejected: 0 };
const countsOf = (result: RecoveryResult) => ({ fetched: result.fetched, applied: result.applied, duplicate: result.duplicate, rejected: result.rejected });

/** The job's next window: from its bookmark (less an overlap), or a first look back, up to now. */
export function recoveryJobWindow(bookmark: Date | null, now: Date, intervalMs: number): { startDate: Date; endDate: Date } {
  const wanted = bookmark === null ? now.getTime() - Math.max(FIRST_RUN_LOOKBACK_MS, 2 * intervalMs) : bookmark.getTime() - WINDOW_OVERLAP_MS;
  // After a long outage the bookmark may be older than Apple's history; take what is left.
  const startDate = new Date(Math.max(wanted, earliestHistoryStart(now).getTime()));
  return { startDate, endDate: now };
}

/**
 * One run of the periodic job: under the advisory lock, recover failed deliveries from
 * the last successful run's end to now, then move the bookmark. Never throws: a failure
 * is logged and reported, the bookmark stays, and the next run covers the same window.
 */
export async function runRecoveryOnce(deps: RecoveryJobDeps, options: { trigger?: RecoveryTrigger; signal?: AbortSignal } = {}): Promise<RecoveryRunOutcome> {
  const trigger = options.trigger ?? 'schedule';
  const startedAt = deps.clock();
  // Known once the lock is held and the bookmark read; a failure before that has none.
  let window: { startDate: Date; endDate: Date } | null = null;
  try {
    const locked = await deps.database.withTryAdvisoryLock(RECOVERY_LOCK_KEY, async () => {
      const now = deps.clock();
      const bookmark = await readRecoveryBookmark(deps.database.db);
      window = recoveryJobWindow(bookmark, now, deps.intervalMs);
      const result = await recoverNotifications(deps, { ...window, onlyFailures: true }, options.signal ? { signal: options.signal } : {});
      await writeRecoveryBookmark(deps.database.db, window.endDate);
      return { ...window, result };
    });
    if (!locked.acquired) {
      deps.events.recoveryRun({ trigger, outcome: 'skipped', fetched: 0, applied: 0 });
      deps.logger.debug({ trigger }, 'recovery job skipped: another replica is running it');
      return { outcome: 'skipped', reason: 'locked' };
    }
    const { startDate, endDate, result } = locked.result;
    deps.events.recoveryRun({ trigger, outcome: 'success', fetched: result.fetched, applied: result.applied });
    deps.logger.info({ trigger, startDate: startDate.toISOString(), endDate: endDate.toISOString(), ...result }, 'recovery job finished');
    await recordRun(deps, deps.logger, {
      trigger,
      outcome: 'success',
      startedAt,
      finishedAt: deps.clock(),
      window: { startDate, endDate, onlyFailures: true },
      counts: countsOf(result),
      error: null,
    });
    return { outcome: 'success', startDate, endDate, result };
  } catch (error) {
    const counts = error instanceof RecoveryInterruptedError ? error.counts : undefined;
    deps.events.recoveryRun({ trigger, outcome: 'failure', fetched: counts?.fetched ?? 0, applied: counts?.applied ?? 0 });
    deps.logger.warn({ err: error, trigger }, 'recovery job failed; the next run retries the same window');
    const tried = window as { startDate: Date; endDate: Date } | null;
    await recordRun(deps, deps.logger, {
      trigger,
      outcome: 'failure',
      startedAt,
      finishedAt: deps.clock(),
      window: tried === null ? null : { ...tried, onlyFailures: true },
      counts: counts ? { ...counts } : NO_COUNTS,
      error: failureOf(error),
    });
    return { outcome: 'failure', error };
  }
}

export interface SchedulerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: SchedulerTimers = {
  setTimeout(callback, ms) {
    // A pending run must never keep the process alive on its own.
    return setTimeout(callback, ms).unref();
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface RecoveryScheduler {
  /** Plans the first run; later runs follow one interval after the previous one ends. */
  start(): void;
  /** Cancels what is planned, aborts a run in progress between notifications, and waits for it. */
  stop(): Promise<void>;
  /** Runs now, unless a run of this process is already in progress. */
  tick(): Promise<RecoveryRunOutcome>;
}

export interface RecoverySchedulerOptions {
  intervalMs: number;
  /** Default: FIRST_RUN_DELAY_MS or the interval, whichever is shorter. */
  firstRunDelayMs?: number;
  run(signal: AbortSignal): Promise<RecoveryRunOutcome>;
  timers?: SchedulerTimers;
}

/**
 * Timer-driven runs that never overlap in one process: the next run is planned only
 * when the previous one has finished (a chain of timeouts, not an interval).
 */
export function createRecoveryScheduler(options: RecoverySchedulerOptions): RecoveryScheduler {
  const timers = options.timers ?? nodeTimers;
  const firstRunDelayMs = options.firstRunDelayMs ?? Math.min(FIRST_RUN_DELAY_MS, options.intervalMs);
  let started = false;
  let handle: unknown = null;
  let inFlight: Promise<RecoveryRunOutcome> | null = null;
  let abort = new AbortController();

  function plan(ms: number): void {
    if (!started) return;
    handle = timers.setTimeout(() => {
      handle = null;
      void tick().finally(() => plan(options.intervalMs));
    }, ms);
  }

  function tick(): Promise<RecoveryRunOutcome> {
    if (inFlight) return Promise.resolve({ outcome: 'skipped', reason: 'running' });
    const current = options
      .run(abort.signal)
      .catch((error: unknown): RecoveryRunOutcome => ({ outcome: 'failure', error }))
      .finally(() => {
        inFlight = null;
      });
    inFlight = current;
    return current;
  }

  return {
    start() {
      if (started) return;
      started = true;
      abort = new AbortController();
      plan(firstRunDelayMs);
    },
    async stop() {
      started = false;
      if (handle !== null) timers.clearTimeout(handle);
      handle = null;
      abort.abort(new Error('the recovery job is stopping'));
      if (inFlight) await inFlight;
    },
    tick,
  };
}

export interface RecoveryUsecase {
  /** An operator's window checked against Apple's limits at the clock's now (400s with their codes). */
  window(input: { startDate: string; endDate: string; onlyFailures?: boolean | undefined }): RecoveryWindow;
  /** An operator's run (admin route or CLI), counted under its trigger and logged to `logger` (default the service's). */
  recover(window: RecoveryWindow, options: { trigger: 'admin' | 'cli'; logger?: RecoveryLogger }): Promise<RecoveryResult>;
  /** One run of the periodic job (runRecoveryOnce). */
  runOnce(options?: { trigger?: RecoveryTrigger; signal?: AbortSignal }): Promise<RecoveryRunOutcome>;
}

/** Recovery over its dependencies: the admin route, the CLI and the periodic job share it. */
export function createRecoveryUsecase(deps: RecoveryJobDeps): RecoveryUsecase {
  return {
    window: (input) => validateRecoveryWindow(input, deps.clock()),
    async recover(window, { trigger, logger = deps.logger }) {
      const startedAt = deps.clock();
      try {
        const result = await recoverNotifications({ ...deps, logger }, window);
        deps.events.recoveryRun({ trigger, outcome: 'success', fetched: result.fetched, applied: result.applied });
        logger.info({ ...result, onlyFailures: window.onlyFailures }, `recovery requested by ${trigger === 'admin' ? 'an admin' : 'the CLI'} finished`);
        await recordRun(deps, logger, { trigger, outcome: 'success', startedAt, finishedAt: deps.clock(), window, counts: countsOf(result), error: null });
        return result;
      } catch (error) {
        const counts = error instanceof RecoveryInterruptedError ? error.counts : undefined;
        deps.events.recoveryRun({ trigger, outcome: 'failure', fetched: counts?.fetched ?? 0, applied: counts?.applied ?? 0 });
        await recordRun(deps, logger, {
          trigger,
          outcome: 'failure',
          startedAt,
          finishedAt: deps.clock(),
          window,
          counts: counts ? { ...counts } : NO_COUNTS,
          error: failureOf(error),
        });
        throw error;
      }
    },
    runOnce: (options) => runRecoveryOnce(deps, options),
  };
}
