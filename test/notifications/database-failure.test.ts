import { describe, expect, it } from 'vitest';
import type { Database, DatabaseHandle, SqlDriver } from '../../src/db/client.js';
import { createTestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';
import { countRows } from '../helpers/rows.js';
import { post, scenario, storedPurchase, T0 } from './support.js';

const STATEMENTS = new Set(['select', 'insert', 'update', 'delete', 'execute']);

function connectionLost(): Error {
  return Object.assign(new Error('connection failure (injected by the test)'), { code: '08006' });
}

/**
 * A handle whose next database transaction fails at its n-th statement, once, the way a
 * dropped connection does. Deterministic on PGlite and PostgreSQL alike, unlike killing
 * a backend at the right moment.
 */
function failingHandle(handle: DatabaseHandle) {
  let failAt = 0;
  let failed = 0;
  const wrapTransaction = (tx: object) => {
    let statement = 0;
    const counted =
      (fn: (...a: unknown[]) => unknown, self: object) =>
      (...args: unknown[]) => {
        statement += 1;
        if (failAt > 0 && statement === failAt) {
          failAt = 0;
          failed += 1;
          throw connectionLost();
        }
        return fn.apply(self, args);
      };
    // Statements reach the database two ways: the query builder's methods on the
    // transaction, and hand-built SQL sent to the transaction's driver (tx.driver.query,
    // tx.driver.queryArrays, src/db/raw.ts). Each is counted once: the builder's own calls
    // do not use tx.driver.
    const countedDriver = (driver: SqlDriver): SqlDriver => ({
      names: driver.names,
      query: counted(driver.query as (...a: unknown[]) => unknown, driver) as SqlDriver['query'],
      queryArrays: counted(driver.queryArrays as (...a: unknown[]) => unknown, driver) as SqlDriver['queryArrays'],
    });
    return new Proxy(tx, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop === 'driver') return countedDriver(value as SqlDriver);
        if (typeof value !== 'function') return value;
        if (typeof prop === 'string' && STATEMENTS.has(prop)) return counted(value as (...a: unknown[]) => unknown, target);
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  };
  const db = new Proxy(handle.db, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop === 'transaction') {
        return (fn: (tx: object) => Promise<unknown>, config?: unknown) =>
          (value as (f: typeof fn, c?: unknown) => Promise<unknown>).call(target, (tx) => fn(wrapTransaction(tx)), config);
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as Database;
  return {
    handle: { ...handle, db } satisfies DatabaseHandle,
    failNextTransactionAt(statement: number) {
      failAt = statement;
    },
    failures: () => failed,
  };
}

describe(`a database failure in the middle of a notification (${backendName})`, () => {
  const shared = useDatabaseAndPki();
  let failing: ReturnType<typeof failingHandle>;
  const t = useTestApp(() => {
    failing = failingHandle(shared.database.handle);
    return { ...shared, overrides: { database: failing.handle } };
  });

  // In one notification's transaction: 1 record the notification, 2 lock the purchase,
  // 3 read its transactions, 4 upsert the transaction, 5 read the subscription, 6 upsert it.
  it.each([
    [2, 'after the notification is recorded'],
    [4, 'while the transaction is upserted'],
    [6, 'after the transaction is written, at the subscription'],
  ])('failing at statement %i (%s) leaves nothing written and answers 503; the retry applies once', async (statement) => {
    const s = scenario(shared.pki);
    const signed = s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 });
    const before = await countRows(shared.database.handle.db);
    const failuresBefore = failing.failures();

    failing.failNextTransactionAt(statement);
    const failed = await post(t.app, signed);
    expect(failing.failures()).toBe(failuresBefore + 1);
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toEqual({ error: { code: 'DATABASE_UNAVAILABLE', message: expect.any(String) } });
    expect(await countRows(shared.database.handle.db)).toEqual(before);

    const retried = await post(t.app, signed);
    expect(retried.json()).toEqual({ status: 'processed' });
    const again = await post(t.app, signed);
    expect(again.json()).toEqual({ status: 'duplicate' });
    expect(await countRows(shared.database.handle.db)).toEqual({
      notifications: before.notifications + 1,
      transactions: before.transactions + 1,
      subscriptions: before.subscriptions + 1,
      links: before.links,
    });
    const stored = await storedPurchase(shared.database.handle.db, s.originalTransactionId);
    expect(stored.subscription).toMatchObject({ appleStatus: 1 });
  });

  it('answers 503 when the database cannot be reached at all, and writes nothing', async () => {
    let away = false;
    const unreachable = new Proxy(shared.database.handle.db, {
      get(target, prop, receiver) {
        if (away && typeof prop === 'string' && (STATEMENTS.has(prop) || prop === 'transaction')) {
          return () => {
            throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
          };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Database;
    const down = await createTestApp({ ...shared, overrides: { database: { ...shared.database.handle, db: unreachable } } });
    try {
      const before = await countRows(shared.database.handle.db);
      away = true;
      const response = await post(down.app, scenario(shared.pki).sign({ type: 'DID_RENEW', signedDate: T0, period: 0 }));
      expect(response.statusCode).toBe(503);
      expect(response.json().error.code).toBe('DATABASE_UNAVAILABLE');
      expect(await countRows(shared.database.handle.db)).toEqual(before);
    } finally {
      await down.app.close();
    }
  });
});
