import { and, asc, eq, gt, lte, notExists } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/client.js';
import { columnName, insertRows, onConflictReplace, selectList, tableName } from '../db/raw.js';
import { purchaseLinks, serviceState, userAnswers } from '../db/schema.js';

// user_answers: each user's last recorded answer. The read and the upsert run inside the
// recording transaction for the users of every ingest batch: hand-built statements to the
// transaction's driver, as the rest of the group commit (docs/architecture.md, "Database
// access"). The answer check's and the baseline's look-ups run outside it, by the builder.

// Two transactions changing one user's answer at once (two purchases of one user, a grant
// beside a notification, the answer check beside either) would each compute the answer
// without the other's change, and the one that commits last would store, and announce, an
// answer without the other's. So a transaction that records answers on PostgreSQL (PGlite's
// transactions never overlap) first locks its users, each with an advisory lock held to its
// commit, in user id order, and reads their records and recorded answers in statements
// after that: a statement's snapshot is taken before the locks it waits for, so what it read
// may already be outdated when it has them. A transaction of more users than PostgreSQL's lock
// table should hold at once (over 500: never an ingest batch, at most 64 notifications) takes
// instead one lock over every answer, exclusive, which the others take shared before their
// users' locks (so none waits for it while holding a user's lock another waits for).

/** pg advisory lock key over every user's answer ("ase-answ"), per app (names.lockKey). */
export const ANSWERS_LOCK_KEY = 0x6173652d616e7377n;

/**
 * SQL that takes the lock over every answer shared (`key`: a bigint parameter), then the lock
 * of each user in `users` (a text[] expression), in id order; one row, `locks`.
 */
export function answerLocksSql(users: string, key: string): string {
  return `select count(case when k.u is null then pg_advisory_xact_lock_shared(${key}) else pg_advisory_xact_lock(hashtextextended('user:' || k.u, 0)) end) as locks
    from (select null::text as u union select unnest(${users}) order by u nulls first) as k`;
}

const LOCK_ANSWERS = answerLocksSql('$1::text[]', '$2::bigint');

/** The lock key over every answer of the transaction's app, as answerLocksSql's `key` parameter. */
export const answersLockKey = (tx: Transaction): string => tx.driver.names.lockKey(ANSWERS_LOCK_KEY).toString();

/** Locks these users' answers until the transaction ends (see above); then read them. */
export async function lockAnswersOf(tx: Transaction, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await tx.driver.query(LOCK_ANSWERS, [[...userIds], answersLockKey(tx)]);
}

/** Locks every user's answer until the transaction ends: for a transaction of more users than per-user locks suit. */
export async function lockEveryAnswer(tx: Transaction): Promise<void> {
  await tx.driver.query('select pg_advisory_xact_lock($1::bigint)', [answersLockKey(tx)]);
}

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
