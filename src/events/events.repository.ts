import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, inArray, lt, max, notExists, sql } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/client.js';
import { columnName, onConflictReplace, tableName } from '../db/raw.js';
import { eventDeliveries, events, userAnswers } from '../db/schema.js';
import { notifyPayloads } from '../entitlements/answer-inputs-channel.js';
import { storeAnswers } from './answers.repository.js';
import type { EventType, NewEvent, RecordedEvent } from './event-types.js';

// The outbox: events are appended inside the transaction of the change they announce, and
// read back in `seq` order by the feed and the delivery worker.
//
// The classic outbox pitfall: a sequence number is taken at insert but becomes visible at
// commit, so a reader of `seq > after` could pass over a smaller number that commits after
// a larger one, and never see it. Every appending transaction therefore takes one
// transaction-scoped advisory lock just before its insert and holds it to its commit:
// numbers are taken in commit order, and PostgreSQL makes a commit visible before it
// releases the transaction's locks. The append is the last statement of its transaction
// but what the transaction deferred to its commit (src/db/before-commit.ts: the analytics
// rollup's one upsert), so the lock is held only for the insert, that and the commit.

/** pg_advisory_xact_lock key serialising event appends (an arbitrary constant of this service). */
export const EVENTS_APPEND_LOCK_KEY = 7_245_771_190_041_016n;

export function newEventId(): string {
  return `evt_${randomUUID()}`;
}

/**
 * The webhook body of an event: Standard Webhooks' envelope, `{"type","timestamp","data"}`;
 * with APPS_FILE also `"app"`, the app's id, so a receiver of several apps tells them apart.
 */
export function eventBody(event: NewEvent, at: Date, app: string | null = null): string {
  // The text JSON.stringify({ type, timestamp, [app,] data }) gives, with the data serialised once.
  const data = 'dataJson' in event ? event.dataJson : JSON.stringify(event.data);
  const appField = app === null ? '' : `"app":${JSON.stringify(app)},`;
  return `{"type":${JSON.stringify(event.type)},"timestamp":${JSON.stringify(at.toISOString())},${appField}"data":${data}}`;
}

export interface AppendOptions {
  /**
   * user_answers rows to write in the same statement, before the append lock is taken (as
   * when they were written first: a transaction never waits for a row lock while it holds
   * the append lock).
   */
  answers?: ReadonlyArray<typeof userAnswers.$inferInsert>;
  /** NOTIFY this channel with the last seq appended (PostgreSQL only). */
  notifyChannel?: string;
  /**
   * NOTIFY these payloads on this channel in the same statement (PostgreSQL only): the
   * entitlement cache's invalidation (answer-inputs-channel.ts), one round trip fewer per
   * recording transaction. Sent on its own when there is no event to append.
   */
  invalidate?: { channel: string; payloads: readonly string[] };
  /** The app id the envelope names (installations with APPS_FILE); absent: no `app` field. */
  app?: string | null;
}

// The append is one statement (it runs at the end of every ingest batch, where each round
// trip counted): the answers' upsert, then the append lock, then the insert, then NOTIFY.
// Every value travels as an array parameter (`unnest`), so the text is fixed and built once
// per shape. The lock subquery reads the upsert's count, so it runs after it; the insert
// reads the lock's row, so every seq is taken under the lock; rows keep the arrays' order
// (`with ordinality`), so seq follows `newEvents`. The cache's invalidation rides along in
// the lock's row: a scalar subquery of a CTE that runs once (volatile, so never inlined);
// PostgreSQL delivers a NOTIFY at commit whatever its place in the transaction.
const answerColumn = (property: 'userId' | 'entitlements' | 'fingerprint' | 'nextCheckAt' | 'updatedAt') => columnName(userAnswers, property);
const eventColumn = (property: 'seq' | 'id' | 'type' | 'userId' | 'body' | 'recordedAt') => columnName(events, property);
const appendStatements = new Map<string, string>();

