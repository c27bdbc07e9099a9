import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { appAccountTokenUpdates } from '../db/schema.js';

// Set App Account Token requests (app_account_token_updates): recorded in the link's
// transaction, claimed with a lease by whoever sends them (the after-commit attempt or
// the job), then marked done, pending again with a later try, or failed.

export interface TokenUpdateRequest {
  originalTransactionId: string;
  environment: 'Production' | 'Sandbox';
  userId: string;
  appAccountToken: string;
}

export interface ClaimedTokenUpdate extends TokenUpdateRequest {
  attempts: number;
}

export type TokenUpdateStatus = 'pending' | 'done' | 'failed';

/**
 * Records requests inside the link's transaction. A purchase already set (or being set)
 * to the same token is left alone; a new token (the purchase moved to another user), or
 * a new link after a request failed for good, starts over as pending.
 */
export async function recordTokenUpdates(tx: Executor, requests: readonly TokenUpdateRequest[], at: Date): Promise<void> {
  if (requests.length === 0) return;
  const excluded = (column: string) => sql.raw(`excluded.${column}`);
  await tx
    .insert(appAccountTokenUpdates)
    .values(requests.map((request) => ({ ...request, status: 'pending', attempts: 0, nextAttemptAt: at, createdAt: at, updatedAt: at })))
    .onConflictDoUpdate({
      target: appAccountTokenUpdates.originalTransactionId,
      set: {
        environment: excluded('environment'),
        userId: excluded('user_id'),
        appAccountToken: excluded('app_account_token'),
        status: 'pending',
        attempts: 0,
        lastError: null,
        nextAttemptAt: excluded('next_attempt_at'),
        updatedAt: excluded('updated_at'),
      },
      setWhere: sql`${appAccountTokenUpdates.appAccountToken} <> excluded.app_account_token or ${appAccountTokenUpdates.status} = 'failed'`,
    });
}

/**
 * Takes the due pending requests (all due ones, or those of `originalTransactionIds`) for
 * one attempt: their next try moves `leaseMs` ahead, so another sender leaves them alone
 * until this one has written its result (or crashed and the lease ran out).
 */
export async function claimTokenUpdates(
  db: Executor,
  options: { now: Date; leaseMs: number; limit: number; originalTransactionIds?: readonly string[] },
): Promise<ClaimedTokenUpdate[]> {
  const { now } = options;
  const t = appAccountTokenUpdates;
  const due = and(
    eq(t.status, 'pending'),
    lte(t.nextAttemptAt, now),
    options.originalTransactionIds ? inArray(t.originalTransactionId, [...options.originalTransactionIds]) : undefined,
  );
  const candidates = db
    .select({ id: t.originalTransactionId })
    .from(t)
    .where(due)
    .orderBy(t.nextAttemptAt)
    .limit(options.limit)
    .for('update', { skipLocked: true });
  const rows = await db
    .update(t)
    .set({ nextAttemptAt: new Date(now.getTime() + options.leaseMs), updatedAt: now })
    .where(and(inArray(t.originalTransactionId, candidates), due))
    .returning({
      originalTransactionId: t.originalTransactionId,
      environment: t.environment,
      userId: t.userId,
      appAccountToken: t.appAccountToken,
      attempts: t.attempts,
    });
  return rows.map((row) => ({ ...row, environment: row.environment === 'Sandbox' ? 'Sandbox' : 'Production' }));
}

/** The result of one attempt on a claimed request (the token it was claimed with, so a newer request is not overwritten). */
export async function finishTokenUpdate(
  db: Executor,
  claimed: ClaimedTokenUpdate,
  result: { status: TokenUpdateStatus; error: string | null; nextAttemptAt: Date; at: Date },
): Promise<void> {
  const t = appAccountTokenUpdates;
  await db
    .update(t)
    .set({ status: result.status, attempts: claimed.attempts + 1, lastError: result.error, nextAttemptAt: result.nextAttemptAt, updatedAt: result.at })
    .where(and(eq(t.originalTransactionId, claimed.originalTransactionId), eq(t.appAccountToken, claimed.appAccountToken), eq(t.status, 'pending')));
}

export async function tokenUpdatesOf(db: Executor, originalTransactionIds: readonly string[]) {
  if (originalTransactionIds.length === 0) return [];
  return db
    .select()
    .from(appAccountTokenUpdates)
    .where(inArray(appAccountTokenUpdates.originalTransactionId, [...originalTransactionIds]));
}
