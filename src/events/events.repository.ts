import { randomUUID } from 'node:crypto';
import type { Executor } from '../db/client.js';
import { insertRows, rawQuery, selectList } from '../db/raw.js';
import { events } from '../db/schema.js';
import type { NewEvent, RecordedEvent } from './event-types.js';

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

const FEED_COLUMNS = selectList(events, ['seq', 'id', 'type', 'userId', 'body', 'recordedAt']);

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
export async function appendEvents(tx: Executor, newEvents: readonly NewEvent[], at: Date): Promise<RecordedEvent[]> {
  if (newEvents.length === 0) return [];
  await rawQuery(tx, 'select pg_advisory_xact_lock($1::bigint)', [EVENTS_APPEND_LOCK_KEY.toString()]);
  const rows = newEvents.map((event) => ({
    id: newEventId(),
    type: event.type,
    userId: event.userId,
    body: eventBody(event, at),
    recordedAt: at,
  }));
  // Identity values follow the order of the VALUES list, so seq follows `newEvents`.
  const inserted = await insertRows<{ seq: string | number; id: string }>(tx, events, rows, 'returning seq::float8 as seq, id');
  const seqById = new Map(inserted.map((row) => [row.id, Number(row.seq)]));
  return rows.map((row) => ({ ...row, type: row.type, seq: seqById.get(row.id)! }));
}

/** The feed: events after `afterSeq` (exclusive), oldest first, at most `limit`. */
export async function readEvents(executor: Executor, afterSeq: number, limit: number): Promise<RecordedEvent[]> {
  const rows = await rawQuery<RecordedEvent & { seq: number | string }>(
    executor,
    `select ${FEED_COLUMNS} from events where seq > $1 order by seq limit $2`,
    [afterSeq, limit],
  );
  return rows.map((row) => ({ ...row, seq: Number(row.seq), recordedAt: new Date(row.recordedAt) }));
}

/** One event by its id (`evt_…`), or null. */
export async function eventById(executor: Executor, id: string): Promise<RecordedEvent | null> {
  const rows = await rawQuery<RecordedEvent & { seq: number | string }>(executor, `select ${FEED_COLUMNS} from events where id = $1`, [id]);
  const row = rows[0];
  return row === undefined ? null : { ...row, seq: Number(row.seq), recordedAt: new Date(row.recordedAt) };
}

/** The largest seq recorded so far (0 when none): where a feed reader "at the end" stands. */
export async function lastEventSeq(executor: Executor): Promise<number> {
  const rows = await rawQuery<{ seq: number | string | null }>(executor, 'select max(seq)::float8 as seq from events');
  return Number(rows[0]?.seq ?? 0);
}

/**
 * Deletes events recorded before `cutoff`, at most `batch` of them, except events with a
 * delivery still pending. Returns how many were deleted.
 */
export async function pruneEvents(executor: Executor, cutoff: Date, batch = 10_000): Promise<number> {
  const rows = await rawQuery<{ n: number | string }>(
    executor,
    `with doomed as (
       select e.seq from events e
       where e.recorded_at < $1
         and not exists (select 1 from event_deliveries d where d.event_seq = e.seq and d.status = 'pending')
       order by e.seq limit $2
     ), gone as (delete from events where seq in (select seq from doomed) returning 1)
     select count(*)::int as n from gone`,
    [cutoff, batch],
  );
  return Number(rows[0]?.n ?? 0);
}
