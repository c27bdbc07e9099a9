import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, inArray, lt, max, notExists, sql } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/client.js';
import { insertRows, selectList } from '../db/raw.js';
import { eventDeliveries, events } from '../db/schema.js';
import type { EventType, NewEvent, RecordedEvent } from './event-types.js';

// The outbox: events are appended inside the transaction of the change they announce, and
// read back in `seq` order by the feed and the delivery worker.
//
// The classic outbox pitfall: a sequence number is taken at insert but becomes visible at
// commit, so a reader of `seq > after` could pass over a smaller number that commits after
// a larger one, and never see it. Every appending transaction therefore takes one
// transaction-scoped advisory lock just before its insert and holds it to its commit:
// numbers are taken in commit order, and PostgreSQL makes a commit visible before it
// releases the transaction's locks. Appends are the last statements of their transaction,
// so the lock is held only for the insert and the commit.

/** pg_advisory_xact_lock key serialising event appends (an arbitrary constant of this service). */
export const EVENTS_APPEND_LOCK_KEY = 7_245_771_190_041_016n;

const RETURNING = selectList(events, ['seq', 'id']);

export function newEventId(): string {
  return `evt_${randomUUID()}`;
}

/** The webhook body of an event: Standard Webhooks' envelope. */
export function eventBody(event: NewEvent, at: Date): string {
  return JSON.stringify({ type: event.type, timestamp: at.toISOString(), data: event.data });
}

/**
 * Appends events, in order, inside the caller's transaction (call it last, just before
 * commit: the append lock is held until then). Returns them as recorded.
 */
export async function appendEvents(tx: Transaction, newEvents: readonly NewEvent[], at: Date): Promise<RecordedEvent[]> {
  if (newEvents.length === 0) return [];
  // On every ingest batch: hand-built statements to the transaction's driver, as the rest
  // of the group commit (docs/architecture.md, "Database access").
  await tx.driver.query('select pg_advisory_xact_lock($1::bigint)', [EVENTS_APPEND_LOCK_KEY.toString()]);
  const rows = newEvents.map((event) => ({
    id: newEventId(),
    type: event.type,
    userId: event.userId,
    body: eventBody(event, at),
    recordedAt: at,
  }));
  // Identity values follow the order of the VALUES list, so seq follows `newEvents`.
  const inserted = await insertRows<{ seq: number; id: string }>(tx, events, rows, `returning ${RETURNING}`);
  const seqById = new Map(inserted.map((row) => [row.id, row.seq]));
  return rows.map((row) => ({ ...row, type: row.type, seq: seqById.get(row.id)! }));
}

/** The feed: events after `afterSeq` (exclusive), oldest first, at most `limit`. */
export async function readEvents(executor: Executor, afterSeq: number, limit: number): Promise<RecordedEvent[]> {
  const rows = await executor.select().from(events).where(gt(events.seq, afterSeq)).orderBy(asc(events.seq)).limit(limit);
  return rows.map(asRecorded);
}

/** One event by its id (`evt_…`), or null. */
export async function eventById(executor: Executor, id: string): Promise<RecordedEvent | null> {
  const [row] = await executor.select().from(events).where(eq(events.id, id));
  return row === undefined ? null : asRecorded(row);
}

/** The largest seq recorded so far (0 when none): where a feed reader "at the end" stands. */
export async function lastEventSeq(executor: Executor): Promise<number> {
  const [row] = await executor.select({ seq: max(events.seq) }).from(events);
  return Number(row?.seq ?? 0);
}

/**
 * Deletes events recorded before `cutoff`, at most `batch` of them, except events with a
 * delivery still pending. Returns how many were deleted.
 */
export async function pruneEvents(executor: Executor, cutoff: Date, batch = 10_000): Promise<number> {
  const stillPending = executor
    .select({ one: sql`1` })
    .from(eventDeliveries)
    .where(and(eq(eventDeliveries.eventSeq, events.seq), eq(eventDeliveries.status, 'pending')));
  const doomed = executor
    .select({ seq: events.seq })
    .from(events)
    .where(and(lt(events.recordedAt, cutoff), notExists(stillPending)))
    .orderBy(asc(events.seq))
    .limit(batch);
  const deleted = await executor.delete(events).where(inArray(events.seq, doomed)).returning({ seq: events.seq });
  return deleted.length;
}

function asRecorded(row: typeof events.$inferSelect): RecordedEvent {
  return { ...row, type: row.type as EventType };
}
