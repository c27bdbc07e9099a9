import type { Executor } from '../db/client.js';
import { rawQuery } from '../db/raw.js';

// event_deliveries (migration 0004): one row per (event, URL). Rows are created by the
// worker from `events` in seq order (seq order is commit order, see events.repository.ts),
// claimed with FOR UPDATE SKIP LOCKED so replicas never take the same row at once, and
// leased by pushing next_attempt_at past the attempt's end: a replica that dies mid-attempt
// leaves a row that becomes due again when the lease runs out. The hand-written SQL is the
// claim's shape (locking subquery, per-user order check), which the query builder cannot say.

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A claimed delivery: what the worker sends, and the fence its result must match. */
export interface ClaimedDelivery {
  eventSeq: number;
  url: string;
  eventId: string;
  body: string;
  /** attempts after this claim; with claimedAt, fences the result against a stale worker. */
  attempts: number;
  claimedAt: Date;
  /** The first attempt's time (this claim's, for a first attempt): retries go on for 3 days from it. */
  firstAttemptAt: Date;
  recordedAt: Date;
}

export interface DeliveryRow {
  eventSeq: number;
  eventId: string;
  type: string;
  userId: string | null;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  firstAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
  recordedAt: Date;
}

/** service_state key of a URL's dispatch position: the last event seq that has a row for it. */
export const dispatchKey = (url: string) => `events.dispatch:${url}`;

const toDate = (value: unknown) => (value instanceof Date ? value : new Date(value as string));
const toDateOrNull = (value: unknown) => (value === null || value === undefined ? null : toDate(value));

/**
 * Creates the rows of up to `batch` events after the URL's dispatch position and moves the
 * position past them, in one transaction. A replica that finds the position locked by
 * another skips (it is being done). Returns how many rows were created.
 */
export async function dispatchEvents(executor: Executor, url: string, now: Date, batch: number): Promise<number> {
  return executor.transaction(async (tx) => {
    const key = dispatchKey(url);
    await rawQuery(tx, `insert into service_state (key, value) values ($1, '{"seq": 0}'::jsonb) on conflict (key) do nothing`, [key]);
    const [position] = await rawQuery<{ seq: number | string }>(
      tx,
      `select (value->>'seq')::float8 as seq from service_state where key = $1 for update skip locked`,
      [key],
    );
    if (position === undefined) return 0;
    const rows = await rawQuery<{ seq: number | string }>(
      tx,
      `insert into event_deliveries (event_seq, url, user_id, status, next_attempt_at, created_at)
         select seq, $2, user_id, 'pending', $3, $3 from events where seq > $1 order by seq limit $4
       on conflict (event_seq, url) do nothing
       returning event_seq::float8 as seq`,
      [Number(position.seq), url, now, batch],
    );
    if (rows.length === 0) return 0;
    const last = Math.max(...rows.map((row) => Number(row.seq)));
    await rawQuery(tx, `update service_state set value = jsonb_build_object('seq', $2::bigint), updated_at = $3 where key = $1`, [
      key,
      last,
      now,
    ]);
    return rows.length;
  });
}

/**
 * Claims up to `limit` due deliveries of one URL, oldest event first, none of which waits
 * for an earlier pending event of the same user to that URL. Each claimed row is leased
 * until `leaseUntil` and counts one more attempt.
 */
export async function claimDeliveries(
  executor: Executor,
  input: { url: string; now: Date; leaseUntil: Date; limit: number },
): Promise<ClaimedDelivery[]> {
  if (input.limit <= 0) return [];
  const rows = await rawQuery<Record<string, unknown>>(
    executor,
    `with due as (
       select c.event_seq from event_deliveries c
       where c.url = $1 and c.status = 'pending' and c.next_attempt_at <= $2
         and (c.user_id is null or not exists (
           select 1 from event_deliveries p
           where p.url = c.url and p.user_id = c.user_id and p.status = 'pending' and p.event_seq < c.event_seq))
       order by c.event_seq
       limit $4
       for update skip locked
     )
     update event_deliveries d
        set attempts = d.attempts + 1, last_attempt_at = $2, next_attempt_at = $3, first_attempt_at = coalesce(d.first_attempt_at, $2)
       from due, events e
      where d.url = $1 and d.event_seq = due.event_seq and e.seq = d.event_seq
     returning d.event_seq::float8 as "eventSeq", d.attempts, d.first_attempt_at as "firstAttemptAt", e.id as "eventId", e.body,
               e.recorded_at as "recordedAt"`,
    [input.url, input.now, input.leaseUntil, input.limit],
  );
  return rows
    .map((row) => ({
      eventSeq: Number(row.eventSeq),
      url: input.url,
      eventId: row.eventId as string,
      body: row.body as string,
      attempts: Number(row.attempts),
      claimedAt: input.now,
      firstAttemptAt: toDate(row.firstAttemptAt),
      recordedAt: toDate(row.recordedAt),
    }))
    .sort((a, b) => a.eventSeq - b.eventSeq);
}

export type AttemptResult =
  | { outcome: 'delivered'; status: number; at: Date }
  | { outcome: 'retry'; status: number | null; error: string; at: Date; nextAttemptAt: Date }
  | { outcome: 'failed'; status: number | null; error: string; at: Date };

/**
 * Records an attempt's result, unless the row was claimed again since (lease ran out, or
 * an operator redelivered it): true when recorded.
 */
