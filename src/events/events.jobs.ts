import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/client.js';
import { isFlagSet, linkedUsersWithoutAnswer, setFlag, usersDueForCheck } from './answers.repository.js';
import type { RecordedEvent } from './event-types.js';
import { pruneEvents } from './events.repository.js';
import { type EventsListener, startEventsListener } from './events-listener.js';
import type { FeedSignal } from './feed-signal.js';
import type { EventRecorder } from './recorder.js';

// The events' background work, in every replica: the feed listener (PostgreSQL), and,
// in one replica at a time (an advisory lock), the answer check that notices answers time
// alone changed (a period, grace period or billing retry ending with no word from Apple)
// and the pruning of events older than EVENTS_RETENTION.

/** pg advisory lock key of the answer check and pruning ("ase-evnt"): one replica runs them. */
export const EVENTS_JOB_LOCK_KEY = 0x6173652d65766e74n;
/** Users re-evaluated per transaction. */
const USERS_PER_CHECK = 500;
/** Pruning runs at most this often. */
const PRUNE_EVERY_MS = 3_600_000;
/** service_state key: the answers of users from before events existed are stored. */
const BASELINE_KEY = 'events.answers_baseline';

export interface EventJobsDeps {
  /** The database without the recording wrapper: the recorder runs its own transactions. */
  database: DatabaseHandle;
  recorder: EventRecorder;
  signal: FeedSignal;
  clock: Clock;
  logger: Logger;
  retentionMs: number;
  /** How often the answer check runs (well under a minute, so a change is noticed within one). */
  checkIntervalMs?: number;
}

export interface EventJobs {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Re-evaluates every user whose answer time may have changed by now; the events it recorded. */
  checkAnswersOnce(): Promise<RecordedEvent[]>;
  /** Deletes events past retention (keeping those still being delivered); how many. */
  pruneOnce(): Promise<number>;
  /** One locked tick of the periodic work (check, and prune when due); skipped when another replica holds the lock. */
  tick(): Promise<'ran' | 'skipped'>;
}

export function createEventJobs(deps: EventJobsDeps): EventJobs {
  const db = deps.database.db;
  let timer: NodeJS.Timeout | undefined;
  let listener: EventsListener | null = null;
  let running: Promise<unknown> | null = null;
  let lastPrune = 0;
  let stopped = false;

  async function checkAnswersOnce(): Promise<RecordedEvent[]> {
    const recorded: RecordedEvent[] = [];
    for (;;) {
      const now = deps.clock();
      const due = await usersDueForCheck(db, now, USERS_PER_CHECK);
      if (due.length === 0) return recorded;
      // Each re-evaluation moves next_check_at past now (or clears it), so the loop ends.
      recorded.push(...(await deps.recorder.recordAnswersOf(db, due)));
      if (due.length < USERS_PER_CHECK) return recorded;
    }
  }

  /**
   * Once per installation: stores the answers of users linked before events existed,
   * without events (nothing changed; they are only the starting point), so their next
   * change compares with a true `previous` and the answer check watches their expiries.
   */
  async function baselineOnce(): Promise<void> {
    if (await isFlagSet(db, BASELINE_KEY)) return;
    let after = '';
    for (;;) {
      const page = await linkedUsersWithoutAnswer(db, after, USERS_PER_CHECK);
      if (page.length === 0) break;
      await deps.recorder.storeAnswersOf(db, page);
      after = page[page.length - 1]!;
    }
    await setFlag(db, BASELINE_KEY, { at: deps.clock().toISOString() });
  }

  async function pruneOnce(): Promise<number> {
    const cutoff = new Date(deps.clock().getTime() - deps.retentionMs);
    let total = 0;
    for (;;) {
      const deleted = await pruneEvents(db, cutoff);
      total += deleted;
      if (deleted === 0) return total;
    }
  }

  async function tick(): Promise<'ran' | 'skipped'> {
    const outcome = await deps.database.withTryAdvisoryLock(EVENTS_JOB_LOCK_KEY, async () => {
      await baselineOnce();
      await checkAnswersOnce();
      const now = deps.clock().getTime();
      if (now - lastPrune >= PRUNE_EVERY_MS) {
        const pruned = await pruneOnce();
        lastPrune = now;
        if (pruned > 0) deps.logger.info({ pruned }, 'events past EVENTS_RETENTION deleted');
      }
    });
    return outcome.acquired ? 'ran' : 'skipped';
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((error: unknown) => deps.logger.warn({ err: error }, 'event answer check failed; next tick retries'))
        .finally(() => {
          running = null;
          schedule();
        });
    }, deps.checkIntervalMs ?? 20_000);
    timer.unref();
  }

  return {
    async start() {
      stopped = false;
      listener = await startEventsListener({ database: deps.database, signal: deps.signal, logger: deps.logger });
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await listener?.stop();
      listener = null;
    },
    checkAnswersOnce,
    pruneOnce,
    tick,
  };
}