function appendStatement(withAnswers: boolean, notify: boolean, invalidate: boolean): string {
  const shape = `${withAnswers}:${notify}:${invalidate}`;
  const cached = appendStatements.get(shape);
  if (cached !== undefined) return cached;
  // $1 lock key, $2 recorded at, $3..$6 events: id, type, user id, body; then the answers'
  // $7..$10: user id, entitlements, fingerprint, next check (updated at: $2); then the
  // events' channel; then the invalidation's channel and payloads.
  let next = withAnswers ? 11 : 7;
  const notifyParam = notify ? next++ : 0;
  const invalidateParam = invalidate ? next : 0;
  const answersCte = `answers as (
    insert into ${tableName(userAnswers)} (${answerColumn('userId')}, ${answerColumn('entitlements')}, ${answerColumn('fingerprint')}, ${answerColumn('nextCheckAt')}, ${answerColumn('updatedAt')})
    select a.u, a.e, a.f, a.n, $2::timestamptz from unnest($7::text[], $8::text[], $9::text[], $10::timestamptz[]) as a(u, e, f, n)
    ${onConflictReplace(userAnswers, 'userId')}
    returning 1
  ),`;
  const lockSource = withAnswers ? '(select count(*) from answers) as written' : '(select 1) as nothing';
  const text = `with ${withAnswers ? answersCte : ''}
  appending as (select pg_advisory_xact_lock($1::bigint)${
    invalidate ? `, (select count(pg_notify($${invalidateParam}, p)) from unnest($${invalidateParam + 1}::text[]) as p) as invalidated` : ''
  } from ${lockSource}),
  inserted as (
    insert into ${tableName(events)} (${eventColumn('id')}, ${eventColumn('type')}, ${eventColumn('userId')}, ${eventColumn('body')}, ${eventColumn('recordedAt')})
    select e.id, e.type, e.user_id, e.body, $2::timestamptz
    from appending, unnest($3::text[], $4::text[], $5::text[], $6::text[]) with ordinality as e(id, type, user_id, body, n)
    order by e.n
    returning ${eventColumn('seq')}, ${eventColumn('id')}
  )
select i.${eventColumn('seq')}::float8 as "seq", i.${eventColumn('id')} as "id" from inserted i${
    notify ? `, (select pg_notify($${notifyParam}, max(${eventColumn('seq')})::text) from inserted) as notified` : ''
  }`;
  appendStatements.set(shape, text);
  return text;
}

/**
 * Appends events, in order, inside the caller's transaction (call it last, just before
 * commit: the append lock is held until then), with the answers' rows of `options`.
 * Returns the events as recorded.
 */
export async function appendEvents(tx: Transaction, newEvents: readonly NewEvent[], at: Date, options: AppendOptions = {}): Promise<RecordedEvent[]> {
  const answers = options.answers ?? [];
  const invalidate = options.invalidate !== undefined && options.invalidate.payloads.length > 0 ? options.invalidate : null;
  if (newEvents.length === 0) {
    await storeAnswers(tx, answers);
    if (invalidate !== null) await notifyPayloads(tx, invalidate.channel, invalidate.payloads);
    return [];
  }
  const rows = newEvents.map((event) => ({
    id: newEventId(),
    type: event.type,
    userId: event.userId,
    body: eventBody(event, at, options.app ?? null),
    recordedAt: at,
  }));
  const notify = options.notifyChannel !== undefined;
  const params: unknown[] = [
    tx.driver.names.lockKey(EVENTS_APPEND_LOCK_KEY).toString(),
    at.toISOString(),
    rows.map((row) => row.id),
    rows.map((row) => row.type),
    rows.map((row) => row.userId),
    rows.map((row) => row.body),
  ];
  if (answers.length > 0) {
    params.push(
      answers.map((row) => row.userId),
      answers.map((row) => row.entitlements),
      answers.map((row) => row.fingerprint),
      answers.map((row) => row.nextCheckAt?.toISOString() ?? null),
    );
  }
  if (notify) params.push(options.notifyChannel);
  if (invalidate !== null) params.push(invalidate.channel, invalidate.payloads);
  // On every ingest batch: a hand-built statement to the transaction's driver, as the rest
  // of the group commit (docs/architecture.md, "Database access").
  const inserted = await tx.driver.query<{ seq: number; id: string }>(appendStatement(answers.length > 0, notify, invalidate !== null), params);
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
