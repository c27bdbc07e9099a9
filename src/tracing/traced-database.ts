import type { Database, DatabaseHandle } from '../db/client.js';
import type { Tracing } from './tracing.js';

// Database spans at the granularity the service works in: one per transaction (a batch of
// statements: the ingest's group commit, a link, a recovery page) and one per hot-path
// query (queryArrays: the entitlement read). Statements are not spanned one by one, and
// no driver is patched: a span per statement would cost more than some statements do.

const ATTRIBUTES = { 'db.system.name': 'postgresql' } as const;

/** `handle` with its transactions and hot-path queries in spans; the handle itself when tracing is off. */
export function traceDatabase(handle: DatabaseHandle, tracing: Tracing): DatabaseHandle {
  if (!tracing.enabled) return handle;
  const attributes = { ...ATTRIBUTES, 'appstore.database': handle.kind };
  const transaction: Database['transaction'] = (work, config) =>
    tracing.span('db.transaction', { kind: 'client', attributes: { ...attributes, 'db.operation.name': 'transaction' } }, () =>
      handle.db.transaction(work, config),
    );
  // drizzle's methods read their session through `this`, which the prototype chain still provides.
  const db = Object.create(handle.db) as Database;
  Object.defineProperty(db, 'transaction', { value: transaction, configurable: true, writable: true });
  return {
    ...handle,
    db,
    queryArrays: (query) =>
      tracing.span('db.query', { kind: 'client', attributes: { ...attributes, 'db.query.summary': query.name } }, () => handle.queryArrays(query)),
  };
}
