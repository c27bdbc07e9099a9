import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import type { SignedDataVerifier } from '../apple/types.js';
import { type Clock, systemClock } from '../clock.js';
import type { Database, Executor, Transaction } from '../db/client.js';
import { analyticsDaily, notifications, purchaseAnalytics, subscriptions, transactions } from '../db/schema.js';
import { notifyAnswerInputsChanged } from '../entitlements/answer-inputs-channel.js';
import { CodedError } from '../errors.js';
import { applyPurchaseUpdate, lockPurchases } from '../purchases/purchases.repository.js';
import type { IngestLogger } from './ingest.usecase.js';
import { mapNotification } from './notification-mapping.js';

// Rebuilds transactions and subscription state from the raw V2 notifications the ingest
// kept, through the same mapping and the same merge rules, e.g. after a fix to either.
//
// Verification: stored payloads were verified when they arrived, but are checked again
// (the database is not a trusted source of Apple's signatures). The verifier should run
// with onlineChecks: false, so certificates are judged at each payload's signedDate:
// Apple's leaf certificates live about two years, and a notification signed while its
// leaf was valid stays authentic after the leaf expires. OCSP is skipped for the same
// reason (a revocation long after signing says nothing about an old payload, and a
// replay must not depend on the network).

export interface ReplayDeps {
  db: Database;
  /** Configured with onlineChecks: false (see above). */
  verifier: SignedDataVerifier;
  logger?: IngestLogger;
  /** The time of the rewritten rows (updatedAt); the system clock by default. */
  clock?: Clock;
}

export interface ReplayOptions {
  /**
   * Delete every transaction and subscription row first, all in one database transaction
   * with the replay, so readers never see a half-rebuilt state and a failure changes
   * nothing. Without it, the replay upserts over the live rows (idempotent: the merge
   * rules keep whichever record is newer), one notification per database transaction.
   */
  reset?: boolean;
  batchSize?: number;
}

export interface ReplayResult {
  /** V2 notifications read. */
  read: number;
  /** Verified and applied through the handling table ('applies' types). */
  applied: number;
  /** Verified, recorded-only types (their signed snapshots still upserted). */
  recorded: number;
  /** Failed verification now; left out of the rebuild. */
  rejected: number;
  /** Stored notifications of other versions (V1), which this replay does not rebuild. */
  skipped: number;
  transactionsWritten: number;
  subscriptionsWritten: number;
  /** Rows deleted by `reset`. */
  deleted: { transactions: number; subscriptions: number } | null;
}

/** A reset that would drop purchases it cannot rebuild is rolled back instead. */
export class ReplayAbortedError extends CodedError {
  constructor(
    message: string,
    readonly result: ReplayResult,
  ) {
    super('REPLAY_ABORTED', message);
  }
}

const DEFAULT_BATCH_SIZE = 500;

export async function replayNotifications(deps: ReplayDeps, options: ReplayOptions = {}): Promise<ReplayResult> {
  const result: ReplayResult = {
    read: 0,
    applied: 0,
    recorded: 0,
    rejected: 0,
    skipped: 0,
    transactionsWritten: 0,
    subscriptionsWritten: 0,
    deleted: null,
  };
  // The replay writes through the bare database (no events, so no per-user notes): each of
  // its transactions tells the replicas' entitlement caches that any user may have changed.
  if (!options.reset) {
    const inTransaction: InTransaction = (fn) =>
      deps.db.transaction(async (tx) => {
        await fn(tx);
        await notifyAnswerInputsChanged(tx, 'all');
      });
    await replayAll(deps, deps.db, result, options.batchSize, inTransaction, false);
    return result;
  }
  await deps.db.transaction(async (tx) => {
    // One transaction rebuilds every purchase: the purchase tables are locked as a whole.
    await lockPurchases(tx, 'all');
    await notifyAnswerInputsChanged(tx, 'all');
    const deletedTransactions = await tx.delete(transactions).returning({ id: transactions.transactionId });
    const deletedSubscriptions = await tx.delete(subscriptions).returning({ id: subscriptions.originalTransactionId });
    result.deleted = { transactions: deletedTransactions.length, subscriptions: deletedSubscriptions.length };
    // The analytics tables follow the purchases: rebuilt by the replay's own writes.
    await tx.delete(purchaseAnalytics);
    await tx.delete(analyticsDaily);
    await replayAll(deps, tx, result, options.batchSize, (fn) => fn(tx), true);
    if (result.rejected > 0) {
      throw new ReplayAbortedError(
        `${result.rejected} stored notification(s) failed verification; the reset would lose what they carry, so nothing was changed`,
        result,
      );
    }
  });
  return result;
}

interface StoredRow {
  id: string;
  payload: string;
  signedDate: Date | null;
  outcome: string;
}

type InTransaction = (fn: (tx: Transaction) => Promise<void>) => Promise<void>;

async function replayAll(
  deps: ReplayDeps,
  reader: Executor,
  result: ReplayResult,
  batchSize = DEFAULT_BATCH_SIZE,
  inTransaction: InTransaction,
  locksHeld: boolean,
): Promise<void> {
  const [others] = await reader.select({ n: sql<number>`count(*)::int` }).from(notifications).where(sql`${notifications.version} <> 'v2'`);
  result.skipped = others?.n ?? 0;

  // Keyset paging in signedDate order: the merge rules make the order irrelevant to the
  // outcome, but oldest-first keeps each intermediate state one Apple actually had.
  let after: { signedDate: Date; id: string } | null = null;
  for (;;) {
    const keyset: SQL | undefined = after === null ? undefined : sql`(${notifications.signedDate}, ${notifications.id}) > (${after.signedDate}, ${after.id})`;
    const rows: StoredRow[] = await reader
      .select({ id: notifications.id, payload: notifications.payload, signedDate: notifications.signedDate, outcome: notifications.outcome })
      .from(notifications)
      .where(and(eq(notifications.version, 'v2'), sql`${notifications.signedDate} is not null`, keyset))
      .orderBy(asc(notifications.signedDate), asc(notifications.id))
      .limit(batchSize);
    for (const row of rows) await replayOne(deps, row, result, inTransaction, locksHeld);
    const last: StoredRow | undefined = rows.at(-1);
    if (last === undefined || rows.length < batchSize) break;
    after = { signedDate: last.signedDate!, id: last.id };
  }
}

async function replayOne(deps: ReplayDeps, row: StoredRow, result: ReplayResult, inTransaction: InTransaction, locksHeld: boolean): Promise<void> {
  result.read += 1;
  let mapped;
  try {
    mapped = mapNotification(await deps.verifier.verifyNotification(row.payload));
  } catch (error) {
    result.rejected += 1;
    deps.logger?.warn(
      { notificationUUID: row.id, code: error instanceof CodedError ? error.code : null },
      'stored notification no longer verifies; not replayed',
    );
    return;
  }
  if (mapped.outcome === 'applied') result.applied += 1;
  else result.recorded += 1;
  await inTransaction(async (tx) => {
    const applied = await applyPurchaseUpdate(tx, mapped.update, { now: (deps.clock ?? systemClock)(), locksHeld });
    result.transactionsWritten += applied.transactionsWritten;
    if (applied.renewalWritten || applied.statusWritten) result.subscriptionsWritten += 1;
    // A handling table that has learned a type turns a recorded notification into an applied one.
    if (row.outcome !== mapped.outcome) {
      await tx.update(notifications).set({ outcome: mapped.outcome }).where(eq(notifications.id, row.id));
    }
  });
}
