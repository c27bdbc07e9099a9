import { and, desc, eq, gt, inArray, lt, min, notInArray, or, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { type ColumnOf, columnName, tableName } from '../db/raw.js';
import { eventDeliveries, events, serviceState } from '../db/schema.js';

// event_deliveries (migration 0004): one row per (event, URL). Rows are created by the
// worker from `events` in seq order (seq order is commit order, see events.repository.ts),
// held back when their user already has a pending row there (released when it ends),
// claimed with FOR UPDATE SKIP LOCKED so replicas never take the same row at once, and
// leased by pushing next_attempt_at past the attempt's end: a replica that dies mid-attempt
// leaves a row that becomes due again when the lease runs out. The query builder's
// (docs/architecture.md, "Database access"), but the claim and the result below.

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

/** The seq a dispatch position (service_state value `{"seq": n}`) stands at. */
const positionSeq = (value: unknown): number => Number((value as { seq?: unknown } | null)?.seq ?? 0);

/**
 * Creates the rows of up to `batch` events after the URL's dispatch position and moves the
 * position past them, in one statement (its own transaction); a URL's first dispatch
 * creates its position (at the start of the feed) first. A replica that finds the position
 * locked by another skips (it is being done). Returns how many events it passed and how
 * many rows it created.
 */
export async function dispatchEvents(executor: Executor, url: string, now: Date, batch: number): Promise<{ events: number; created: number }> {
  let { missing, ...counts } = await dispatchOnce(executor, url, now, batch);
  if (missing) {
    await executor
      .insert(serviceState)
      .values({ key: dispatchKey(url), value: { seq: 0 } })
      .onConflictDoNothing({ target: serviceState.key });
    ({ missing, ...counts } = await dispatchOnce(executor, url, now, batch));
  }
  return counts;
}

async function dispatchOnce(executor: Executor, url: string, now: Date, batch: number): Promise<{ events: number; created: number; missing: boolean }> {
  const result = await executor.execute(dispatchStatement(url, now, batch));
  const row = (result as unknown as { rows: Array<{ events: number; created: number; missing: boolean }> }).rows[0];
  return { events: Number(row?.events ?? 0), created: Number(row?.created ?? 0), missing: row?.missing === true };
}

/**
 * The dispatch step's one statement. The position is read as a scalar subquery, so the
 * events after it are found by the primary key's range (`seq > $position`): read as a
 * join, the planner walked the key from the feed's start and filtered, so every dispatch
 * cost as much as all the events kept (12 ms a step at 30,000 events; a retention's worth
 * would be seconds). A position locked by another replica, or none, reads as null: no events.
 */
export function dispatchStatement(url: string, now: Date, batch: number): SQL {
  const key = dispatchKey(url);
  const at = now.toISOString();
  return sql`
    with position as (
      select (${serviceState.value} ->> 'seq')::bigint as seq from ${serviceState} where ${serviceState.key} = ${key} for update skip locked
    ),
    next as (
      select e.${sql.identifier('seq')} as seq, e.${sql.identifier('user_id')} as user_id
        from ${events} e where e.${sql.identifier('seq')} > (select seq from position) order by e.${sql.identifier('seq')} limit ${batch}
    ),
    placed as (
      select n.seq, n.user_id, n.user_id is not null and (
          row_number() over (partition by n.user_id order by n.seq) > 1
          or exists (select 1 from ${eventDeliveries} p where p.${sql.identifier('url')} = ${url} and p.${sql.identifier('user_id')} = n.user_id and p.${sql.identifier('status')} = 'pending')
        ) as held_back
        from next n
    ),
    created as (
      insert into ${eventDeliveries} (${sql.identifier('event_seq')}, ${sql.identifier('url')}, ${sql.identifier('user_id')}, ${sql.identifier('status')}, ${sql.identifier('next_attempt_at')}, ${sql.identifier('created_at')}, ${sql.identifier('held_back')})
      select seq, ${url}, user_id, 'pending', ${at}::timestamptz, ${at}::timestamptz, held_back from placed
      on conflict (${sql.identifier('event_seq')}, ${sql.identifier('url')}) do nothing
      returning 1
    ),
    moved as (
      update ${serviceState} set ${sql.identifier('value')} = jsonb_build_object('seq', (select max(seq) from next)), ${sql.identifier('updated_at')} = ${at}::timestamptz
       where ${serviceState.key} = ${key} and exists (select 1 from next)
      returning 1
    )
    select (select count(*) from next)::int as events, (select count(*) from created)::int as created,
      not exists (select 1 from ${serviceState} where ${serviceState.key} = ${key}) as missing`;
}

// The claim and the result are the worker's statements for every event it delivers, so
// they are hand-built, with names from the schema, and go to the driver (docs/architecture.md,
// "Database access"): built by the query builder at each call they were the largest share of
// the delivery's main-thread time (ingest benchmark with a receiver, CPU profile).
const delivery = (property: ColumnOf<typeof eventDeliveries>, alias?: string) => columnName(eventDeliveries, property, alias);
const event = (property: ColumnOf<typeof events>) => columnName(events, property, tableName(events));
const DELIVERIES = tableName(eventDeliveries);

// $1 url, $2 now, $3 lease until, $4 limit.
const CLAIM_DELIVERIES = `update ${DELIVERIES} set ${delivery('attempts')} = ${delivery('attempts', DELIVERIES)} + 1, ${delivery('nextAttemptAt')} = $3::timestamptz,
  ${delivery('lastAttemptAt')} = $2::timestamptz, ${delivery('firstAttemptAt')} = coalesce(${delivery('firstAttemptAt', DELIVERIES)}, $2::timestamptz)
from ${tableName(events)}
where ${delivery('url', DELIVERIES)} = $1 and ${delivery('eventSeq', DELIVERIES)} in (
    select ${delivery('eventSeq', 'c')} from ${DELIVERIES} c
    where c.${delivery('url')} = $1 and c.${delivery('status')} = 'pending' and not c.${delivery('heldBack')} and c.${delivery('nextAttemptAt')} <= $2::timestamptz
      and (c.${delivery('userId')} is null or not exists (
        select 1 from ${DELIVERIES} p
        where p.${delivery('url')} = c.${delivery('url')} and p.${delivery('userId')} = c.${delivery('userId')}
          and p.${delivery('status')} = 'pending' and p.${delivery('eventSeq')} < c.${delivery('eventSeq')}))
    order by c.${delivery('eventSeq')} asc limit $4 for update skip locked)
  and ${event('seq')} = ${delivery('eventSeq', DELIVERIES)}
returning ${delivery('eventSeq', DELIVERIES)}::float8 as "eventSeq", ${delivery('attempts', DELIVERIES)} as "attempts",
  ${delivery('firstAttemptAt', DELIVERIES)} as "firstAttemptAt", ${event('id')} as "eventId", ${event('body')} as "body", ${event('recordedAt')} as "recordedAt"`;

/**
 * Claims up to `limit` due deliveries of one URL, oldest event first, none of which waits
 * for an earlier pending event of the same user to that URL. Each claimed row is leased
 * until `leaseUntil` and counts one more attempt. Rows held back (created behind a pending
 * one of their user) are outside the index it walks: a backlog behind retrying deliveries
 * costs it nothing; the check for an earlier pending row stays, for the rows an operator
 * redelivered and those a sweep has not released yet.
 */
export async function claimDeliveries(executor: Executor, input: { url: string; now: Date; leaseUntil: Date; limit: number }): Promise<ClaimedDelivery[]> {
  if (input.limit <= 0) return [];
  const rows = await executor.driver.query<{
    eventSeq: number;
    attempts: number;
    firstAttemptAt: Date | null;
    eventId: string;
    body: string;
    recordedAt: Date;
  }>(CLAIM_DELIVERIES, [input.url, input.now.toISOString(), input.leaseUntil.toISOString(), input.limit]);
  return rows
    .map((row) => ({
      eventSeq: row.eventSeq,
      url: input.url,
      eventId: row.eventId,
      body: row.body,
      attempts: row.attempts,
      claimedAt: input.now,
      firstAttemptAt: row.firstAttemptAt ?? input.now,
      recordedAt: row.recordedAt,
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
  const [recorded] = await recordAttempts(executor, [{ claim, result }]);
  return recorded!;
}

// $1..$9: the attempts' seq, url, attempts, claimed at, status, last status, last error, next attempt, delivered at.
// A delivery that ends (delivered or failed) releases the next held-back event of its user
// to that URL in the same statement: the user's events go on at once.
const RECORD_ATTEMPTS = `with done as (
  update ${DELIVERIES} d set
    ${delivery('status')} = v.status,
    ${delivery('lastStatus')} = v.last_status,
    ${delivery('lastError')} = v.last_error,
    ${delivery('nextAttemptAt')} = v.next_at,
    ${delivery('deliveredAt')} = coalesce(v.delivered_at, d.${delivery('deliveredAt')})
  from unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[])
    as v(seq, url, attempts, claimed_at, status, last_status, last_error, next_at, delivered_at)
  where d.${delivery('eventSeq')} = v.seq and d.${delivery('url')} = v.url and d.${delivery('attempts')} = v.attempts
    and d.${delivery('lastAttemptAt')} = v.claimed_at and d.${delivery('status')} = 'pending'
  returning d.${delivery('eventSeq')} as seq, d.${delivery('url')} as url, d.${delivery('userId')} as user_id, d.${delivery('status')} as status
),
released as (
  update ${DELIVERIES} n set ${delivery('heldBack')} = false
    from (select distinct url, user_id from done where status <> 'pending' and user_id is not null) f
   where n.${delivery('url')} = f.url and n.${delivery('userId')} = f.user_id and n.${delivery('status')} = 'pending' and n.${delivery('heldBack')}
     and n.${delivery('eventSeq')} = (
       select min(m.${delivery('eventSeq')}) from ${DELIVERIES} m
        where m.${delivery('url')} = f.url and m.${delivery('userId')} = f.user_id and m.${delivery('status')} = 'pending' and m.${delivery('heldBack')})
  returning 1
)
select seq::float8 as seq, url from done`;

/**
 * Records the results of several attempts in one statement; for each, in order, whether it
 * was recorded (false: the row was claimed again since, its result is dropped).
 */
export async function recordAttempts(executor: Executor, attempts: ReadonlyArray<{ claim: ClaimedDelivery; result: AttemptResult }>): Promise<boolean[]> {
  if (attempts.length === 0) return [];
  const list = <T>(pick: (attempt: { claim: ClaimedDelivery; result: AttemptResult }) => T) => attempts.map(pick);
  const iso = (date: Date | null) => date?.toISOString() ?? null;
  const statusOf = (result: AttemptResult): DeliveryStatus => (result.outcome === 'retry' ? 'pending' : result.outcome);
  const rows = await executor.driver.query<{ seq: number; url: string }>(RECORD_ATTEMPTS, [
    list((a) => a.claim.eventSeq),
    list((a) => a.claim.url),
    list((a) => a.claim.attempts),
    list((a) => iso(a.claim.claimedAt)),
    list((a) => statusOf(a.result)),
    list((a) => a.result.status),
    list((a) => (a.result.outcome === 'delivered' ? null : a.result.error.slice(0, 500))),
    list((a) => iso(a.result.outcome === 'retry' ? a.result.nextAttemptAt : a.result.at)),
    list((a) => (a.result.outcome === 'delivered' ? iso(a.result.at) : null)),
  ]);
  const recorded = new Set(rows.map((row) => `${Number(row.seq)} ${row.url}`));
  return attempts.map((a) => recorded.has(`${a.claim.eventSeq} ${a.claim.url}`));
}

/**
 * Releases the held-back deliveries of a URL whose user has no earlier pending delivery
 * left there: the release a delivery's end makes (recordAttempts) can miss a row created
 * while it committed (the dispatch saw the earlier one still pending). Run now and then by
 * each lane; it reads only the held-back rows. Returns how many it released.
 */
export async function releaseHeldBack(executor: Executor, url: string): Promise<number> {
  const result = await executor.execute(sql`
    update ${eventDeliveries} d set ${sql.identifier('held_back')} = false
     where d.${sql.identifier('url')} = ${url} and d.${sql.identifier('status')} = 'pending' and d.${sql.identifier('held_back')}
       and not exists (
         select 1 from ${eventDeliveries} p
          where p.${sql.identifier('url')} = d.${sql.identifier('url')} and p.${sql.identifier('user_id')} = d.${sql.identifier('user_id')}
            and p.${sql.identifier('status')} = 'pending' and p.${sql.identifier('event_seq')} < d.${sql.identifier('event_seq')})
    returning 1`);
  return (result as unknown as { rows: unknown[] }).rows.length;
}

/**
 * Marks failed the pending deliveries to URLs not in `urls` (removed from the settings):
 * nobody would ever send them, and a pending delivery keeps its event from pruning. An
 * operator who adds the URL back can redeliver them. Returns how many.
 */
export async function failAbandonedDeliveries(executor: Executor, urls: readonly string[], now: Date): Promise<number> {
  const rows = await executor
    .update(eventDeliveries)
    .set({ status: 'failed', lastError: 'the URL is no longer in EVENTS_WEBHOOK_URLS', nextAttemptAt: now })
    .where(and(eq(eventDeliveries.status, 'pending'), notInArray(eventDeliveries.url, [...urls])))
    .returning({ eventSeq: eventDeliveries.eventSeq });
  return rows.length;
}

/** The age of the oldest event some URL has not had yet (pending or not dispatched), or null. */
export async function oldestUndeliveredAt(executor: Executor, urls: readonly string[]): Promise<Date | null> {
  if (urls.length === 0) return null;
  const [pending] = await executor
    .select({ at: min(events.recordedAt) })
    .from(eventDeliveries)
    .innerJoin(events, eq(events.seq, eventDeliveries.eventSeq))
    .where(and(eq(eventDeliveries.status, 'pending'), inArray(eventDeliveries.url, [...urls])));
  // Events no row exists for yet: after the least advanced URL's dispatch position (0 when it has none).
  const positions = await executor
    .select({ key: serviceState.key, value: serviceState.value })
    .from(serviceState)
    .where(inArray(serviceState.key, urls.map(dispatchKey)));
  const seqByKey = new Map(positions.map((row) => [row.key, positionSeq(row.value)]));
  const dispatched = Math.min(...urls.map((url) => seqByKey.get(dispatchKey(url)) ?? 0));
  const [undispatched] = await executor
    .select({ at: min(events.recordedAt) })
    .from(events)
    .where(gt(events.seq, dispatched));
  const times = [pending?.at, undispatched?.at].filter((at): at is Date => at instanceof Date);
  return times.length === 0 ? null : new Date(Math.min(...times.map((at) => at.getTime())));
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
  const { cursor } = input;
  const rows = await executor
    .select({
      eventSeq: eventDeliveries.eventSeq,
      eventId: events.id,
      type: events.type,
      userId: eventDeliveries.userId,
      url: eventDeliveries.url,
      status: eventDeliveries.status,
      attempts: eventDeliveries.attempts,
      nextAttemptAt: eventDeliveries.nextAttemptAt,
      lastAttemptAt: eventDeliveries.lastAttemptAt,
      firstAttemptAt: eventDeliveries.firstAttemptAt,
      lastStatus: eventDeliveries.lastStatus,
      lastError: eventDeliveries.lastError,
      deliveredAt: eventDeliveries.deliveredAt,
      createdAt: eventDeliveries.createdAt,
      recordedAt: events.recordedAt,
    })
    .from(eventDeliveries)
    .innerJoin(events, eq(events.seq, eventDeliveries.eventSeq))
    .where(
      and(
        eq(eventDeliveries.status, input.status),
        cursor === null
          ? undefined
          : or(lt(eventDeliveries.eventSeq, cursor.eventSeq), and(eq(eventDeliveries.eventSeq, cursor.eventSeq), lt(eventDeliveries.url, cursor.url))),
      ),
    )
    .orderBy(desc(eventDeliveries.eventSeq), desc(eventDeliveries.url))
    .limit(input.limit);
  return rows.map((row) => ({ ...row, status: row.status as DeliveryStatus }));
}

/**
 * Starts the event's delivery to each URL afresh: pending, due now, no attempts, a new
 * retry window (from the next first attempt). URLs the event had no row for (configured after it, or the event was not
 * dispatched yet) get one. Null when no event has this id.
 */
export async function redeliverEvent(executor: Executor, input: { eventId: string; urls: readonly string[]; now: Date }): Promise<number | null> {
  return executor.transaction(async (tx) => {
    const [event] = await tx.select({ seq: events.seq, userId: events.userId }).from(events).where(eq(events.id, input.eventId));
    if (event === undefined) return null;
    if (input.urls.length === 0) return 0;
    const afresh = {
      status: 'pending',
      heldBack: false,
      attempts: 0,
      nextAttemptAt: input.now,
      createdAt: input.now,
      firstAttemptAt: null,
      lastAttemptAt: null,
      lastStatus: null,
      lastError: null,
      deliveredAt: null,
    };
    const rows = await tx
      .insert(eventDeliveries)
      .values(input.urls.map((url) => ({ eventSeq: event.seq, url, userId: event.userId, ...afresh })))
      .onConflictDoUpdate({ target: [eventDeliveries.eventSeq, eventDeliveries.url], set: afresh })
      .returning({ url: eventDeliveries.url });
    return rows.length;
  });
}
