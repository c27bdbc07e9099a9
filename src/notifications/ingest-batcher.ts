import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { insertJsonRows } from '../db/json-rows.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { applyPurchaseUpdate, applyPurchaseUpdates, type ApplyResult, type PurchaseUpdate } from '../entitlements/purchases.repository.js';
import { notifications } from '../db/schema.js';
import { recordNotification, type NotificationRecord } from './notifications.repository.js';

// Group commit for verified notifications. Notifications that arrive while earlier ones
// are being written wait a moment and are then written together: one database
// transaction, a fixed number of multi-row statements, one commit. Each caller still
// hears back only after its notification is durably committed (or that it was already
// recorded), and a failed batch commits nothing. A batch that fails for a reason other
// than the database being away is written again one notification at a time, so one
// notification the database refuses cannot hold back the others.

export interface BatchEntry {
  record: NotificationRecord;
  update: PurchaseUpdate;
}

export type BatchOutcome = { kind: 'duplicate' } | { kind: 'new'; applied: ApplyResult };

export interface IngestBatcher {
  submit(entry: BatchEntry): Promise<BatchOutcome>;
}

export interface IngestBatcherOptions {
  db: Database;
  /** Largest number of notifications written in one transaction. */
  maxBatch?: number;
  /** Batches written at the same time (each holds one pooled connection). */
  maxConcurrent?: number;
}

interface Pending {
  entry: BatchEntry;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

export function createIngestBatcher(options: IngestBatcherOptions): IngestBatcher {
  const maxBatch = options.maxBatch ?? 64;
  const maxConcurrent = options.maxConcurrent ?? 4;
  const queue: Pending[] = [];
  let running = 0;

  const pump = () => {
    while (running < maxConcurrent && queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      running += 1;
      void writeBatch(options.db, batch).finally(() => {
        running -= 1;
        pump();
      });
    }
  };

  return {
    submit(entry) {
      return new Promise<BatchOutcome>((resolve, reject) => {
        queue.push({ entry, resolve, reject });
        // Deferred so that requests parsed in the same turn of the event loop share a batch.
        if (queue.length === 1) setImmediate(pump);
      });
    },
  };
}

async function writeBatch(db: Database, batch: Pending[]): Promise<void> {
  // The first delivery of an id in the batch is its candidate; later copies are duplicates.
  const candidates = new Map<string, Pending>();
  for (const pending of batch) if (!candidates.has(pending.entry.record.id)) candidates.set(pending.entry.record.id, pending);
  let outcomes: Map<Pending, BatchOutcome>;
  try {
    outcomes = await db.transaction(async (tx) => {
      // Rows in id order, so two batches never wait on each other's ids in a cycle.
      const ordered = [...candidates.values()].sort((a, b) => (a.entry.record.id < b.entry.record.id ? -1 : 1));
      const inserted = await insertJsonRows<{ id: string }>(
        tx,
        notifications,
        ordered.map((pending) => pending.entry.record),
        sql`on conflict do nothing returning id`,
      );
      const fresh = new Set(inserted.map((row) => row.id));
      const toApply = [...candidates.values()].filter((pending) => fresh.has(pending.entry.record.id));
      const applied = await applyPurchaseUpdates(
        tx,
        toApply.map((pending) => pending.entry.update),
      );
      const result = new Map<Pending, BatchOutcome>();
      toApply.forEach((pending, index) => result.set(pending, { kind: 'new', applied: applied[index]! }));
      return result;
    });
  } catch (error) {
    if (isDatabaseUnavailable(error)) {
      for (const pending of batch) pending.reject(error);
    } else {
      await writeOneByOne(db, batch);
    }
    return;
  }
  for (const pending of batch) pending.resolve(outcomes.get(pending) ?? { kind: 'duplicate' });
}

/** The single-notification path: each in its own transaction, settling on its own. */
async function writeOneByOne(db: Database, batch: Pending[]): Promise<void> {
  for (const pending of batch) {
    try {
      const applied = await db.transaction(async (tx) => {
        if (!(await recordNotification(tx, pending.entry.record))) return null;
        return applyPurchaseUpdate(tx, pending.entry.update);
      });
      pending.resolve(applied === null ? { kind: 'duplicate' } : { kind: 'new', applied });
    } catch (error) {
      pending.reject(error);
    }
  }
}
