import { eq, lt } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { appTransactions } from '../db/schema.js';

// Users' verified AppTransactions (POST /users/:userId/app-transaction). Rare writes: the
// query builder. The entitlement read fetches them with the purchases (entitlements.repository.ts).

export type AppTransactionRow = typeof appTransactions.$inferSelect;

/**
 * Stores the user's AppTransaction unless the stored one was signed at the same time or
 * later (a newer signedDate replaces an older one). True when it was written.
 */
export async function storeAppTransaction(executor: Executor, row: typeof appTransactions.$inferInsert): Promise<boolean> {
  const { userId: _userId, ...rest } = row;
  const written = await executor
    .insert(appTransactions)
    .values(row)
    .onConflictDoUpdate({ target: appTransactions.userId, set: rest, setWhere: lt(appTransactions.signedDate, row.signedDate) })
    .returning({ userId: appTransactions.userId });
  return written.length > 0;
}

export async function appTransactionOf(executor: Executor, userId: string): Promise<AppTransactionRow | undefined> {
  const [row] = await executor.select().from(appTransactions).where(eq(appTransactions.userId, userId));
  return row;
}
