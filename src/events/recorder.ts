import type { Clock } from '../clock.js';
import { CONSUMPTION_DEADLINE_MS } from '../consumption/consumption.model.js';
import type { Database, DatabaseHandle, Transaction } from '../db/client.js';
import { ANSWER_INPUTS_CHANNEL, invalidationPayloads } from '../entitlements/answer-inputs-channel.js';
import type { EntitlementMap } from '../entitlements/entitlement-map.js';
import { type AnswerComparison, answerChanges, compareAnswers } from './answers.js';
import { lockAnswersOf, lockEveryAnswer, storeAnswers } from './answers.repository.js';
import type { NewEvent, RecordedEvent } from './event-types.js';
import { appendEvents } from './events.repository.js';
import { recordingLookups } from './recording.repository.js';
import { attachChanges, emptyChanges, type TransactionChanges } from './transaction-changes.js';

// Turns what a transaction changed into events, inside that transaction, just before it
// commits: a crash at any instant loses none (they commit with the change) and invents
// none (a rolled-back change takes its events with it).

/** PostgreSQL NOTIFY channel: its payload is the last seq a transaction recorded. */
export const EVENTS_CHANNEL = 'ase_events';

/** Users are read and compared this many at a time (a replay can touch every user). */
const USERS_PER_READ = 500;

export interface EventRecorderDeps {
  entitlementMap: EntitlementMap;
  clock: Clock;
  /** 'postgres': NOTIFY listeners in the recording transaction. */
  kind: DatabaseHandle['kind'];
  /** The app id every event's envelope names (installations with APPS_FILE); null or absent: none. */
  app?: string | null;
  /** Called after a commit that recorded events (in-process wake-up of feed readers, metrics). */
  onCommitted?: (events: readonly RecordedEvent[]) => void;
  /**
   * Called after a commit that wrote the answer inputs of `userIds` (this process's
   * entitlement cache). On PostgreSQL the transaction also NOTIFYs them to every replica.
   */
  onInputsCommitted?: (userIds: readonly string[]) => void;
}

export interface EventRecorder {
  /** The events of `changes`, appended inside `tx`; call it as the transaction's last work. */
  flush(tx: Transaction, changes: TransactionChanges): Promise<RecordedEvent[]>;
  /** Records the answer changes of `userIds` (the scheduler), in its own transaction over `db`. */
  recordAnswersOf(db: Database, userIds: readonly string[]): Promise<RecordedEvent[]>;
  /** Stores the users' answers as recorded without recording events (the first baseline). */
  storeAnswersOf(db: Database, userIds: readonly string[]): Promise<void>;
  /** `db` whose top-level transactions record the events of what they change. */
  recording(db: Database): Database;
}

