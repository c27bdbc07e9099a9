import { deferredToCommit } from '../db/before-commit.js';
import type { Transaction } from '../db/client.js';
import { type ColumnOf, columnName, insertRows, onConflictReplace, selectList, tableName } from '../db/raw.js';
import { analyticsDaily, purchaseAnalytics, subscriptions, transactions } from '../db/schema.js';
import { type AnalyticsRecord, type AnalyticsSignals, addContributions, nonZero, purchaseAnalyticsRow, type RollupRow } from './analytics.model.js';
import type { StoredTransaction } from './purchase-update.js';

// Keeps the analytics tables (docs/analytics.md) in the transaction of the purchase change
// that moves them: part of applyPurchaseUpdates, so every notification, refresh, restore
// and recovery goes through it. On the ingest's batch path, so hand-built SQL to the
// transaction's driver (src/db/raw.ts), as the rest of the write side.

const RECORD_COLUMNS: ReadonlyArray<ColumnOf<typeof transactions>> = [
  'transactionId',
  'originalTransactionId',
  'productId',
  'productType',
  'environment',
  'purchaseDate',
  'originalPurchaseDate',
  'expiresDate',
  'revocationDate',
  'revocationType',
  'isUpgraded',
  'offerType',
  'offerDiscountType',
  'price',
  'currency',
];
const SIGNAL_COLUMNS: ReadonlyArray<ColumnOf<typeof subscriptions>> = [
  'originalTransactionId',
  'appleStatus',
  'statusSignedDate',
  'renewalSignedDate',
  'productId',
  'isInBillingRetryPeriod',
  'gracePeriodExpiresDate',
];
const SELECT_RECORDS = `select ${selectList(transactions, RECORD_COLUMNS)} from ${tableName(transactions)} where ${columnName(transactions, 'originalTransactionId')} = any($1::text[])`;
const SELECT_SIGNALS = `select ${selectList(subscriptions, SIGNAL_COLUMNS)} from ${tableName(subscriptions)} where ${columnName(subscriptions, 'originalTransactionId')} = any($1::text[])`;
const UPSERT_STATE = onConflictReplace(purchaseAnalytics, 'originalTransactionId');

const ROLLUP_KEY: ReadonlyArray<ColumnOf<typeof analyticsDaily>> = ['day', 'environment', 'productId', 'currency'];
const ROLLUP_SUMS: ReadonlyArray<ColumnOf<typeof analyticsDaily>> = ['newSubscriptions', 'renewals', 'expirations', 'refunds', 'trialConversions', 'revenue'];
const ROLLUP_TYPES = ['date', 'text', 'text', 'text', 'int4', 'int4', 'int4', 'int4', 'int4', 'int8'];
const rollupColumns = [...ROLLUP_KEY, ...ROLLUP_SUMS];
const ROLLUP_CHANGES = Symbol('analytics.rollupChanges');
// Adds each change to the row of its day, environment, product and currency. The rows
// arrive sorted by key (nonZero), so two writers lock shared rows in the same order.
const ADD_TO_ROLLUP = `insert into ${tableName(analyticsDaily)} as d (${rollupColumns.map((c) => columnName(analyticsDaily, c)).join(', ')})
  select * from unnest(${ROLLUP_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')})
  on conflict (${ROLLUP_KEY.map((c) => columnName(analyticsDaily, c)).join(', ')}) do update set
  ${ROLLUP_SUMS.map((c) => `${columnName(analyticsDaily, c)} = ${columnName(analyticsDaily, c, 'd')} + excluded.${columnName(analyticsDaily, c)}`).join(', ')}`;

/** The subscription columns the signals come from (a subscriptions row has them all). */
export type SignalsRow = Omit<AnalyticsSignals, 'renewalProductId'> & { originalTransactionId: string; productId: string | null };

function signalsOf(row: SignalsRow): AnalyticsSignals {
  return {
    appleStatus: row.appleStatus,
    statusSignedDate: row.statusSignedDate,
    renewalSignedDate: row.renewalSignedDate,
    renewalProductId: row.productId,
    isInBillingRetryPeriod: row.isInBillingRetryPeriod,
    gracePeriodExpiresDate: row.gracePeriodExpiresDate,
  };
}

/**
 * After the purchases in `purchases` were written: their state rows anew, and the rollup
 * moved by (what they contribute now) − (what they contributed before), just before the
 * transaction commits (addToRollup). `previous` holds, for every transaction this write
 * changed, its stored version before (undefined: it is new), so "before" is the stored purchase with those put back. `subscriptions` holds
 * subscription rows the caller knows as they are now stored (undefined: none is): only
 * the purchases it lacks have their signals read.
 */
export async function updateAnalytics(
  tx: Transaction,
  purchases: readonly string[],
  previous: ReadonlyMap<string, StoredTransaction | undefined>,
  now: Date,
  subscriptions: ReadonlyMap<string, SignalsRow | undefined> = new Map(),
): Promise<void> {
  if (purchases.length === 0) return;
  const records = await tx.driver.query<AnalyticsRecord>(SELECT_RECORDS, [purchases]);
  const signals = new Map<string, AnalyticsSignals>();
  const unknown: string[] = [];
  for (const id of purchases) {
    if (!subscriptions.has(id)) unknown.push(id);
    else {
      const row = subscriptions.get(id);
      if (row !== undefined) signals.set(id, signalsOf(row));
    }
  }
  // A purchase whose update carried neither renewal info nor a status (a one-time purchase, a transaction alone).
  if (unknown.length > 0) {
    for (const row of await tx.driver.query<SignalsRow>(SELECT_SIGNALS, [unknown])) signals.set(row.originalTransactionId, signalsOf(row));
  }

  const after = new Map<string, AnalyticsRecord[]>(purchases.map((id) => [id, []]));
  const before = new Map<string, AnalyticsRecord[]>(purchases.map((id) => [id, []]));
  for (const record of records) {
    after.get(record.originalTransactionId)?.push(record);
    if (!previous.has(record.transactionId)) before.get(record.originalTransactionId)?.push(record);
  }
  for (const old of previous.values()) {
    if (old !== undefined) before.get(old.originalTransactionId)?.push(old);
  }

  // The rollup's changes wait for the transaction's end (addToRollup); the state rows are the purchases' own.
  const changes = deferredToCommit(tx, ROLLUP_CHANGES, () => new Map<string, RollupRow>(), addToRollup);
  const states = [];
  for (const id of purchases) {
    addContributions(changes, before.get(id)!, -1);
    addContributions(changes, after.get(id)!, 1);
    const state = purchaseAnalyticsRow(after.get(id)!, signals.get(id));
    if (state !== null) states.push({ ...state, updatedAt: now });
  }
  if (states.length > 0) await insertRows(tx, purchaseAnalytics, states, UPSERT_STATE);
}

/**
 * The transaction's rollup changes, summed over every purchase it changed, as its last
 * statement. Every writer adds to the same few rows (today × environment × product ×
 * currency): written mid-transaction, their row locks made a concurrent batch wait for the
 * whole rest of this one (its attribution and event recording) and then its commit. Last,
 * after the event recorder's append, a writer holds them only for its commit, and while it
 * holds the append lock that every recording transaction takes before them, so one
 * recording batch never waits for another's rollup rows (BENCHMARKS.md, "Analytics rollup").
 */
async function addToRollup(tx: Transaction, changes: Map<string, RollupRow>): Promise<void> {
  const rows = nonZero(changes);
  if (rows.length === 0) return;
  await tx.driver.query(
    ADD_TO_ROLLUP,
    rollupColumns.map((column) => rows.map((row) => row[column as keyof RollupRow])),
  );
}
