import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { notifications } from '../db/schema.js';

export type NotificationRecord = typeof notifications.$inferInsert;

/**
 * Records a notification once. Returns false when its id was already recorded: a
 * redelivery, which the caller answers as a duplicate without applying it again.
 * Inside the caller's transaction, so a failure later on un-records it too.
 */
export async function recordNotification(tx: Executor, record: NotificationRecord): Promise<boolean> {
  const inserted = await tx.insert(notifications).values(record).onConflictDoNothing().returning({ id: notifications.id });
  return inserted.length > 0;
}

export async function isNotificationRecorded(executor: Executor, id: string): Promise<boolean> {
  const rows = await executor.select({ id: notifications.id }).from(notifications).where(eq(notifications.id, id)).limit(1);
  return rows.length > 0;
}
