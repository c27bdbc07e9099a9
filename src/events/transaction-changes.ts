import type { Executor } from '../db/client.js';

// What a database transaction changed that events may announce, collected as the write
// side goes and turned into events just before the transaction commits (recorder.ts).
// The collection rides on the transaction object itself, set by the transaction wrapper
// of recording-database.ts; a transaction without one (a test calling a repository on a
// bare database, the replay command) records no events, and these calls do nothing.

const CHANGES = Symbol('events.transactionChanges');

/** A notification recorded in the transaction (what `notification.received` says of it). */
export interface NotedNotification {
  id: string;
  notificationType: string;
  subtype: string | null;
  environment: string | null;
  signedDate: Date | null;
  transactionId: string | null;
  originalTransactionId: string | null;
}

export interface TransactionChanges {
  notifications: NotedNotification[];
  /** Purchases written: their owners' answers may have changed. */
  purchases: Set<string>;
  /** Users whose answers may have changed for another reason (a purchase moved away from them). */
  users: Set<string>;
}

export function emptyChanges(): TransactionChanges {
  return { notifications: [], purchases: new Set(), users: new Set() };
}

export function attachChanges(tx: Executor, changes: TransactionChanges): void {
  Object.defineProperty(tx, CHANGES, { value: changes, configurable: true });
}

function changesOf(tx: Executor): TransactionChanges | undefined {
  return (tx as unknown as { [CHANGES]?: TransactionChanges })[CHANGES];
}

/** Notifications recorded now (not earlier): each becomes `notification.received`. */
export function noteNotifications(tx: Executor, notifications: readonly NotedNotification[]): void {
  changesOf(tx)?.notifications.push(...notifications);
}

/** Purchases (originalTransactionIds) whose records or links were written. */
export function notePurchases(tx: Executor, originalTransactionIds: Iterable<string>): void {
  const changes = changesOf(tx);
  if (changes) for (const id of originalTransactionIds) changes.purchases.add(id);
}

/** Users whose answers may have changed other than through a purchase they own now. */
export function noteUsers(tx: Executor, userIds: Iterable<string>): void {
  const changes = changesOf(tx);
  if (changes) for (const id of userIds) changes.users.add(id);
}
