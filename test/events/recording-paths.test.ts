import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockAnswersOf, lockEveryAnswer } from '../../src/events/answers.repository.js';
import { EVENTS_APPEND_LOCK_KEY } from '../../src/events/events.repository.js';
import { DAY, TEST_API_KEY } from '../helpers/constants.js';
import { testDatabaseUrl, untilWaitingForLocks, withClient } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { countRows, queryRows } from '../helpers/rows.js';
import { V1_TEST, v1Body } from '../helpers/v1-bodies.js';
import { answerSandboxReceipts, createVerifyReceiptDouble, type VerifyReceiptDouble } from '../legacy/verify-receipt-double.js';
import { post, scenario } from '../notifications/support.js';
import { eventsDuring } from './support.js';

// The other write paths record their events too: a purchase linked by the app backend, a
// purchase moving to another user, a V1 notification; and a transaction that rolls back
// takes its events with it.

let verifyReceipt: VerifyReceiptDouble;
const receipts = new Map<string, Record<string, unknown>>();
beforeAll(async () => {
  verifyReceipt = await createVerifyReceiptDouble();
  answerSandboxReceipts(verifyReceipt, receipts);
});
afterAll(async () => verifyReceipt?.close());

const t = useTestApp(() => ({ env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_VERIFY_RECEIPT_URL: verifyReceipt.url } }));
const db = () => t.database.handle.db;
const auth = { authorization: `Bearer ${TEST_API_KEY}` };

async function link(userId: string, signedTransaction: string) {
  const response = await t.app.inject({ method: 'POST', url: `/users/${userId}/transactions`, headers: auth, payload: { signedTransaction } });
  expect(response.statusCode, response.body).toBe(200);
  return (response.json() as { entitlements: unknown[] }).entitlements;
}

