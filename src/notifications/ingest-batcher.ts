import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { groupWhileBusy, type Slots, type Waiting } from '../db/group-while-busy.js';
import type { ApplyResult, PurchaseUpdate } from '../purchases/purchase-update.js';
import { applyPurchaseUpdate, applyPurchaseUpdates } from '../purchases/purchases.repository.js';
import { noopTracing, type TraceContext, type Tracing } from '../tracing/tracing.js';
import { type NotificationRecord, recordNotification, recordNotifications } from './notifications.repository.js';

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
  /** The submitter's trace: the batch's span is the first entry's child and links the others. */
  trace?: TraceContext | undefined;
}

export type BatchOutcome = { kind: 'duplicate' } | { kind: 'new'; applied: ApplyResult };

export interface IngestBatcher {
  submit(entry: BatchEntry): Promise<BatchOutcome>;
}

export interface IngestBatcherOptions {
  db: Database;
  /** The time of each batch's writes (rows' updatedAt). */
  clock: Clock;
  /** Largest number of notifications written in one transaction. */
  maxBatch?: number;
  /** Batches written at the same time (each holds one pooled connection), when `slots` is absent. */
  maxConcurrent?: number;
  /** Write slots shared with the other apps' batchers (one PostgreSQL under them all). */
  slots?: Slots;
  /** A `notification.write_batch` span per batch; absent: no spans. */
  tracing?: Tracing;
}

type Pending = Waiting<BatchEntry, BatchOutcome>;

export function createIngestBatcher(options: IngestBatcherOptions): IngestBatcher {
  return {
    submit: groupWhileBusy<BatchEntry, BatchOutcome>({
      run: (batch) => writeBatchTraced(options, batch),
      maxGroup: options.maxBatch ?? 64,
      ...(options.slots ? { slots: options.slots } : { maxConcurrent: options.maxConcurrent ?? 2 }),
    }),
  };
}

function writeBatchTraced(options: IngestBatcherOptions, batch: Pending[]): Promise<void> {
  const tracing = options.tracing ?? noopTracing;
  if (!tracing.enabled) return writeBatch(options, batch);
  const attributes = {
    'appstore.batch.size': batch.length,
    'appstore.notification_uuids': batch.map((pending) => pending.item.record.id),
  };
  const [first, ...others] = batch;
  return tracing.span('notification.write_batch', { parent: first?.item.trace, links: others.map((pending) => pending.item.trace), attributes }, () =>
    writeBatch(options, batch),
  );
}

async function writeBatch({ db, clock }: IngestBatcherOptions, batch: Pending[]): Promise<void> {
  // The first delivery of an id in the batch is its candidate; later copies are duplicates.
  const candidates = new Map<string, Pending>();
  for (const pending of batch) if (!candidates.has(pending.item.record.id)) candidates.set(pending.item.record.id, pending);
  let outcomes: Map<Pending, BatchOutcome>;
  try {
    outcomes = await db.transaction(async (tx) => {
      // Rows in id order, so two batches never wait on each other's ids in a cycle.
      const ordered = [...candidates.values()].sort((a, b) => (a.item.record.id < b.item.record.id ? -1 : 1));
      const fresh = await recordNotifications(
        tx,
        ordered.map((pending) => pending.item.record),
      );
      const toApply = [...candidates.values()].filter((pending) => fresh.has(pending.item.record.id));
      const applied = await applyPurchaseUpdates(
        tx,
        toApply.map((pending) => pending.item.update),
        { now: clock() },
      );
      const result = new Map<Pending, BatchOutcome>();
      for (const [index, pending] of toApply.entries()) result.set(pending, { kind: 'new', applied: applied[index]! });
      return result;
    });
  } catch (error) {
    if (isDatabaseUnavailable(error)) {
      for (const pending of batch) pending.reject(error);
    } else {
      await writeOneByOne(db, clock, batch);
    }
    return;
  }
  for (const pending of batch) pending.resolve(outcomes.get(pending) ?? { kind: 'duplicate' });
}

/** The one single-notification transaction: each in its own, settling on its own. */
async function writeOneByOne(db: Database, clock: Clock, batch: Pending[]): Promise<void> {
  for (const pending of batch) {
    try {
      const applied = await db.transaction(async (tx) => {
        if (!(await recordNotification(tx, pending.item.record))) return null;
        return applyPurchaseUpdate(tx, pending.item.update, { now: clock() });
      });
      pending.resolve(applied === null ? { kind: 'duplicate' } : { kind: 'new', applied });
    } catch (error) {
      pending.reject(error);
    }
  }
}
