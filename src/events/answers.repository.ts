import { and, asc, eq, gt, lte, notExists } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/client.js';
import { columnName, insertRows, onConflictReplace, selectList, tableName } from '../db/raw.js';
import { purchaseLinks, serviceState, userAnswers } from '../db/schema.js';

// user_answers: each user's last recorded answer. The read and the upsert run inside the
// recording transaction for the users of every ingest batch: hand-built statements to the
// transaction's driver, as the rest of the group commit (docs/architecture.md, "Database
// access"). The answer check's and the baseline's look-ups run outside it, by the builder.

export interface StoredAnswer {
  userId: string;
  entitlements: string;
  fingerprint: string;
  nextCheckAt: Date | null;
}

const STORED_ANSWERS = `select ${selectList(userAnswers, ['userId', 'entitlements', 'fingerprint', 'nextCheckAt'])} from ${tableName(userAnswers)} where ${columnName(userAnswers, 'userId')} = any($1::text[])`;
const UPSERT_ANSWERS = onConflictReplace(userAnswers, 'userId');

/** The recorded answers of `userIds` (users never recorded have none). */
export async function storedAnswers(tx: Transaction, userIds: readonly string[]): Promise<StoredAnswer[]> {
  return tx.driver.query<StoredAnswer>(STORED_ANSWERS, [[...userIds]]);
}

/** Writes (or replaces) users' recorded answers. */
export async function storeAnswers(tx: Transaction, answers: ReadonlyArray<typeof userAnswers.$inferInsert>): Promise<void> {
  await insertRows(tx, userAnswers, answers, UPSERT_ANSWERS);
}

/** Up to `limit` users whose answer time may have changed by `now`, the most overdue first. */
export async function usersDueForCheck(executor: Executor, now: Date, limit: number): Promise<string[]> {
  const rows = await executor
    .select({ userId: userAnswers.userId })
    .from(userAnswers)
    .where(lte(userAnswers.nextCheckAt, now))
    .orderBy(asc(userAnswers.nextCheckAt), asc(userAnswers.userId))
    .limit(limit);
  return rows.map((row) => row.userId);
}

/** Up to `limit` users after `after` (in id order) who own a purchase but have no recorded answer. */
export async function linkedUsersWithoutAnswer(executor: Executor, after: string, limit: number): Promise<string[]> {
  const recorded = executor.select({ userId: userAnswers.userId }).from(userAnswers).where(eq(userAnswers.userId, purchaseLinks.userId));
  const rows = await executor
    .selectDistinct({ userId: purchaseLinks.userId })
    .from(purchaseLinks)
    .where(and(gt(purchaseLinks.userId, after), notExists(recorded)))
    .orderBy(asc(purchaseLinks.userId))
    .limit(limit);
  return rows.map((row) => row.userId);
}

/** Whether the service_state flag `key` is set. */
export async function isFlagSet(executor: Executor, key: string): Promise<boolean> {
  const [row] = await executor.select({ key: serviceState.key }).from(serviceState).where(eq(serviceState.key, key));
  return row !== undefined;
}

/** Sets the service_state flag `key` (once: a flag already set keeps its value). */
export async function setFlag(executor: Executor, key: string, value: Record<string, unknown>): Promise<void> {
  await executor.insert(serviceState).values({ key, value }).onConflictDoNothing({ target: serviceState.key });
}
