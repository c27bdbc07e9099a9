import { count, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferredToCommit } from '../../src/db/before-commit.js';
import type { Transaction } from '../../src/db/client.js';
import { insertRows } from '../../src/db/raw.js';
import { events, serviceState } from '../../src/db/schema.js';
import { identityEntitlementMap } from '../../src/entitlements/entitlement-map.js';
import { createEventRecorder } from '../../src/events/recorder.js';
import { noteNotifications } from '../../src/events/transaction-changes.js';
import { backendName, createTestDatabase, type TestDatabase } from '../helpers/database.js';

// Work deferred to a transaction's commit (src/db/before-commit.ts): gathered while the
// transaction goes, written once after all of its work (a recording transaction's event
// append included), and committed or rolled back with the rest.
describe(`work deferred to a transaction's commit (${backendName})`, () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  }, 120_000);
  afterAll(async () => database?.destroy());

  const db = () => database.handle.db;
  const KEY = Symbol('test.deferredKeys');
  /** Gathers service_state keys in `tx`, inserted when it commits. */
  const deferKeys = (tx: Transaction, ...keys: string[]) => {
    const gathered = deferredToCommit(
      tx,
      KEY,
      () => [] as string[],
      async (into, all) => {
        await insertRows(
          into,
          serviceState,
          all.map((key) => ({ key, value: JSON.stringify(true) })),
        );
      },
    );
    gathered.push(...keys);
  };
  const keysLike = async (prefix: string) =>
    (
      await db()
        .select({ key: serviceState.key })
        .from(serviceState)
        .where(like(serviceState.key, `${prefix}%`))
    )
      .map((row) => row.key)
      .sort();

  it('gathers one state per transaction and writes it once, after the work and before the commit', async () => {
    const seenInWork = await db().transaction(async (tx) => {
      deferKeys(tx, 'once.a');
      deferKeys(tx, 'once.b', 'once.c');
      return tx.select({ key: serviceState.key }).from(serviceState).where(like(serviceState.key, 'once.%'));
    });
    expect(seenInWork).toEqual([]);
    expect(await keysLike('once.')).toEqual(['once.a', 'once.b', 'once.c']);
  });

  it('keeps each transaction’s state to itself', async () => {
    await Promise.all([db().transaction(async (tx) => deferKeys(tx, 'own.first')), db().transaction(async (tx) => deferKeys(tx, 'own.second'))]);
    expect(await keysLike('own.')).toEqual(['own.first', 'own.second']);
  });

  it('writes nothing when the work fails, and rolls the work back when the deferred write fails', async () => {
    await expect(
      db().transaction(async (tx) => {
        deferKeys(tx, 'failed-work.deferred');
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(await keysLike('failed-work.')).toEqual([]);

    await db().insert(serviceState).values({ key: 'failed-write.taken', value: 1 });
    await expect(
      db().transaction(async (tx) => {
        await tx.insert(serviceState).values({ key: 'failed-write.work', value: 1 });
        // The deferred insert hits an existing key: the whole transaction rolls back.
        deferKeys(tx, 'failed-write.taken');
      }),
    ).rejects.toThrow();
    expect(await keysLike('failed-write.')).toEqual(['failed-write.taken']);
  });

  it('runs after a recording transaction has appended its events', async () => {
    const recorder = createEventRecorder({ entitlementMap: identityEntitlementMap, clock: () => new Date(), kind: database.handle.kind });
    const recording = recorder.recording(db());
    const eventCount = async (executor: Pick<Transaction, 'select'>) => Number((await executor.select({ n: count() }).from(events))[0]?.n ?? 0);
    const before = await eventCount(db());
    let seenByDeferred: number | null = null;
    await recording.transaction(async (tx) => {
      noteNotifications(tx, [
        {
          id: 'before-commit-notification',
          notificationType: 'TEST',
          subtype: null,
          environment: 'Sandbox',
          signedDate: null,
          transactionId: null,
          originalTransactionId: null,
        },
      ]);
      deferredToCommit(
        tx,
        Symbol('test.countEvents'),
        () => null,
        async (into) => {
          seenByDeferred = await eventCount(into);
        },
      );
    });
    expect(seenByDeferred).toBe(before + 1);
    const recorded = await db().select({ type: events.type, body: events.body }).from(events);
    expect(recorded).toHaveLength(before + 1);
    expect(recorded.filter((event) => event.body.includes('before-commit-notification')).map((event) => event.type)).toEqual(['notification.received']);
  });
});
