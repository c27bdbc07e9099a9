import { eq, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { serviceState } from '../db/schema.js';

/** service_state key of the periodic job's bookmark: the end of its last successful window. */
export const RECOVERY_BOOKMARK_KEY = 'recovery.last_successful_end';

interface Bookmark {
  endDate: string;
}

/** The end of the last window the periodic job recovered, or null before its first success. */
export async function readRecoveryBookmark(executor: Executor): Promise<Date | null> {
  const [row] = await executor.select({ value: serviceState.value }).from(serviceState).where(eq(serviceState.key, RECOVERY_BOOKMARK_KEY));
  const endDate = (row?.value as Partial<Bookmark> | undefined)?.endDate;
  if (typeof endDate !== 'string' || Number.isNaN(Date.parse(endDate))) return null;
  return new Date(endDate);
}

export async function writeRecoveryBookmark(executor: Executor, endDate: Date): Promise<void> {
  const value: Bookmark = { endDate: endDate.toISOString() };
  await executor
    .insert(serviceState)
    .values({ key: RECOVERY_BOOKMARK_KEY, value })
    .onConflictDoUpdate({ target: serviceState.key, set: { value, updatedAt: sql`now()` } });
}