export async function recordAttempt(executor: Executor, claim: ClaimedDelivery, result: AttemptResult): Promise<boolean> {
  const status: DeliveryStatus = result.outcome === 'retry' ? 'pending' : result.outcome;
  const rows = await rawQuery<{ one: number }>(
    executor,
    `update event_deliveries
        set status = $4, last_status = $5, last_error = $6, next_attempt_at = $7,
            delivered_at = case when $4 = 'delivered' then $8::timestamptz else delivered_at end
      where event_seq = $1 and url = $2 and attempts = $3 and last_attempt_at = $9 and status = 'pending'
     returning 1 as one`,
    [
      claim.eventSeq,
      claim.url,
      claim.attempts,
      status,
      result.status,
      result.outcome === 'delivered' ? null : result.error.slice(0, 500),
      result.outcome === 'retry' ? result.nextAttemptAt : result.at,
      result.at,
      claim.claimedAt,
    ],
  );
  return rows.length > 0;
}

/**
 * Marks failed the pending deliveries to URLs not in `urls` (removed from the settings):
 * nobody would ever send them, and a pending delivery keeps its event from pruning. An
 * operator who adds the URL back can redeliver them. Returns how many.
 */
export async function failAbandonedDeliveries(executor: Executor, urls: readonly string[], now: Date): Promise<number> {
  const rows = await rawQuery<{ one: number }>(
    executor,
    `update event_deliveries
        set status = 'failed', last_error = 'the URL is no longer in EVENTS_WEBHOOK_URLS', next_attempt_at = $2
      where status = 'pending' and not (url = any($1::text[]))
     returning 1 as one`,
    [[...urls], now],
  );
  return rows.length;
}

/** The age of the oldest event some URL has not had yet (pending or not dispatched), or null. */
export async function oldestUndeliveredAt(executor: Executor, urls: readonly string[]): Promise<Date | null> {
  if (urls.length === 0) return null;
  const rows = await rawQuery<{ at: unknown }>(
    executor,
    `select least(
       (select min(e.recorded_at) from event_deliveries d join events e on e.seq = d.event_seq
         where d.status = 'pending' and d.url = any($1::text[])),
       (select min(e.recorded_at) from events e
         where e.seq > (select coalesce(min(coalesce((s.value->>'seq')::bigint, 0)), 0) from unnest($1::text[]) as u(url)
                          left join service_state s on s.key = 'events.dispatch:' || u.url))
     ) as at`,
    [urls],
  );
  return toDateOrNull(rows[0]?.at);
}

export interface DeliveryCursor {
  eventSeq: number;
  url: string;
}

/** Deliveries with a status, newest event first, after `cursor` (exclusive). */
export async function listDeliveries(
  executor: Executor,
  input: { status: DeliveryStatus; cursor: DeliveryCursor | null; limit: number },
): Promise<DeliveryRow[]> {
  const params: unknown[] = [input.status, input.limit];
  let after = '';
  if (input.cursor) {
    params.push(input.cursor.eventSeq, input.cursor.url);
    after = 'and (d.event_seq, d.url) < ($3, $4)';
  }
  const rows = await rawQuery<Record<string, unknown>>(
    executor,
    `select d.event_seq::float8 as "eventSeq", e.id as "eventId", e.type, d.user_id as "userId", d.url, d.status, d.attempts,
            d.next_attempt_at as "nextAttemptAt", d.last_attempt_at as "lastAttemptAt", d.first_attempt_at as "firstAttemptAt", d.last_status as "lastStatus",
            d.last_error as "lastError", d.delivered_at as "deliveredAt", d.created_at as "createdAt", e.recorded_at as "recordedAt"
       from event_deliveries d join events e on e.seq = d.event_seq
      where d.status = $1 ${after}
      order by d.event_seq desc, d.url desc
      limit $2`,
    params,
  );
  return rows.map((row) => ({
    eventSeq: Number(row.eventSeq),
    eventId: row.eventId as string,
    type: row.type as string,
    userId: (row.userId as string | null) ?? null,
    url: row.url as string,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: toDate(row.nextAttemptAt),
    lastAttemptAt: toDateOrNull(row.lastAttemptAt),
    firstAttemptAt: toDateOrNull(row.firstAttemptAt),
    lastStatus: row.lastStatus === null || row.lastStatus === undefined ? null : Number(row.lastStatus),
    lastError: (row.lastError as string | null) ?? null,
    deliveredAt: toDateOrNull(row.deliveredAt),
    createdAt: toDate(row.createdAt),
    recordedAt: toDate(row.recordedAt),
  }));
}

/**
 * Starts the event's delivery to each URL afresh: pending, due now, no attempts, a new
 * retry window (from the next first attempt). URLs the event had no row for (configured after it, or the event was not
 * dispatched yet) get one. Null when no event has this id.
 */
export async function redeliverEvent(executor: Executor, input: { eventId: string; urls: readonly string[]; now: Date }): Promise<number | null> {
  return executor.transaction(async (tx) => {
    const [event] = await rawQuery<{ seq: number | string; userId: string | null }>(
      tx,
      `select seq::float8 as seq, user_id as "userId" from events where id = $1`,
      [input.eventId],
    );
    if (event === undefined) return null;
    if (input.urls.length === 0) return 0;
    const rows = await rawQuery<{ url: string }>(
      tx,
      `insert into event_deliveries (event_seq, url, user_id, status, attempts, next_attempt_at, created_at)
         select $1, u.url, $2, 'pending', 0, $3, $3 from unnest($4::text[]) as u(url)
       on conflict (event_seq, url) do update
         set status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, created_at = excluded.created_at,
             first_attempt_at = null, last_attempt_at = null, last_status = null, last_error = null, delivered_at = null
       returning url`,
      [Number(event.seq), event.userId, input.now, [...input.urls]],
    );
    return rows.length;
  });
}
