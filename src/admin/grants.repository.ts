import { and, desc, eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { grants } from '../db/schema.js';

// Operators' grants (POST/DELETE /admin/users/:userId/grants). Rare writes: the query
// builder. The entitlement read fetches grants with the purchases, in its own statement
// (entitlements.repository.ts).

export type GrantRow = typeof grants.$inferSelect;

export async function insertGrant(executor: Executor, row: typeof grants.$inferInsert): Promise<void> {
  await executor.insert(grants).values(row);
}

/** The user's grant `grantId`, locked until the transaction ends; undefined when there is none. */
export async function lockGrant(executor: Executor, userId: string, grantId: string): Promise<GrantRow | undefined> {
  const [row] = await executor
    .select()
    .from(grants)
    .where(and(eq(grants.id, grantId), eq(grants.userId, userId)))
    .for('update');
  return row;
}

export async function endGrant(executor: Executor, grantId: string, end: { at: Date; by: string; reason: string | null }): Promise<void> {
  await executor.update(grants).set({ endedAt: end.at, endedBy: end.by, endReason: end.reason, updatedAt: end.at }).where(eq(grants.id, grantId));
}

/** Every grant of the user, newest first (support views). */
export async function grantsOfUser(executor: Executor, userId: string): Promise<GrantRow[]> {
  return executor.select().from(grants).where(eq(grants.userId, userId)).orderBy(desc(grants.startsAt), desc(grants.id));
}
