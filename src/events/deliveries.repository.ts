import { and, desc, eq, gt, inArray, lt, lte, min, notInArray, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { type ColumnOf, columnName, tableName } from '../db/raw.js';
import { eventDeliveries, events, serviceState } from '../db/schema.js';

// event_deliveries (migration 0004): one row per (event, URL). Rows are created by the
// worker from `events` in seq order (seq order is commit order, see events.repository.ts),
// held back when their user already has a pending row there (released when it ends),
// claimed with FOR UPDATE SKIP LOCKED so replicas never take the same row at once (or
// created claimed, by the dispatch, for the lane's free slots, a user's later events of the
// batch chained behind the first), and leased by pushing
// next_attempt_at past the attempt's end: a replica that dies mid-attempt leaves a row that
// becomes due again when the lease runs out. The query builder's (docs/architecture.md,
// "Database access"), but the dispatch, the claim and the result: the statements of every
// event delivered, hand-built with names from the schema and sent to the driver (built by
// the query builder at each call they were the largest share of the delivery's main-thread
// time, ingest benchmark with a receiver, CPU profile).

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

const delivery = (property: ColumnOf<typeof eventDeliveries>, alias?: string) => columnName(eventDeliveries, property, alias);
const event = (property: ColumnOf<typeof events>, alias?: string) => columnName(events, property, alias);
const DELIVERIES = tableName(eventDeliveries);
const EVENTS = tableName(events);
const serviceStateColumn = (property: ColumnOf<typeof serviceState>) => columnName(serviceState, property);

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

/** What a dispatch step may claim of the rows it creates: the lane's free slots, and their lease. */
export interface DispatchClaim {
  leaseUntil: Date;
  limit: number;
}

export interface DispatchResult {
  /** Events passed (the position moved past them). */
  events: number;
  /** Rows created (an event may already have had one: an operator redelivered it first). */
  created: number;
  /**
   * Rows created already claimed, oldest event first, as chains: a user's claimed events of
   * the batch, in order (one for most). The caller attempts each chain's events in turn, the
   * next only once the one before it was delivered, and hands the rest back (handBackClaims)
   * when one is not: a user's later events of one batch go without a release each.
   */
  chains: ClaimedDelivery[][];
}

/**
 * Creates the rows of up to `batch` events after the URL's dispatch position and moves the
 * position past them, in one statement (its own transaction); a URL's first dispatch
 * creates its position (at the start of the feed) first. A replica that finds the position
 * locked by another skips (it is being done).
 *
 * The rows of up to `claim.limit` events that wait for nothing are created claimed, as
 * claimDeliveries would claim them (one attempt, leased until `claim.leaseUntil`), and with
 * each its user's later events of the batch, chained behind it: an event delivered at the
 * first try is written twice (created, then its result), not three times (held back,
 * released, then its result), and a row's claim touches no index (none covers the lease's
 * columns). A chain takes one of the lane's slots: its events go one after another.
 */
export async function dispatchEvents(executor: Executor, url: string, now: Date, batch: number, claim?: DispatchClaim): Promise<DispatchResult> {
  let result = await dispatchOnce(executor, url, now, batch, claim);
  if (result === null) {
    await executor
      .insert(serviceState)
      .values({ key: dispatchKey(url), value: { seq: 0 } })
      .onConflictDoNothing({ target: serviceState.key });
    result = await dispatchOnce(executor, url, now, batch, claim);
  }
  // Another replica's dispatch committed between the statement's snapshot and its lock: again,
  // on a snapshot that sees its rows (each time, that replica moved the position on).
  while (result === 'stale') result = await dispatchOnce(executor, url, now, batch, claim);
  return result ?? { events: 0, created: 0, chains: [] };
}

/**
 * The dispatch step's result; null when the URL has no position yet, 'stale' when the
 * position moved after the statement's snapshot (it created nothing).
 */
async function dispatchOnce(
  executor: Executor,
  url: string,
  now: Date,
  batch: number,
  claim: DispatchClaim | undefined,
): Promise<DispatchResult | 'stale' | null> {
  const statement = dispatchStatement(url, now, batch, claim);
  const rows = await executor.driver.query<{
    events: number;
    created: number;
    missing: boolean;
    stale: boolean;
    eventSeq: number | null;
    userId: string | null;
    eventId: string | null;
    body: string | null;
    recordedAt: Date | null;
  }>(statement.text, statement.params);
  const [first] = rows;
  if (first === undefined || first.missing) return null;
  if (first.stale) return 'stale';
  // Oldest event first; a user's later events join the chain of the first (events of no user go alone).
  const chains: ClaimedDelivery[][] = [];
  const chainOfUser = new Map<string, ClaimedDelivery[]>();
  for (const row of rows.filter((row) => row.eventSeq !== null).sort((a, b) => a.eventSeq! - b.eventSeq!)) {
    const claim: ClaimedDelivery = {
      eventSeq: row.eventSeq!,
      url,
      eventId: row.eventId!,
      body: row.body!,
      attempts: 1,
      claimedAt: now,
      firstAttemptAt: now,
      recordedAt: row.recordedAt!,
    };
    const chain = row.userId === null ? undefined : chainOfUser.get(row.userId);
    if (chain !== undefined) {
      chain.push(claim);
      continue;
    }
    chains.push([claim]);
    if (row.userId !== null) chainOfUser.set(row.userId, chains.at(-1)!);
  }
  return { events: Number(first.events), created: Number(first.created), chains };
}

// $1 position key, $2 url, $3 now, $4 batch, $5 lease until, $6 how many rows to create claimed.
//
// The position is read as a scalar subquery, so the events after it are found by the
// primary key's range (`seq > $position`): read as a join, the planner walked the key from
// the feed's start and filtered, so every dispatch cost as much as all the events kept (12
// ms a step at 30,000 events; a retention's worth would be seconds). A position locked by
// another replica, or none, reads as null: no events. So does a position another replica's
// dispatch moved between this statement's snapshot and its lock: the lock reads the
// position as committed, but the snapshot does not see the rows that dispatch created, and
// would create the next event of one of their users held back by nothing, claimed while the
// earlier one is in flight (two replicas: seen once in CI as one event out of its user's
// order). The position as the snapshot reads it (`seen`) then differs from the locked one:
// the statement creates nothing and says `stale`, and the caller dispatches again. A row is
// held back when its user has a pending row at the URL already, or an earlier event in the
// same batch. The pending rows are looked for user by user in the user-order index (a
// lateral join, kept one by `offset 0`: as an EXISTS or a plain join, the planner read
// every 'pending' entry of the status index once and hashed them, dead entries of rows
// delivered since the last vacuum included: 10 ms a step, ingest benchmark with a receiver,
// auto_explain), then locked FOR SHARE one by one by key, in event order (all of them,
// once: a materialized CTE), and read as they are once locked (their status tested outside
// the lookup, else the planner may take the user-order index by URL alone for it). A
// user's later events of the batch are chained behind the first when that one is created
// claimed (`heads`: the oldest `$6` events that wait for nothing), and held back when it is
// not. A delivery ending now (record_delivery_results, migration 0015) has its row locked: the
// dispatch waits for it to commit and reads the row ended, holding nothing back behind it.
// A delivery that ends after waits for this statement to commit, and its release sees the
// rows held back here. One row always comes back: the counts, with a claimed row's event and
// user (or nulls) beside them.
const DISPATCH_EVENTS = `with position as (
  select (${serviceStateColumn('value')} ->> 'seq')::bigint as seq from ${tableName(serviceState)} where ${serviceStateColumn('key')} = $1 for update skip locked
),
seen as (
  select (${serviceStateColumn('value')} ->> 'seq')::bigint as seq from ${tableName(serviceState)} where ${serviceStateColumn('key')} = $1
),
current as (
  select seq from position where seq = (select seq from seen)
),
next as (
  select e.${event('seq')} as seq, e.${event('userId')} as user_id, e.${event('id')} as id, e.${event('body')} as body, e.${event('recordedAt')} as recorded_at
    from ${EVENTS} e where e.${event('seq')} > (select seq from current) order by e.${event('seq')} limit $4
),
earlier as (
  select w.seq from (select distinct user_id from next where user_id is not null) u cross join lateral (
    select p.${delivery('eventSeq')} as seq from ${DELIVERIES} p
     where p.${delivery('url')} = $2 and p.${delivery('userId')} = u.user_id and p.${delivery('status')} <> 'delivered' and p.${delivery('status')} = 'pending'
    offset 0
  ) w
),
waiting as materialized (
  select w.user_id from (select seq from earlier order by seq) e cross join lateral (
    select d.${delivery('userId')} as user_id, d.${delivery('status')} as status from ${DELIVERIES} d
     where d.${delivery('eventSeq')} = e.seq and d.${delivery('url')} = $2
    offset 0 for share
  ) w where w.status = 'pending'
),
placed as (
  select n.seq, n.user_id, n.user_id is not null and n.user_id in (select user_id from waiting) as waits,
      n.user_id is not null and row_number() over (partition by n.user_id order by n.seq) > 1 as later
    from next n
),
heads as (
  select seq, user_id, waits, later, not (waits or later) and row_number() over (partition by waits or later order by seq) <= $6 as head
    from placed
),
chained as (
  select seq, user_id, waits, later, head or (later and not waits and bool_or(head) over (partition by user_id)) as claimed
    from heads
),
ranked as (
  select seq, user_id, claimed, (waits or later) and not claimed as held_back from chained
),
created as (
  insert into ${DELIVERIES} (${delivery('eventSeq')}, ${delivery('url')}, ${delivery('userId')}, ${delivery('status')}, ${delivery('createdAt')}, ${delivery('heldBack')},
      ${delivery('attempts')}, ${delivery('nextAttemptAt')}, ${delivery('lastAttemptAt')}, ${delivery('firstAttemptAt')})
  select seq, $2, user_id, 'pending', $3::timestamptz, held_back,
      case when claimed then 1 else 0 end, case when claimed then $5::timestamptz else $3::timestamptz end,
      case when claimed then $3::timestamptz end, case when claimed then $3::timestamptz end
    from ranked
  on conflict (${delivery('eventSeq')}, ${delivery('url')}) do nothing
  returning ${delivery('eventSeq')} as seq, ${delivery('attempts')} as attempts
),
moved as (
  update ${tableName(serviceState)} set ${serviceStateColumn('value')} = jsonb_build_object('seq', (select max(seq) from next)), ${serviceStateColumn('updatedAt')} = $3::timestamptz
   where ${serviceStateColumn('key')} = $1 and exists (select 1 from next)
  returning 1
),
counts as (
  select (select count(*) from next)::int as events, (select count(*) from created)::int as created,
    not exists (select 1 from ${tableName(serviceState)} where ${serviceStateColumn('key')} = $1) as missing,
    exists (select 1 from position) and not exists (select 1 from current) as stale
)
select counts.events, counts.created, counts.missing, counts.stale, n.seq::float8 as "eventSeq", n.user_id as "userId", n.id as "eventId", n.body,
    n.recorded_at as "recordedAt"
  from counts left join (created c join next n on n.seq = c.seq and c.attempts = 1) on true`;

/** The dispatch step's one statement and its parameters (see DISPATCH_EVENTS). */
export function dispatchStatement(url: string, now: Date, batch: number, claim?: DispatchClaim): { text: string; params: unknown[] } {
  const at = now.toISOString();
  return { text: DISPATCH_EVENTS, params: [dispatchKey(url), url, at, batch, claim?.leaseUntil.toISOString() ?? at, claim?.limit ?? 0] };
}

// $1 url, $2 now, $3 lease until, $4 limit.
const CLAIM_DELIVERIES = `update ${DELIVERIES} set ${delivery('attempts')} = ${delivery('attempts', DELIVERIES)} + 1, ${delivery('nextAttemptAt')} = $3::timestamptz,
  ${delivery('lastAttemptAt')} = $2::timestamptz, ${delivery('firstAttemptAt')} = coalesce(${delivery('firstAttemptAt', DELIVERIES)}, $2::timestamptz)
from ${EVENTS}
where ${delivery('url', DELIVERIES)} = $1 and ${delivery('eventSeq', DELIVERIES)} in (
    select ${delivery('eventSeq', 'c')} from ${DELIVERIES} c
    where c.${delivery('url')} = $1 and c.${delivery('status')} = 'pending' and not c.${delivery('heldBack')} and c.${delivery('nextAttemptAt')} <= $2::timestamptz
      and (c.${delivery('userId')} is null or not exists (
        select 1 from ${DELIVERIES} p
        where p.${delivery('url')} = c.${delivery('url')} and p.${delivery('userId')} = c.${delivery('userId')}
          and p.${delivery('status')} = 'pending' and p.${delivery('eventSeq')} < c.${delivery('eventSeq')}))
    order by c.${delivery('eventSeq')} asc limit $4 for update skip locked)
  and ${event('seq', EVENTS)} = ${delivery('eventSeq', DELIVERIES)}
returning ${delivery('eventSeq', DELIVERIES)}::float8 as "eventSeq", ${delivery('attempts', DELIVERIES)} as "attempts",
  ${delivery('firstAttemptAt', DELIVERIES)} as "firstAttemptAt", ${event('id', EVENTS)} as "eventId", ${event('body', EVENTS)} as "body", ${event('recordedAt', EVENTS)} as "recordedAt"`;

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

// $1 url, $2 seqs, $3 claimed at. A chain's events are created claimed for a first attempt
// (DISPATCH_EVENTS); a row still claimed so (the fence recordAttempts uses: no other claim
// since, still pending) goes back to how the dispatch creates a row it does not claim: no
// attempt, due now, and held back while an earlier event of its user to the URL is pending
// (an earlier chain event that was not delivered, or the rows handed back with it). The
// rows are locked in event order, as the dispatch locks them.
const HAND_BACK_CLAIMS = `update ${DELIVERIES} d set ${delivery('attempts')} = 0, ${delivery('nextAttemptAt')} = $3::timestamptz,
  ${delivery('lastAttemptAt')} = null, ${delivery('firstAttemptAt')} = null,
  ${delivery('heldBack')} = exists (
    select 1 from ${DELIVERIES} p
     where p.${delivery('url')} = d.${delivery('url')} and p.${delivery('userId')} = d.${delivery('userId')}
       and p.${delivery('status')} = 'pending' and p.${delivery('eventSeq')} < d.${delivery('eventSeq')})
where d.${delivery('url')} = $1 and d.${delivery('eventSeq')} in (
  select h.${delivery('eventSeq')} from ${DELIVERIES} h
   where h.${delivery('url')} = $1 and h.${delivery('eventSeq')} = any($2::bigint[]) and h.${delivery('status')} = 'pending'
     and h.${delivery('attempts')} = 1 and h.${delivery('lastAttemptAt')} = $3::timestamptz
   order by h.${delivery('eventSeq')} for update)
returning d.${delivery('heldBack')} as "heldBack"`;

/**
 * Hands back the events of a chain (DispatchResult) that were not attempted: the one before
 * them was not delivered, or the lane stops, or their lease could run out before they are.
 * Each row becomes as if dispatched unclaimed: held back behind its user's pending events,
 * or due now when none is left (a claim takes it). Claims that are no longer this lane's
 * (claimed again since) are left alone. Returns how many rows are due now.
 */
export async function handBackClaims(executor: Executor, claims: readonly ClaimedDelivery[]): Promise<number> {
  const [first] = claims;
  if (first === undefined) return 0;
  const rows = await executor.driver.query<{ heldBack: boolean }>(HAND_BACK_CLAIMS, [
    first.url,
    claims.map((claim) => claim.eventSeq),
    first.claimedAt.toISOString(),
  ]);
  return rows.filter((row) => !row.heldBack).length;
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
// to that URL in the same call: the user's events go on at once. With $10 true, the
// released row is claimed there too ($11 now, $12 lease until, as claimDeliveries would):
// the lane's slot goes from the ended attempt to the next event, with no claim statement.
// The function (migration 0015) ends the rows in the order given, then releases, each
// release reading what committed since (a dispatch that saw an ending row pending).
const RECORD_ATTEMPTS = `select r_seq::float8 as seq, r_url as url, r_released as released, r_attempts as attempts,
    r_first_attempt_at as "firstAttemptAt", r_event_id as "eventId", r_body as body, r_recorded_at as "recordedAt"
  from record_delivery_results($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[],
    $10::boolean, $11::timestamptz, $12::timestamptz)`;

/**
 * Records the results of several attempts in one call; for each, in order, whether it
 * was recorded (false: the row was claimed again since, its result is dropped).
 */
export async function recordAttempts(executor: Executor, attempts: ReadonlyArray<{ claim: ClaimedDelivery; result: AttemptResult }>): Promise<boolean[]> {
  return (await recordAttemptResults(executor, attempts)).recorded;
}

export interface RecordedAttempts {
  /** For each attempt, in order, whether it was recorded (false: the row was claimed again since). */
  recorded: boolean[];
  /** The held-back rows the ends released, claimed (with `claim`; none without): the caller attempts them now. */
  claims: ClaimedDelivery[];
}

/**
 * recordAttempts; with `claim`, the held-back rows the ends release are claimed in the same
 * call (one attempt, leased until `claim.leaseUntil`), one per user whose delivery
 * ended: as many as the attempts that ended, so the lane's slots stay within its limit.
 */
export async function recordAttemptResults(
  executor: Executor,
  attempts: ReadonlyArray<{ claim: ClaimedDelivery; result: AttemptResult }>,
  claim?: { now: Date; leaseUntil: Date },
): Promise<RecordedAttempts> {
  if (attempts.length === 0) return { recorded: [], claims: [] };
  // In event order: the order the dispatch takes its locks in (see DISPATCH_EVENTS).
  const ordered = [...attempts].sort((a, b) => a.claim.eventSeq - b.claim.eventSeq || (a.claim.url < b.claim.url ? -1 : a.claim.url > b.claim.url ? 1 : 0));
  const list = <T>(pick: (attempt: { claim: ClaimedDelivery; result: AttemptResult }) => T) => ordered.map(pick);
  const iso = (date: Date | null) => date?.toISOString() ?? null;
  const statusOf = (result: AttemptResult): DeliveryStatus => (result.outcome === 'retry' ? 'pending' : result.outcome);
  const now = claim?.now ?? new Date(0);
  const rows = await executor.driver.query<{
    seq: number;
    url: string;
    released: boolean;
    attempts: number | null;
    firstAttemptAt: Date | null;
    eventId: string | null;
    body: string | null;
    recordedAt: Date | null;
  }>(RECORD_ATTEMPTS, [
    list((a) => a.claim.eventSeq),
    list((a) => a.claim.url),
    list((a) => a.claim.attempts),
    list((a) => iso(a.claim.claimedAt)),
    list((a) => statusOf(a.result)),
    list((a) => a.result.status),
    list((a) => (a.result.outcome === 'delivered' ? null : a.result.error.slice(0, 500))),
    list((a) => iso(a.result.outcome === 'retry' ? a.result.nextAttemptAt : a.result.at)),
    list((a) => (a.result.outcome === 'delivered' ? iso(a.result.at) : null)),
    claim !== undefined,
    now.toISOString(),
    (claim?.leaseUntil ?? now).toISOString(),
  ]);
  const recorded = new Set(rows.filter((row) => !row.released).map((row) => `${Number(row.seq)} ${row.url}`));
  const claims = rows
    .filter((row) => row.released)
    .map((row) => ({
      eventSeq: Number(row.seq),
      url: row.url,
      eventId: row.eventId!,
      body: row.body!,
      attempts: row.attempts!,
      claimedAt: now,
      firstAttemptAt: row.firstAttemptAt ?? now,
      recordedAt: row.recordedAt!,
    }))
    .sort((a, b) => a.eventSeq - b.eventSeq);
  return { recorded: attempts.map((a) => recorded.has(`${a.claim.eventSeq} ${a.claim.url}`)), claims };
}

/**
 * Releases the held-back deliveries of a URL whose user has no earlier pending delivery
 * left there: the safety net behind the release a delivery's end makes (recordAttempts).
 * An end and a dispatch at the same moment wait for one another (DISPATCH_EVENTS), so this
 * finds rows only when something else went wrong (a statement cancelled as a deadlock's
 * loser, say). Run now and then by each lane; it reads only the held-back rows, and skips
 * the rows another statement holds (a dispatch reading them, an end releasing them): it
 * never waits for one, so never in a cycle with one. Returns how many it released.
 */
export async function releaseHeldBack(executor: Executor, url: string): Promise<number> {
  const result = await executor.execute(sql`
    update ${eventDeliveries} d set ${sql.identifier('held_back')} = false
     where d.${sql.identifier('url')} = ${url} and d.${sql.identifier('event_seq')} in (
       select h.${sql.identifier('event_seq')} from ${eventDeliveries} h
        where h.${sql.identifier('url')} = ${url} and h.${sql.identifier('status')} = 'pending' and h.${sql.identifier('held_back')}
          and not exists (
            select 1 from ${eventDeliveries} p
             where p.${sql.identifier('url')} = h.${sql.identifier('url')} and p.${sql.identifier('user_id')} = h.${sql.identifier('user_id')}
               and p.${sql.identifier('status')} = 'pending' and p.${sql.identifier('event_seq')} < h.${sql.identifier('event_seq')})
        for update skip locked)
    returning 1`);
  return (result as unknown as { rows: unknown[] }).rows.length;
}

// $1 url, $2 now, $3 attempted before, $4 the lease in ms. Retrying rows wait for nothing
// (held-back ones were never attempted) and are found through the ready-order index. A row
// in flight is leased, due exactly a lease after its attempt began (claimDeliveries,
// dispatchEvents): those are left alone. The rows are locked in event order, the order a
// dispatch locks them in (DISPATCH_EVENTS): neither waits for the other in a cycle. The new
// due time touches no index (a HOT update).
const BRING_RETRIES_FORWARD = `update ${DELIVERIES} d set ${delivery('nextAttemptAt')} = $2::timestamptz
where d.${delivery('url')} = $1 and d.${delivery('eventSeq')} in (
  select r.${delivery('eventSeq')} from ${DELIVERIES} r
   where r.${delivery('url')} = $1 and r.${delivery('status')} = 'pending' and not r.${delivery('heldBack')} and r.${delivery('attempts')} > 0
     and r.${delivery('nextAttemptAt')} > $2::timestamptz and r.${delivery('lastAttemptAt')} < $3::timestamptz
     and r.${delivery('nextAttemptAt')} <> r.${delivery('lastAttemptAt')} + $4::int * interval '1 millisecond'
   order by r.${delivery('eventSeq')} for update)
returning 1`;

/**
 * Makes due now the URL's deliveries waiting to retry whose last attempt began before
 * `attemptedBefore`, but those in flight (leased for `leaseMs`): the URL answers again after
 * an outage, so its backlog goes at once rather than each delivery at its own backoff
 * (hours apart, after a long outage). Returns how many.
 */
export async function bringRetriesForward(executor: Executor, input: { url: string; now: Date; attemptedBefore: Date; leaseMs: number }): Promise<number> {
  const rows = await executor.driver.query(BRING_RETRIES_FORWARD, [input.url, input.now.toISOString(), input.attemptedBefore.toISOString(), input.leaseMs]);
  return rows.length;
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
        // lte first: the bound an index scan starts from (the `or` alone is a filter, and a
        // page far back would read every row before it).
        cursor === null ? undefined : lte(eventDeliveries.eventSeq, cursor.eventSeq),
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
