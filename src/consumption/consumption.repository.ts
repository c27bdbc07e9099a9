import { and, asc, desc, eq, inArray, isNull, lte, or, type SQL, sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Executor } from '../db/client.js';
import { consumptionFacts, consumptionRequests } from '../db/schema.js';
import type { ConsumptionFacts, ConsumptionStatus, DeliveryStatus, NotSentReason, RefundPreference } from './consumption.model.js';

// Apple's consumption requests and the app backend's facts. The query builder throughout:
// a refund request is rare, none of this is on a hot path. Requests are claimed with
// FOR UPDATE SKIP LOCKED and a lease, so replicas never send the same answer at once.

export interface NewConsumptionRequest {
  notificationId: string;
  transactionId: string;
  environment: string | null;
  requestedAt: Date;
  deadline: Date;
}

/** Records Apple's requests (once per notification), inside the notification's own transaction. */
export async function recordConsumptionRequests(executor: Executor, requests: readonly NewConsumptionRequest[]): Promise<void> {
  if (requests.length === 0) return;
  await executor
    .insert(consumptionRequests)
    .values(requests.map((request) => ({ ...request, nextAttemptAt: request.requestedAt })))
    .onConflictDoNothing({ target: consumptionRequests.notificationId });
}

export interface StoredFacts extends ConsumptionFacts {
  transactionId: string;
  updatedAt: Date;
}

const factsColumns = {
  transactionId: consumptionFacts.transactionId,
  customerConsented: consumptionFacts.customerConsented,
  sampleContentProvided: consumptionFacts.sampleContentProvided,
  deliveryStatus: consumptionFacts.deliveryStatus,
  consumptionPercentage: consumptionFacts.consumptionPercentage,
  refundPreference: consumptionFacts.refundPreference,
  updatedAt: consumptionFacts.updatedAt,
};

function toFacts(row: {
  transactionId: string;
  customerConsented: boolean;
  sampleContentProvided: boolean;
  deliveryStatus: string;
  consumptionPercentage: number | null;
  refundPreference: string | null;
  updatedAt: Date;
}): StoredFacts {
  return { ...row, deliveryStatus: row.deliveryStatus as DeliveryStatus, refundPreference: row.refundPreference as RefundPreference | null };
}

/**
 * Stores the facts of a transaction and makes its waiting requests due at once; a request
 * not sent for want of consent is open again while its deadline has not passed.
 */
export async function storeFacts(executor: Executor, transactionId: string, facts: ConsumptionFacts, by: string | null, now: Date): Promise<StoredFacts> {
  return executor.transaction(async (tx) => {
    const values = { transactionId, ...facts, updatedBy: by, updatedAt: now };
    const [row] = await tx
      .insert(consumptionFacts)
      .values(values)
      .onConflictDoUpdate({ target: consumptionFacts.transactionId, set: values })
      .returning(factsColumns);
    await tx
      .update(consumptionRequests)
      .set({ status: 'pending', reason: null, nextAttemptAt: now, updatedAt: now })
      .where(
        and(
          eq(consumptionRequests.transactionId, transactionId),
          sql`${consumptionRequests.deadline} > ${now.toISOString()}::timestamptz`,
          or(
            eq(consumptionRequests.status, 'pending'),
            and(eq(consumptionRequests.status, 'not_sent'), eq(consumptionRequests.reason, 'customer_did_not_consent')),
          ),
        ),
      );
    return toFacts(row!);
  });
}

export async function factsOf(executor: Executor, transactionId: string): Promise<StoredFacts | null> {
  const [row] = await executor.select(factsColumns).from(consumptionFacts).where(eq(consumptionFacts.transactionId, transactionId));
  return row ? toFacts(row) : null;
}

export interface ClaimedRequest {
  notificationId: string;
  transactionId: string;
  environment: string | null;
  deadline: Date;
  attempts: number;
}

