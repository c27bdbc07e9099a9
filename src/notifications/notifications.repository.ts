import { eq } from 'drizzle-orm';
import { CONSUMPTION_DEADLINE_MS } from '../consumption/consumption.model.js';
import { type NewConsumptionRequest, recordConsumptionRequests } from '../consumption/consumption.repository.js';
import type { Executor, Transaction } from '../db/client.js';
import { insertRows } from '../db/raw.js';
import { notifications } from '../db/schema.js';
import { noteNotifications } from '../events/transaction-changes.js';
import type { NotificationRecord } from './notification-mapping.js';

export type { NotificationRecord } from './notification-mapping.js';

/**
 * Records a notification once. Returns false when its id was already recorded: a
 * redelivery, which the caller answers as a duplicate without applying it again.
 * Inside the caller's transaction, so a failure later on un-records it too.
 */
export async function recordNotification(tx: Transaction, record: NotificationRecord): Promise<boolean> {
  return (await recordNotifications(tx, [record])).size > 0;
}

/**
 * recordNotification for many: the ids that were recorded now (not before). The ~14 KB
 * payloads travel as plain parameters of one multi-row insert (sent as JSON, PostgreSQL
 * would lex every character of them: a fifth of its CPU on the ingest path).
 */
export async function recordNotifications(tx: Transaction, records: readonly NotificationRecord[]): Promise<Set<string>> {
  const inserted = await insertRows<{ id: string }>(tx, notifications, records, 'on conflict do nothing returning id');
  const fresh = new Set(inserted.map((row) => row.id));
  // Each becomes `notification.received` when the transaction commits (src/events/).
  noteNotifications(
    tx,
    records
      .filter((record) => fresh.has(record.id))
      .map((record) => ({
        id: record.id,
        notificationType: record.notificationType,
        subtype: record.subtype ?? null,
        environment: record.environment ?? null,
        signedDate: record.signedDate ?? null,
        transactionId: record.transactionId ?? null,
        originalTransactionId: record.originalTransactionId ?? null,
      })),
  );
  await recordConsumptionRequests(tx, consumptionRequestsIn(records, fresh));
  return fresh;
}

/**
 * Apple's refund-time questions among the notifications recorded now: each is answered
 * later by the consumption sender (src/consumption/), before its 12-hour deadline.
 */
function consumptionRequestsIn(records: readonly NotificationRecord[], fresh: ReadonlySet<string>): NewConsumptionRequest[] {
  const requests: NewConsumptionRequest[] = [];
  for (const record of records) {
    if (record.notificationType !== 'CONSUMPTION_REQUEST' || !fresh.has(record.id) || !record.transactionId) continue;
    const requestedAt = record.signedDate ?? record.receivedAt ?? new Date();
    requests.push({
      notificationId: record.id,
      transactionId: record.transactionId,
      environment: record.environment ?? null,
      requestedAt,
      deadline: new Date(requestedAt.getTime() + CONSUMPTION_DEADLINE_MS),
    });
  }
  return requests;
}

export async function isNotificationRecorded(executor: Executor, id: string): Promise<boolean> {
  const rows = await executor.select({ id: notifications.id }).from(notifications).where(eq(notifications.id, id)).limit(1);
  return rows.length > 0;
}