export function createEventRecorder(deps: EventRecorderDeps): EventRecorder {
  interface Flushed {
    recorded: RecordedEvent[];
    /** The users whose answers were compared: every user whose answer inputs the transaction may have written. */
    users: readonly string[];
  }

  /** `inputsWritten`: the transaction wrote purchases, links, grants or AppTransactions (not so the answer check). */
  async function flushChanges(tx: Transaction, changes: TransactionChanges, inputsWritten: boolean): Promise<Flushed> {
    const now = deps.clock();
    const newEvents: NewEvent[] = [];
    if (changes.notifications.length === 0 && changes.purchases.size === 0 && changes.users.size === 0) return { recorded: [], users: [] };

    // Users whose answers are compared: those noted, and the owners of the purchases written.
    // For a batch of few (every ingest batch) one statement looks up owners, products and
    // their recorded answers; a larger set's answers are read a page of users at a time.
    const notifiedPurchases = changes.notifications.map((n) => n.originalTransactionId).filter((id): id is string => id !== null);
    const transactionIds = changes.notifications.map((n) => n.transactionId).filter((id): id is string => id !== null);
    const fewUsers = changes.users.size + changes.purchases.size <= USERS_PER_READ;
    // On PostgreSQL the users' answers are locked first, and read after (answers.repository.ts).
    const lockAnswers = deps.kind === 'postgres';
    const lookups = await recordingLookups(tx, {
      owned: [...notifiedPurchases, ...changes.purchases],
      transactions: transactionIds,
      subscriptions: notifiedPurchases,
      answersOf: fewUsers ? { users: [...changes.users], ownersOf: [...changes.purchases] } : null,
      lockAnswers: lockAnswers && fewUsers,
    });
    if (lockAnswers && !fewUsers) await lockEveryAnswer(tx);
    const owners = lookups.owners;

    for (const n of changes.notifications) {
      const userId = n.originalTransactionId === null ? null : (owners.get(n.originalTransactionId) ?? null);
      const productId =
        (n.transactionId === null ? undefined : lookups.transactionProducts.get(n.transactionId)) ??
        (n.originalTransactionId === null ? null : (lookups.subscriptionProducts.get(n.originalTransactionId) ?? null));
      newEvents.push({
        type: 'notification.received',
        userId,
        data: {
          notificationUUID: n.id,
          notificationType: n.notificationType,
          subtype: n.subtype,
          environment: n.environment,
          signedDate: n.signedDate?.toISOString() ?? null,
          userId,
          transactionId: n.transactionId,
          originalTransactionId: n.originalTransactionId,
          productId,
        },
      });
      if (n.notificationType === 'CONSUMPTION_REQUEST') {
        newEvents.push({
          type: 'consumption.requested',
          userId,
          data: {
            userId,
            transactionId: n.transactionId,
            productId,
            deadline: new Date((n.signedDate ?? now).getTime() + CONSUMPTION_DEADLINE_MS).toISOString(),
          },
        });
      }
    }

    const users = new Set(changes.users);
    for (const id of changes.purchases) {
      const userId = owners.get(id);
      if (userId !== undefined) users.add(userId);
    }
    const sortedUsers = [...users].sort();
    const stored = lookups.answers === null ? undefined : new Map(lookups.answers.map((row) => [row.userId, row]));
    const answerWrites: AnswerComparison['writes'] = [];
    for (let i = 0; i < sortedUsers.length; i += USERS_PER_READ) {
      const { changes: answers, writes } = await compareAnswers(tx, sortedUsers.slice(i, i + USERS_PER_READ), deps.entitlementMap, now, stored);
      for (const change of answers) newEvents.push({ type: 'entitlements.updated', userId: change.userId, dataJson: change.dataJson });
      // One page's rows go with the append; many pages' rows are written page by page.
      if (sortedUsers.length <= USERS_PER_READ) answerWrites.push(...writes);
      else await storeAnswers(tx, writes);
    }

    // Part of the append, on every ingest batch: the answers' rows, the events, NOTIFY of
    // the feed's listeners and NOTIFY of every replica's entitlement cache (which drops
    // these users when, and only if, this commits), in one statement. Without events to
    // append the invalidation is still sent, on its own (appendEvents).
    const invalidate = inputsWritten && deps.kind === 'postgres' && sortedUsers.length > 0;
    const recorded = await appendEvents(tx, newEvents, now, {
      answers: answerWrites,
      app: deps.app ?? null,
      // The channels of this transaction's app (its handle's names: client.ts).
      ...(deps.kind === 'postgres' ? { notifyChannel: tx.driver.names.channel(EVENTS_CHANNEL) } : {}),
      ...(invalidate ? { invalidate: { channel: tx.driver.names.channel(ANSWER_INPUTS_CHANNEL), payloads: invalidationPayloads(sortedUsers) } } : {}),
    });
    return { recorded, users: inputsWritten ? sortedUsers : [] };
  }

  function committed({ recorded, users }: Flushed): void {
    if (users.length > 0) deps.onInputsCommitted?.(users);
    if (recorded.length > 0) deps.onCommitted?.(recorded);
  }

  return {
    flush: async (tx, changes) => (await flushChanges(tx, changes, true)).recorded,
    async recordAnswersOf(db, userIds) {
      const changes = emptyChanges();
      for (const id of userIds) changes.users.add(id);
      // Time alone changed these answers: no input was written, no cache entry is stale.
      const flushed = await db.transaction((tx) => flushChanges(tx, changes, false));
      committed(flushed);
      return flushed.recorded;
    },
    async storeAnswersOf(db, userIds) {
      await db.transaction(async (tx) => {
        if (deps.kind === 'postgres') await lockAnswersOf(tx, userIds);
        await answerChanges(tx, userIds, deps.entitlementMap, deps.clock());
      });
    },
    recording(db) {
      // Looked up at each call, not once: a handle may swap its transaction method (tests do).
      const original: Database['transaction'] = (work, config) => db.transaction(work, config);
      const wrapped = (async <T>(work: (tx: Transaction) => Promise<T>, config?: Parameters<Database['transaction']>[1]): Promise<T> => {
        let flushed: Flushed = { recorded: [], users: [] };
        const result = await original(async (tx) => {
          const changes = emptyChanges();
          attachChanges(tx, changes);
          const value = await work(tx);
          flushed = await flushChanges(tx, changes, true);
          return value;
        }, config);
        committed(flushed);
        return result;
      }) as Database['transaction'];
      // The same database object in every other respect: drizzle's methods read their
      // session through `this`, which the prototype chain still provides.
      const derived = Object.create(db) as Database;
      Object.defineProperty(derived, 'transaction', { value: wrapped, configurable: true, writable: true });
      return derived;
    },
  };
}
