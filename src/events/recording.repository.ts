import type { Transaction } from '../db/client.js';
import { columnName, readColumn, tableName } from '../db/raw.js';
import { purchaseLinks, subscriptions, transactions, userAnswers } from '../db/schema.js';
import { answerLocksSql, answersLockKey, type StoredAnswer } from './answers.repository.js';

// What the recorder looks up, inside the recording transaction, to say who an event
// concerns and what was bought, and (for a batch of few users) the answers last recorded
// for the users whose answers it compares; on PostgreSQL it locks those users instead, and
// their answers are read after (answers.repository.ts). It runs at the end of every ingest
// batch, so it is one hand-built statement to the transaction's driver (docs/architecture.md,
// "Database access"): four look-ups that were four round trips, and the query builder's
// cost, before.

export interface RecordingLookups {
  /** originalTransactionId → the user it is linked to now (within `tx`). */
  owners: Map<string, string>;
  /** transactionId → its product. */
  transactionProducts: Map<string, string>;
  /** originalTransactionId → the subscription's product (null when not known yet). */
  subscriptionProducts: Map<string, string | null>;
  /** The recorded answers of the users asked for (users never recorded have none); null when not asked. */
  answers: StoredAnswer[] | null;
}

export interface RecordingLookupRequest {
  /** Purchases whose owners are wanted. */
  owned: readonly string[];
  /** Transactions whose products are wanted. */
  transactions: readonly string[];
  /** Purchases whose subscription products are wanted. */
  subscriptions: readonly string[];
  /**
   * Stored answers wanted: of these users and of the owners of these purchases; null for
   * none (the caller reads them later, a page of users at a time).
   */
  answersOf: { users: readonly string[]; ownersOf: readonly string[] } | null;
  /**
   * Lock those users' answers instead of reading them (answerLocksSql; the caller reads them
   * after): this statement's snapshot is older than the locks it waits for.
   */
  lockAnswers?: boolean;
}

const link = (column: 'originalTransactionId' | 'userId') => columnName(purchaseLinks, column);
const answer = (column: 'userId' | 'entitlements' | 'fingerprint' | 'nextCheckAt') => readColumn(userAnswers, column);

// Rows tagged by kind: 'o' owner (key: purchase, a: user), 't' transaction product,
// 's' subscription product, 'a' stored answer (key: user, a: entitlements, b: fingerprint,
// c: next check). The stored answers are asked for with one array, not "= any($4) or in
// (select ...)": PostgreSQL answers an OR with a subquery by reading the whole table, which
// grows with every user (9 ms per batch at 20,000 users), where an array probes the primary
// key (0.2 ms).
const LOOKUPS_OF_EVENTS = `
select 'o' as kind, ${link('originalTransactionId')} as key, ${link('userId')} as a, null::text as b, null::timestamptz as c
  from ${tableName(purchaseLinks)} where ${link('originalTransactionId')} = any($1::text[])
union all
select 't', ${columnName(transactions, 'transactionId')}, ${columnName(transactions, 'productId')}, null, null
  from ${tableName(transactions)} where ${columnName(transactions, 'transactionId')} = any($2::text[])
union all
select 's', ${columnName(subscriptions, 'originalTransactionId')}, ${columnName(subscriptions, 'productId')}, null, null
  from ${tableName(subscriptions)} where ${columnName(subscriptions, 'originalTransactionId')} = any($3::text[])`;
const ANSWER_USERS = `$4::text[] || array(select ${link('userId')} from ${tableName(purchaseLinks)} where ${link('originalTransactionId')} = any($5::text[]))`;
const LOOKUPS = `${LOOKUPS_OF_EVENTS}
union all
select 'a', ${answer('userId')}, ${answer('entitlements')}, ${answer('fingerprint')}, ${answer('nextCheckAt')}
  from ${tableName(userAnswers)} where ${answer('userId')} = any(${ANSWER_USERS})`;
// The same, with the users' answers locked ($6: the lock key over every answer) and not read.
const LOCKING_LOOKUPS = `with locked as (${answerLocksSql(ANSWER_USERS, '$6::bigint')})${LOOKUPS_OF_EVENTS}
union all
select 'l', locks::text, null, null, null from locked`;

interface LookupRow {
  kind: 'o' | 't' | 's' | 'a' | 'l';
  key: string;
  a: string | null;
  b: string | null;
  c: Date | null;
}

export async function recordingLookups(tx: Transaction, request: RecordingLookupRequest): Promise<RecordingLookups> {
  const unique = (ids: readonly string[]) => [...new Set(ids)];
  const owned = unique(request.owned);
  const txIds = unique(request.transactions);
  const subIds = unique(request.subscriptions);
  const answerUsers = unique(request.answersOf?.users ?? []);
  const answerPurchases = unique(request.answersOf?.ownersOf ?? []);
  const result: RecordingLookups = {
    owners: new Map(),
    transactionProducts: new Map(),
    subscriptionProducts: new Map(),
    answers: request.answersOf === null || request.lockAnswers === true ? null : [],
  };
  if (owned.length + txIds.length + subIds.length + answerUsers.length + answerPurchases.length === 0) return result;
  const rows =
    request.lockAnswers === true
      ? await tx.driver.query<LookupRow>(LOCKING_LOOKUPS, [owned, txIds, subIds, answerUsers, answerPurchases, answersLockKey(tx)])
      : await tx.driver.query<LookupRow>(LOOKUPS, [owned, txIds, subIds, answerUsers, answerPurchases]);
  for (const row of rows) {
    if (row.kind === 'o') result.owners.set(row.key, row.a!);
    else if (row.kind === 't') result.transactionProducts.set(row.key, row.a!);
    else if (row.kind === 's') result.subscriptionProducts.set(row.key, row.a);
    else if (row.kind === 'a') result.answers?.push({ userId: row.key, entitlements: row.a!, fingerprint: row.b!, nextCheckAt: row.c });
  }
  return result;
}
