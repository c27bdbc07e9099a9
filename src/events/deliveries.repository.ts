import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, min, notExists, notInArray, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Executor } from '../db/client.js';
import { eventDeliveries, events, serviceState } from '../db/schema.js';

// event_deliveries (migration 0004): one row per (event, URL). Rows are created by the
// worker from `events` in seq order (seq order is commit order, see events.repository.ts),
// claimed with FOR UPDATE SKIP LOCKED so replicas never take the same row at once, and
// leased by pushing next_attempt_at past the attempt's end: a replica that dies mid-attempt
// leaves a row that becomes due again when the lease runs out. All of it is the query
// builder's (docs/architecture.md, "Database access"): none of it is on the ingest path.

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
 * position past them, in one transaction. A replica that finds the position locked by
 * another skips (it is being done). Returns how many rows were created.
 */
export async function dispatchEvents(executor: Executor, url: string, now: Date, batch: number): Promise<number> {
  return executor.transaction(async (tx) => {
    const key = dispatchKey(url);
    await tx
      .insert(serviceState)
      .values({ key, value: { seq: 0 } })
      .onConflictDoNothing({ target: serviceState.key });
    const [position] = await tx.select({ value: serviceState.value }).from(serviceState).where(eq(serviceState.key, key)).for('update', { skipLocked: true });
    if (position === undefined) return 0;
    const next = await tx
      .select({ seq: events.seq, userId: events.userId })
      .from(events)
      .where(gt(events.seq, positionSeq(position.value)))
      .orderBy(asc(events.seq))
      .limit(batch);
    if (next.length === 0) return 0;
    const rows = await tx
      .insert(eventDeliveries)
      .values(next.map((event) => ({ eventSeq: event.seq, url, userId: event.userId, status: 'pending', nextAttemptAt: now, createdAt: now })))
      .onConflictDoNothing({ target: [eventDeliveries.eventSeq, eventDeliveries.url] })
      .returning({ seq: eventDeliveries.eventSeq });
    await tx
      .update(serviceState)
      .set({ value: { seq: next[next.length - 1]!.seq }, updatedAt: now })
      .where(eq(serviceState.key, key));
    return rows.length;
  });
}

/**
 * Claims up to `limit` due deliveries of one URL, oldest event first, none of which waits
 * for an earlier pending event of the same user to that URL. Each claimed row is leased
 * until `leaseUntil` and counts one more attempt.
 */
export async function claimDeliveries(executor: Executor, input: { url: string; now: Date; leaseUntil: Date; limit: number }): Promise<ClaimedDelivery[]> {
  if (input.limit <= 0) return [];
  const candidate = alias(eventDeliveries, 'c');
  const earlier = alias(eventDeliveries, 'p');
  const earlierPending = executor
    .select({ one: sql`1` })
    .from(earlier)
    .where(and(eq(earlier.url, candidate.url), eq(earlier.userId, candidate.userId), eq(earlier.status, 'pending'), lt(earlier.eventSeq, candidate.eventSeq)));
  const due = executor
    .select({ eventSeq: candidate.eventSeq })
    .from(candidate)
    .where(
      and(
        eq(candidate.url, input.url),
        eq(candidate.status, 'pending'),
        lte(candidate.nextAttemptAt, input.now),
        or(isNull(candidate.userId), notExists(earlierPending)),
      ),
    )
    .orderBy(asc(candidate.eventSeq))
    .limit(input.limit)
    .for('update', { skipLocked: true });
  const rows = await executor
    .update(eventDeliveries)
    .set({
      attempts: sql`${eventDeliveries.attempts} + 1`,
      lastAttemptAt: input.now,
      nextAttemptAt: input.leaseUntil,
      firstAttemptAt: sql`coalesce(${eventDeliveries.firstAttemptAt}, ${input.now.toISOString()}::timestamptz)`,
    })
    .from(events)
    .where(and(eq(eventDeliveries.url, input.url), inArray(eventDeliveries.eventSeq, due), eq(events.seq, eventDeliveries.eventSeq)))
    .returning({
      eventSeq: eventDeliveries.eventSeq,
      attempts: eventDeliveries.attempts,
      firstAttemptAt: eventDeliveries.firstAttemptAt,
      eventId: events.id,
      body: events.body,
      recordedAt: events.recordedAt,
    });
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
  const status: DeliveryStatus = result.outcome === 'retry' ? 'pending' : result.outcome;
  const rows = await executor
    .update(eventDeliveries)
    .set({
      status,
      lastStatus: result.status,
      lastError: result.outcome === 'delivered' ? null : result.error.slice(0, 500),
      nextAttemptAt: result.outcome === 'retry' ? result.nextAttemptAt : result.at,
      ...(result.outcome === 'delivered' ? { deliveredAt: result.at } : {}),
    })
    .where(
      and(
        eq(eventDeliveries.eventSeq, claim.eventSeq),
        eq(eventDeliveries.url, claim.url),
        eq(eventDeliveries.attempts, claim.attempts),
        eq(eventDeliveries.lastAttemptAt, claim.claimedAt),
        eq(eventDeliveries.status, 'pending'),
      ),
    )
    .returning({ eventSeq: eventDeliveries.eventSeq });
  return rows.length > 0;
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