describe('events of the other write paths', () => {
  it('records entitlements.updated when the app backend links a purchase, and none when it links it again', async () => {
    const start = Date.now() - DAY;
    const s = scenario(t.pki, { start });
    const signed = t.pki.sign(s.transaction(0));
    const userId = `user-${randomUUID()}`;
    let answer: unknown[] = [];
    const events = await eventsDuring(db(), async () => (answer = await link(userId, signed)));
    expect(events.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', userId]]);
    expect(events[0]!.data).toEqual({ userId, entitlements: answer, previous: [] });
    expect(await eventsDuring(db(), () => link(userId, signed))).toEqual([]);
  });

  it('records entitlements.updated for both users when a purchase moves from one to the other', async () => {
    const start = Date.now() - DAY;
    const s = scenario(t.pki, { start });
    const signed = t.pki.sign(s.transaction(0));
    const first = `user-${randomUUID()}`;
    const second = `user-${randomUUID()}`;
    const firstAnswer = await link(first, signed);
    const events = await eventsDuring(db(), () => link(second, signed));
    const byUser = new Map(events.map((e) => [e.userId, e.data]));
    expect(events.every((e) => e.type === 'entitlements.updated')).toBe(true);
    expect(byUser.get(first)).toEqual({ userId: first, entitlements: [], previous: firstAnswer });
    expect(byUser.get(second)).toMatchObject({ userId: second, previous: [] });
    expect((byUser.get(second)!.entitlements as unknown[]).length).toBe(1);
  });

  it('records notification.received for a V1 notification', async () => {
    const body = v1Body('CONSUMPTION_REQUEST') as { unified_receipt: Record<string, unknown> };
    receipts.set(String(body.unified_receipt.latest_receipt), body.unified_receipt);
    const events = await eventsDuring(db(), async () => {
      const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: body });
      expect(response.statusCode, response.body).toBe(200);
    });
    expect(events.map((e) => e.type)).toEqual(['notification.received', 'consumption.requested']);
    expect(events[0]!.data).toMatchObject({ notificationType: 'CONSUMPTION_REQUEST', userId: null, transactionId: '1000000000000090' });
    expect(String(events[0]!.data.notificationUUID)).toMatch(/^v1:/);
  });

  it.skipIf(!testDatabaseUrl)(
    'records, for two purchases linked to one known user at once, a second answer that holds both and whose previous is the first (PostgreSQL only: two transactions at once)',
    async () => {
      const start = Date.now() - DAY;
      const userId = `user-${randomUUID()}`;
      const [earlier, first, second] = ['com.example.earlier', 'com.example.one', 'com.example.two'].map((productId) =>
        t.pki.sign(scenario(t.pki, { start, productId }).transaction(0)),
      );
      // A user known already: a new one's row would make the second link wait for the first.
      const before = await link(userId, earlier!);
      const appendLock = db().driver.names.lockKey(EVENTS_APPEND_LOCK_KEY).toString();
      const events = await eventsDuring(db(), () =>
        withClient(t.database.url!, async (holder) => {
          // Holding the events' append lock keeps the first link from committing until the
          // second has had its chance to read the user's answer.
          await holder.query('select pg_advisory_lock($1::bigint)', [appendLock]);
          const links = [link(userId, first!), link(userId, second!)];
          await untilWaitingForLocks(db(), { count: 2 });
          await holder.query('select pg_advisory_unlock($1::bigint)', [appendLock]);
          await Promise.all(links);
        }),
      );
      const products = (entitlements: unknown) => (entitlements as Array<{ productId: string }>).map((e) => e.productId).sort();
      const updates = events.filter((e) => e.type === 'entitlements.updated').map((e) => e.data);
      expect(updates).toHaveLength(2);
      expect(updates[0]!.previous).toEqual(before);
      expect(products(updates[0]!.entitlements)).toHaveLength(2);
      expect(updates[1]!.previous).toEqual(updates[0]!.entitlements);
      const all = ['com.example.earlier', 'com.example.one', 'com.example.two'];
      expect(products(updates[1]!.entitlements)).toEqual(all);
      const [stored] = await queryRows<{ entitlements: string }>(db(), sql`select entitlements from user_answers where user_id = ${userId}`);
      expect(products(JSON.parse(stored!.entitlements))).toEqual(all);
    },
  );

  it.skipIf(!testDatabaseUrl)(
    "gives a transaction of many users the lock over every answer only once those holding a user's lock have committed (PostgreSQL only: two transactions at once)",
    async () => {
      const steps: string[] = [];
      let finish = () => {};
      let hasLocked = () => {};
      const done = new Promise<void>((resolve) => (finish = resolve));
      const locked = new Promise<void>((resolve) => (hasLocked = resolve));
      const few = db().transaction(async (tx) => {
        await lockAnswersOf(tx, ['user-b', 'user-a']);
        hasLocked();
        await done;
        steps.push('few: commits');
      });
      await locked;
      const many = db().transaction(async (tx) => {
        await lockEveryAnswer(tx);
        steps.push('many: locked');
      });
      await untilWaitingForLocks(db());
      finish();
      await Promise.all([few, many]);
      expect(steps).toEqual(['few: commits', 'many: locked']);
    },
  );

  it('records nothing when the transaction rolls back: a database failure at the last statement answers 503 and keeps nothing', async () => {
    // The event insert itself fails as a lost connection would, after the notification
    // and the purchase were written in the same transaction.
    await db().execute(
      sql.raw(`create function fail_events() returns trigger language plpgsql as $$
      begin raise exception 'injected by the test' using errcode = '08006'; end $$`),
    );
    await db().execute(sql.raw('create trigger fail_events before insert on events for each statement execute function fail_events()'));
    try {
      const userId = randomUUID();
      const start = Date.now() - DAY;
      const s = scenario(t.pki, { start });
      const rowsBefore = await countRows(db());
      const events = await eventsDuring(db(), async () => {
        const response = await post(
          t.app,
          s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: userId }) }),
        );
        expect(response.statusCode).toBe(503);
      });
      expect(events).toEqual([]);
      expect(await countRows(db())).toEqual(rowsBefore);
    } finally {
      await db().execute(sql.raw('drop trigger fail_events on events'));
      await db().execute(sql.raw('drop function fail_events()'));
    }
  });
});