/** Claims up to `limit` due pending requests, leased until `leaseUntil`. */
export async function claimDueRequests(executor: Executor, input: { now: Date; leaseUntil: Date; limit: number }): Promise<ClaimedRequest[]> {
  const now = input.now.toISOString();
  const due = executor
    .select({ id: consumptionRequests.notificationId })
    .from(consumptionRequests)
    .where(
      and(
        eq(consumptionRequests.status, 'pending'),
        lte(consumptionRequests.nextAttemptAt, input.now),
        or(isNull(consumptionRequests.leasedUntil), sql`${consumptionRequests.leasedUntil} <= ${now}::timestamptz`),
      ),
    )
    .orderBy(asc(consumptionRequests.nextAttemptAt))
    .limit(input.limit)
    .for('update', { skipLocked: true });
  return executor.update(consumptionRequests).set({ leasedUntil: input.leaseUntil }).where(inArray(consumptionRequests.notificationId, due)).returning({
    notificationId: consumptionRequests.notificationId,
    transactionId: consumptionRequests.transactionId,
    environment: consumptionRequests.environment,
    deadline: consumptionRequests.deadline,
    attempts: consumptionRequests.attempts,
  });
}

export type RequestOutcome =
  | { kind: 'wait'; until: Date }
  | { kind: 'sent'; body: unknown; attempts: number }
  | { kind: 'retry'; at: Date; attempts: number; error: string }
  | { kind: 'not_sent'; reason: NotSentReason; attempts?: number; error?: string }
  | { kind: 'failed'; attempts: number; error: string };

/** Records what became of a claimed request and releases it (only while it is still pending). */
export async function finishRequest(executor: Executor, notificationId: string, outcome: RequestOutcome, now: Date): Promise<void> {
  const base = { leasedUntil: null, updatedAt: now };
  let set: PgUpdateSetSource<typeof consumptionRequests>;
  switch (outcome.kind) {
    case 'wait':
      // Facts stored during the attempt made it due at once: keep that rather than the deadline.
      set = { ...base, nextAttemptAt: sql`least(${consumptionRequests.nextAttemptAt}, ${outcome.until.toISOString()}::timestamptz)` };
      break;
    case 'sent':
      set = { ...base, status: 'sent', reason: null, sentAt: now, sent: outcome.body, attempts: outcome.attempts };
      break;
    case 'retry':
      set = { ...base, nextAttemptAt: outcome.at, attempts: outcome.attempts, lastError: outcome.error };
      break;
    case 'not_sent':
      set = { ...base, status: 'not_sent', reason: outcome.reason };
      if (outcome.attempts !== undefined) set.attempts = outcome.attempts;
      if (outcome.error !== undefined) set.lastError = outcome.error;
      break;
    case 'failed':
      set = { ...base, status: 'failed', reason: 'apple_refused', attempts: outcome.attempts, lastError: outcome.error };
      break;
  }
  await executor
    .update(consumptionRequests)
    .set(set)
    .where(and(eq(consumptionRequests.notificationId, notificationId), eq(consumptionRequests.status, 'pending')));
}

export interface ConsumptionRequestRow {
  notificationId: string;
  transactionId: string;
  environment: string | null;
  requestedAt: Date;
  deadline: Date;
  status: ConsumptionStatus;
  reason: NotSentReason | null;
  attempts: number;
  lastError: string | null;
  sentAt: Date | null;
  facts: StoredFacts | null;
}

const requestColumns = {
  notificationId: consumptionRequests.notificationId,
  transactionId: consumptionRequests.transactionId,
  environment: consumptionRequests.environment,
  requestedAt: consumptionRequests.requestedAt,
  deadline: consumptionRequests.deadline,
  status: consumptionRequests.status,
  reason: consumptionRequests.reason,
  attempts: consumptionRequests.attempts,
  lastError: consumptionRequests.lastError,
  sentAt: consumptionRequests.sentAt,
};

/** Requests newest first, each with the facts stored for its transaction (or null). */
export async function listRequests(
  executor: Executor,
  filter: { status?: ConsumptionStatus; transactionId?: string; limit: number },
): Promise<ConsumptionRequestRow[]> {
  const conditions: SQL[] = [];
  if (filter.status !== undefined) conditions.push(eq(consumptionRequests.status, filter.status));
  if (filter.transactionId !== undefined) conditions.push(eq(consumptionRequests.transactionId, filter.transactionId));
  const rows = await executor
    .select({
      request: requestColumns,
      facts: factsColumns,
    })
    .from(consumptionRequests)
    .leftJoin(consumptionFacts, eq(consumptionFacts.transactionId, consumptionRequests.transactionId))
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(consumptionRequests.requestedAt), desc(consumptionRequests.notificationId))
    .limit(filter.limit);
  return rows.map(({ request, facts }) => ({
    ...request,
    status: request.status as ConsumptionStatus,
    reason: request.reason as NotSentReason | null,
    facts: facts ? toFacts(facts) : null,
  }));
}
