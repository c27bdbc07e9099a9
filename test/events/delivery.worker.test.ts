import { asc, eq, getTableName, like, sql } from 'drizzle-orm';
import type pg from 'pg';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database, SqlDriver, Transaction } from '../../src/db/client.js';
import { openDatabase } from '../../src/db/client.js';
import { eventDeliveries, events as eventsTable, serviceState } from '../../src/db/schema.js';
import {
  bringRetriesForward,
  type ClaimedDelivery,
  claimDeliveries,
  type DispatchResult,
  dispatchEvents,
  dispatchKey,
  dispatchStatement,
  handBackClaims,
  listDeliveries,
  recordAttempt,
  recordAttemptResults,
  recordAttempts,
  redeliverEvent,
  releaseHeldBack,
} from '../../src/events/deliveries.repository.js';
import { createDeliveryWorker, type DeliveryWorker, type DeliveryWorkerOptions } from '../../src/events/delivery.worker.js';
import { DEFAULT_BACKOFF } from '../../src/events/delivery-backoff.js';
import type { RecordedEvent } from '../../src/events/event-types.js';
import { appendEvents } from '../../src/events/events.repository.js';
import { noopEvents, type ServiceEvents } from '../../src/metrics/events.js';
import { closedPortUrl } from '../helpers/closed-port.js';
import { backendName, createTestDatabase, type TestDatabase, testDatabaseUrl, untilWaitingForLocks, withClient } from '../helpers/database.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';
const key = new Uint8Array(Buffer.from(SECRET.slice('whsec_'.length), 'base64'));
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let database: TestDatabase;
let db: Database;
const receivers: WebhookReceiver[] = [];
const workers: DeliveryWorker[] = [];

/** A clock the test moves by hand, starting at the real now (receivers check timestamps against theirs). */
function manualClock() {
  let now = Date.now();
  return { clock: () => new Date(now), advance: (ms: number) => (now += ms) };
}

async function receiver(): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver();
  receivers.push(started);
  return started;
}

function worker(urls: string[], clock: () => Date, options: Partial<DeliveryWorkerOptions> = {}, events: ServiceEvents = noopEvents, on = db) {
  const created = createDeliveryWorker({ db: on, urls, key, clock, logger, events, options: { random: () => 0.999, ...options } });
  workers.push(created);
  return created;
}

async function record(userId: string | null, productId = 'com.example.pro'): Promise<RecordedEvent> {
  const [event] = await db.transaction((tx) =>
    appendEvents(
      tx,
      [{ type: 'consumption.requested', userId, data: { userId, transactionId: '1', productId, deadline: new Date().toISOString() } }],
      new Date(),
    ),
  );
  return event!;
}

/** The database with its claim statements counted once answered (claimDeliveries: the one update that skips locked rows). */
function countingClaims(on: Database): { db: Database; claims(): number } {
  let claims = 0;
  const driver: SqlDriver = {
    names: on.driver.names,
    query<T>(text: string, params?: readonly unknown[]) {
      const answer = on.driver.query<T>(text, params);
      if (text.startsWith('update') && text.includes('skip locked')) void answer.then(() => (claims += 1));
      return answer;
    },
    queryArrays: (text, params) => on.driver.queryArrays(text, params),
  };
  return { db: Object.create(on, { driver: { value: driver } }) as Database, claims: () => claims };
}

/** A dispatch's claims, oldest event first (its chains laid end to end). */
function claimsOf(result: DispatchResult): ClaimedDelivery[] {
  return result.chains.flat().sort((a, b) => a.eventSeq - b.eventSeq);
}

async function deliveryRows() {
  return db
    .select({
      eventSeq: eventDeliveries.eventSeq,
      url: eventDeliveries.url,
      status: eventDeliveries.status,
      attempts: eventDeliveries.attempts,
      nextAttemptAt: eventDeliveries.nextAttemptAt,
      lastStatus: eventDeliveries.lastStatus,
      lastError: eventDeliveries.lastError,
    })
    .from(eventDeliveries)
    .orderBy(asc(eventDeliveries.eventSeq), asc(eventDeliveries.url));
}

/** recordAttempts (each delivered) over a connection of the test's own: a session with its own PL/pgSQL plans. */
function recordingOn(client: pg.Client) {
  const driver: SqlDriver = {
    ...db.driver,
    query: async <T>(text: string, params?: readonly unknown[]) => (await client.query(text, params as unknown[])).rows as T[],
  };
  const on = Object.create(db, { driver: { value: driver } }) as Database;
  return {
    records: (claims: ClaimedDelivery[]) =>
      recordAttempts(
        on,
        claims.map((claim) => ({ claim, result: { outcome: 'delivered' as const, status: 204, at: claim.claimedAt } })),
      ),
  };
}

/** A user's first event in flight to `url` (created claimed), a second recorded after it (not dispatched), and the first's delivered result. */
async function inFlightAndNext(url: string) {
  const { clock } = manualClock();
  const lease = { leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 };
  await record('user-a');
  const [first] = claimsOf(await dispatchEvents(db, url, clock(), 100, lease));
  const second = await record('user-a');
  const delivered = [{ claim: first!, result: { outcome: 'delivered' as const, status: 204, at: clock() } }];
  return { clock, lease, first: first!, second, delivered };
}

/** Three events of one user dispatched to `url` with free slots: one chain, claimed. */
async function chainOfThree(url: string) {
  const { clock, advance } = manualClock();
  const a1 = await record('user-a');
  const a2 = await record('user-a');
  const a3 = await record('user-a');
  const lease = () => new Date(clock().getTime() + 60_000);
  const [chain] = (await dispatchEvents(db, url, clock(), 100, { leaseUntil: lease(), limit: 5 })).chains;
  return { clock, advance, lease, a1, a2, a3, chain: chain! };
}

/** `work` in a transaction left open until `commit()`: `ran` once the work is done, `done` once committed. */
function heldOpen(work: (tx: Transaction) => Promise<void>) {
  const ran = gate();
  const commit = gate();
  const done = db.transaction(async (tx) => {
    await work(tx);
    ran.open();
    await commit.opened;
  });
  return { ran: ran.opened, commit: commit.open, done };
}

/** A promise opened by hand. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open: () => open() };
}

async function heldBack() {
  return db
    .select({ eventSeq: eventDeliveries.eventSeq, heldBack: eventDeliveries.heldBack })
    .from(eventDeliveries)
    .orderBy(asc(eventDeliveries.eventSeq), asc(eventDeliveries.url));
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.handle.db;
});

afterEach(async () => {
  // Receivers first: a hanging answer ends, so stopping need not wait for its timeout.
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await db.delete(eventsTable);
  await db.delete(serviceState).where(like(serviceState.key, 'events.dispatch:%'));
});

afterAll(async () => {
  await database.destroy();
});

describe(`event delivery (${backendName})`, () => {
  it('posts a recorded event with its body and Standard Webhooks headers that the standardwebhooks package accepts', async () => {
    const target = await receiver();
    const { clock } = manualClock();
    const event = await record('u-1');
    await worker([target.url], clock).tick();

    expect(target.requests).toHaveLength(1);
    const [request] = target.requests;
    expect(request!.body).toBe(event.body);
    expect(request!.headers['webhook-id']).toBe(event.id);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(new Webhook(SECRET).verify(request!.body, request!.headers as Record<string, string>)).toEqual(JSON.parse(event.body));
    expect(await deliveryRows()).toMatchObject([{ status: 'delivered', attempts: 1, lastStatus: 200 }]);
  });

  it('retries a 500 within 10 seconds and then delivers the same event id once more', async () => {
    const target = await receiver();
    target.answers.push(500);
    const { clock, advance } = manualClock();
    const event = await record('u-1');
    const delivery = worker([target.url], clock);
    await delivery.tick();
    const [afterFailure] = await deliveryRows();
    expect(afterFailure).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 500 });
    expect(afterFailure!.nextAttemptAt.getTime() - clock().getTime()).toBeLessThanOrEqual(10_000);

    await delivery.tick();
    expect(target.requests).toHaveLength(1);

    advance(10_000);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(await deliveryRows()).toMatchObject([{ status: 'delivered', attempts: 2, lastStatus: 200 }]);
    await delivery.tick();
    expect(target.requests).toHaveLength(2);
  });

  it('counts an answer later than the timeout as a failure and retries it', async () => {
    const target = await receiver();
    target.answers.push('hang');
    const { clock, advance } = manualClock();
    const event = await record('u-1');
    // Short, but long enough for a loaded machine to answer the second attempt in time.
    const delivery = worker([target.url], clock, { timeoutMs: 1_000 });
    await delivery.tick();
    expect(await deliveryRows()).toMatchObject([{ status: 'pending', attempts: 1, lastStatus: null, lastError: 'timeout' }]);
    advance(10_000);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(await deliveryRows()).toMatchObject([{ status: 'delivered' }]);
  });

  it('does not let an answer whose body never ends hold a connection: the next attempts go out and the connection is cut', async () => {
    const { createServer } = await import('node:http');
    let arrived = 0;
    let cut = 0;
    let allCut = () => {};
    const everyConnectionCut = new Promise<void>((resolve) => (allCut = resolve));
    const endless = createServer((request, response) => {
      request.socket.once('close', () => {
        cut += 1;
        if (cut === 3) allCut();
      });
      request.resume();
      request.on('end', () => {
        arrived += 1;
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.write('never ends');
      });
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(endless.address() as { port: number }).port}/hooks`;
      const { clock } = manualClock();
      for (let i = 0; i < 3; i += 1) await record(`user-${i}`);
      // Long enough for a loaded machine to answer the status line; short enough to cut each body.
      await worker([url], clock, { timeoutMs: 1_500, concurrency: 1 }).tick();
      expect(arrived).toBe(3);
      expect((await deliveryRows()).map((row) => row.status)).toEqual(['delivered', 'delivered', 'delivered']);
      await everyConnectionCut;
      expect(cut).toBe(3);
    } finally {
      endless.closeAllConnections();
      await new Promise<void>((resolve) => endless.close(() => resolve()));
    }
  });

  it('retries when the connection is refused', async () => {
    const url = `${await closedPortUrl()}/hooks`;
    const { clock } = manualClock();
    await record('u-1');
    await worker([url], clock).tick();
    const [row] = await deliveryRows();
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastStatus: null, lastError: 'ECONNREFUSED' });
  });

  it('does not follow a redirect: a 3xx is a failure and the other address gets nothing', async () => {
    const target = await receiver();
    const elsewhere = await receiver();
    target.answers.push({ redirect: elsewhere.url });
    const { clock } = manualClock();
    await record('u-1');
    await worker([target.url], clock).tick();
    expect(elsewhere.requests).toHaveLength(0);
    expect(await deliveryRows()).toMatchObject([{ status: 'pending', lastStatus: 302, lastError: 'redirect 302 (not followed)' }]);
  });

  it("keeps each user's events in order per URL across retries, while other users' events go on", async () => {
    const target = await receiver();
    target.answers.push(500);
    const { clock, advance } = manualClock();
    const a1 = await record('user-a', 'a1');
    const b1 = await record('user-b', 'b1');
    const a2 = await record('user-a', 'a2');
    const delivery = worker([target.url], clock);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id, b1.id]);

    advance(10_000);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id, b1.id, a1.id, a2.id]);
  });

  it("holds back a user's later events while an earlier one is pending, out of the claim's way, and releases the next the moment it ends", async () => {
    const url = 'http://127.0.0.1:9/held';
    const { clock, advance } = manualClock();
    const a1 = await record('user-a');
    const a2 = await record('user-a');
    const a3 = await record('user-a');
    const b1 = await record('user-b');
    await dispatchEvents(db, url, clock(), 100);
    expect(await heldBack()).toEqual([
      { eventSeq: a1.seq, heldBack: false },
      { eventSeq: a2.seq, heldBack: true },
      { eventSeq: a3.seq, heldBack: true },
      { eventSeq: b1.seq, heldBack: false },
    ]);
    const lease = () => new Date(clock().getTime() + 60_000);
    const claims = await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 });
    expect(claims.map((claim) => claim.eventId)).toEqual([a1.id, b1.id]);

    advance(1_000);
    const at = clock();
    await recordAttempts(db, [
      { claim: claims[0]!, result: { outcome: 'delivered', status: 204, at } },
      { claim: claims[1]!, result: { outcome: 'retry', status: 500, error: 'HTTP 500', at, nextAttemptAt: new Date(at.getTime() + 10_000) } },
    ]);
    // a1 ended: a2 goes on, a3 waits behind it; b1 retries later and held nothing back.
    expect((await heldBack()).filter((row) => row.heldBack).map((row) => row.eventSeq)).toEqual([a3.seq]);
    expect((await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 })).map((claim) => claim.eventId)).toEqual([a2.id]);
    // An event of a user with a pending delivery is held back when it is dispatched later, too.
    const b2 = await record('user-b');
    await dispatchEvents(db, url, clock(), 100);
    expect((await heldBack()).find((row) => row.eventSeq === b2.seq)).toEqual({ eventSeq: b2.seq, heldBack: true });
  });

  it("creates the rows of events that wait for nothing already claimed, up to the free slots, with their users' later events chained behind", async () => {
    const url = 'http://127.0.0.1:9/born-claimed';
    const { clock, advance } = manualClock();
    const a1 = await record('user-a');
    const a2 = await record('user-a');
    const b1 = await record('user-b');
    const c1 = await record('user-c');
    const c2 = await record('user-c');
    const leaseUntil = new Date(clock().getTime() + 60_000);
    const dispatched = await dispatchEvents(db, url, clock(), 100, { leaseUntil, limit: 2 });
    expect(dispatched).toMatchObject({ events: 5, created: 5 });
    // Two free slots: the two oldest events that wait for nothing, a1 with a2 chained behind
    // it; c1 gets no slot, and c2 waits behind it.
    expect(dispatched.chains.map((chain) => chain.map((claim) => ({ eventId: claim.eventId, body: claim.body, attempts: claim.attempts })))).toEqual([
      [
        { eventId: a1.id, body: a1.body, attempts: 1 },
        { eventId: a2.id, body: a2.body, attempts: 1 },
      ],
      [{ eventId: b1.id, body: b1.body, attempts: 1 }],
    ]);
    const rows = await db
      .select({
        eventSeq: eventDeliveries.eventSeq,
        attempts: eventDeliveries.attempts,
        nextAttemptAt: eventDeliveries.nextAttemptAt,
        heldBack: eventDeliveries.heldBack,
      })
      .from(eventDeliveries)
      .orderBy(asc(eventDeliveries.eventSeq));
    expect(rows.map((row) => ({ ...row, nextAttemptAt: row.nextAttemptAt.getTime() }))).toEqual([
      { eventSeq: a1.seq, attempts: 1, nextAttemptAt: leaseUntil.getTime(), heldBack: false },
      { eventSeq: a2.seq, attempts: 1, nextAttemptAt: leaseUntil.getTime(), heldBack: false },
      { eventSeq: b1.seq, attempts: 1, nextAttemptAt: leaseUntil.getTime(), heldBack: false },
      { eventSeq: c1.seq, attempts: 0, nextAttemptAt: clock().getTime(), heldBack: false },
      { eventSeq: c2.seq, attempts: 0, nextAttemptAt: clock().getTime(), heldBack: true },
    ]);
    // The claimed rows are leased: a claim now finds only c1.
    const lease = () => new Date(clock().getTime() + 60_000);
    expect((await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 })).map((claim) => claim.eventId)).toEqual([c1.id]);

    // Their results count like any claim's, and a1's end releases nothing: a2 is the chain's.
    advance(1_000);
    const at = clock();
    const [chainA, chainB] = dispatched.chains;
    expect(
      await recordAttempts(db, [
        { claim: chainA![0]!, result: { outcome: 'delivered', status: 204, at } },
        { claim: chainB![0]!, result: { outcome: 'delivered', status: 204, at } },
      ]),
    ).toEqual([true, true]);
    expect(await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 })).toEqual([]);
    expect(await recordAttempt(db, chainA![1]!, { outcome: 'delivered', status: 204, at })).toBe(true);
  });

  it("hands a chain's events back as the dispatch would have made them unclaimed: held back behind a pending one, due at once behind none", async () => {
    const url = 'http://127.0.0.1:9/handed-back';
    const { clock, advance, lease, a1, a2, a3, chain } = await chainOfThree(url);
    expect(chain.map((claim) => claim.eventId)).toEqual([a1.id, a2.id, a3.id]);

    // a1 was not delivered: a2 and a3 go back held back, with no attempt counted, and a1's
    // retry result leaves them so.
    advance(1_000);
    expect(await handBackClaims(db, chain.slice(1))).toBe(0);
    const at = clock();
    await recordAttempt(db, chain[0]!, { outcome: 'retry', status: 500, error: 'HTTP 500', at, nextAttemptAt: new Date(at.getTime() + 10_000) });
    expect(await heldBack()).toEqual([
      { eventSeq: a1.seq, heldBack: false },
      { eventSeq: a2.seq, heldBack: true },
      { eventSeq: a3.seq, heldBack: true },
    ]);
    expect((await deliveryRows()).map((row) => row.attempts)).toEqual([1, 0, 0]);
    // A second hand-back of the same claims changes nothing: they are no longer claimed so.
    expect(await handBackClaims(db, chain.slice(1))).toBe(0);
    expect((await deliveryRows()).map((row) => row.attempts)).toEqual([1, 0, 0]);

    // a1's retry is delivered: its end releases a2 (claimed with it), a2's then a3.
    advance(10_000);
    const [retry] = await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 });
    expect(retry?.eventId).toBe(a1.id);
    const released = await recordAttemptResults(db, [{ claim: retry!, result: { outcome: 'delivered', status: 204, at: clock() } }], {
      now: clock(),
      leaseUntil: lease(),
    });
    expect(released.claims.map((claim) => ({ eventId: claim.eventId, attempts: claim.attempts }))).toEqual([{ eventId: a2.id, attempts: 1 }]);
  });

  it('hands back as due at once the rest of a chain whose earlier events were all delivered, for any claim to take', async () => {
    const url = 'http://127.0.0.1:9/handed-back-due';
    const { clock, advance, lease, a1, a2, a3, chain } = await chainOfThree(url);
    advance(1_000);
    expect(await recordAttempt(db, chain[0]!, { outcome: 'delivered', status: 204, at: clock() })).toBe(true);
    // The lane stops (or a2's lease could run out in flight): a2 is due at once, a3 behind it.
    expect(await handBackClaims(db, chain.slice(1))).toBe(1);
    expect(await heldBack()).toEqual([
      { eventSeq: a1.seq, heldBack: false },
      { eventSeq: a2.seq, heldBack: false },
      { eventSeq: a3.seq, heldBack: true },
    ]);
    const [claim] = await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 });
    expect(claim).toMatchObject({ eventId: a2.id, attempts: 1, firstAttemptAt: clock() });
  });

  it('leaves alone, when handing a chain back, an event claimed again since (its lease ran out)', async () => {
    const url = 'http://127.0.0.1:9/handed-back-late';
    const { clock, advance } = manualClock();
    await record('user-a');
    const a2 = await record('user-a');
    const [chain] = (await dispatchEvents(db, url, clock(), 100, { leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 })).chains;
    advance(60_001);
    const [first] = await claimDeliveries(db, { url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 });
    expect(await recordAttempt(db, first!, { outcome: 'delivered', status: 204, at: clock() })).toBe(true);
    const [again] = await claimDeliveries(db, { url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 });
    expect(again).toMatchObject({ eventId: a2.id, attempts: 2 });
    expect(await handBackClaims(db, chain!.slice(1))).toBe(0);
    expect((await deliveryRows()).map((row) => row.attempts)).toEqual([2, 2]);
    expect(await recordAttempt(db, again!, { outcome: 'delivered', status: 204, at: clock() })).toBe(true);
  });

  it('lets another claim take a row created claimed once its lease runs out (the replica that created it died)', async () => {
    const url = 'http://127.0.0.1:9/born-claimed-lost';
    const { clock, advance } = manualClock();
    const event = await record('user-a');
    const [lost] = claimsOf(await dispatchEvents(db, url, clock(), 100, { leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 }));
    expect(lost?.eventId).toBe(event.id);
    expect(await claimDeliveries(db, { url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 })).toEqual([]);
    advance(60_001);
    const [again] = await claimDeliveries(db, { url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 });
    expect(again).toMatchObject({ eventId: event.id, attempts: 2 });
    // The dead replica's result, should it come after all, changes nothing.
    expect(await recordAttempt(db, lost!, { outcome: 'delivered', status: 204, at: clock() })).toBe(false);
    expect(await recordAttempt(db, again!, { outcome: 'delivered', status: 204, at: clock() })).toBe(true);
  });

  it('releases, by a sweep of each lane, a held-back delivery whose earlier one ended unseen', async () => {
    const target = await receiver();
    const { clock } = manualClock();
    const first = await record('u-1');
    const second = await record('u-1');
    await dispatchEvents(db, target.url, clock(), 100);
    // The first one's end without its release (as if that release had been cancelled).
    await db.update(eventDeliveries).set({ status: 'delivered' }).where(eq(eventDeliveries.eventSeq, first.seq));
    expect(await claimDeliveries(db, { url: target.url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 10 })).toEqual([]);
    expect(await releaseHeldBack(db, target.url)).toBe(1);
    await db.update(eventDeliveries).set({ heldBack: true }).where(eq(eventDeliveries.eventSeq, second.seq));

    await worker([target.url], clock).tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([second.id]);
    expect(await heldBack()).toEqual([
      { eventSeq: first.seq, heldBack: false },
      { eventSeq: second.seq, heldBack: false },
    ]);
  });

  it('marks a delivery failed after three days of failures, and then lets the user’s next event go', async () => {
    const target = await receiver();
    target.fallback = 503;
    const { clock, advance } = manualClock();
    const first = await record('u-1');
    const second = await record('u-1');
    const delivery = worker([target.url], clock);
    await delivery.tick();
    advance(3 * 24 * 3_600_000);
    await delivery.tick();
    const rows = await deliveryRows();
    expect(rows[0]).toMatchObject({ status: 'failed', attempts: 2, lastStatus: 503 });
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([first.id, first.id, second.id]);
    expect(rows[1]).toMatchObject({ status: 'pending', attempts: 1 });
  });

  it('keeps retrying for at least three days with growing delays before giving up', async () => {
    const target = await receiver();
    target.fallback = 500;
    const { clock, advance } = manualClock();
    await record('u-1');
    const delivery = worker([target.url], clock);
    const started = clock().getTime();
    let guard = 0;
    for (;;) {
      await delivery.tick();
      const [row] = await deliveryRows();
      if (row!.status !== 'pending') break;
      advance(row!.nextAttemptAt.getTime() - clock().getTime());
      guard += 1;
      expect(guard).toBeLessThan(100);
    }
    expect(clock().getTime() - started).toBeGreaterThanOrEqual(DEFAULT_BACKOFF.giveUpAfterMs);
    expect((await deliveryRows())[0]).toMatchObject({ status: 'failed' });
  });

  it('brings the retrying deliveries forward when the URL answers again after failing every attempt for a while, not after a brief failure', async () => {
    const target = await receiver();
    target.fallback = 503;
    const { clock, advance } = manualClock();
    // Retries ten minutes apart: only a bring-forward delivers them within this test's time.
    const delivery = worker([target.url], clock, { backoff: { ...DEFAULT_BACKOFF, firstDelayMs: 600_000 } });
    const early = [await record('u-1'), await record('u-2'), await record('u-3')];
    await delivery.tick();
    expect(target.requests).toHaveLength(3);

    // A success 10 s into the failures: too brief to be an outage, the retries keep their times.
    advance(10_000);
    target.fallback = 200;
    await record('u-4');
    await delivery.tick();
    expect(target.requests).toHaveLength(4);
    expect((await deliveryRows()).filter((row) => row.status === 'pending')).toHaveLength(3);

    // Every attempt fails for 31 s, then one succeeds: everything retrying goes at once.
    target.fallback = 503;
    const late = [await record('u-5'), await record('u-6'), await record('u-7')];
    await delivery.tick();
    advance(31_000);
    target.fallback = 200;
    const last = await record('u-8');
    await delivery.tick();
    const ids = target.requests.map((r) => r.headers['webhook-id']);
    expect(ids.slice(7, 8)).toEqual([last.id]);
    expect(new Set(ids.slice(8))).toEqual(new Set([...early, ...late].map((event) => event.id)));
    expect((await deliveryRows()).map((row) => row.status)).toEqual(Array(8).fill('delivered'));
  });

  it('brings forward only deliveries waiting to retry: not one in flight, nor one attempted after the URL came back', async () => {
    const url = 'http://127.0.0.1:9/forward';
    const { clock, advance } = manualClock();
    const lease = () => new Date(clock().getTime() + 60_000);
    const retrying = await record('u-1');
    const inFlight = await record('u-2');
    const claims = claimsOf(await dispatchEvents(db, url, clock(), 100, { leaseUntil: lease(), limit: 1 }));
    expect(claims.map((claim) => claim.eventId)).toEqual([retrying.id]);
    advance(1_000);
    await recordAttempt(db, claims[0]!, {
      outcome: 'retry',
      status: 503,
      error: 'HTTP 503',
      at: clock(),
      nextAttemptAt: new Date(clock().getTime() + 3_600_000),
    });
    expect((await claimDeliveries(db, { url, now: clock(), leaseUntil: lease(), limit: 10 })).map((claim) => claim.eventId)).toEqual([inFlight.id]);
    // The URL came back at 1.5 s; u-3 was tried (and failed) after.
    advance(1_000);
    const later = await record('u-3');
    const [laterClaim] = claimsOf(await dispatchEvents(db, url, clock(), 100, { leaseUntil: lease(), limit: 1 }));
    advance(1_000);
    await recordAttempt(db, laterClaim!, {
      outcome: 'retry',
      status: 503,
      error: 'HTTP 503',
      at: clock(),
      nextAttemptAt: new Date(clock().getTime() + 3_600_000),
    });

    const broughtAt = clock();
    expect(await bringRetriesForward(db, { url, now: broughtAt, attemptedBefore: new Date(broughtAt.getTime() - 1_500), leaseMs: 60_000 })).toBe(1);
    // Had u-2 not been leased, it would have been brought forward too (it began before 1.5 s).
    const due = (await deliveryRows()).filter((row) => row.nextAttemptAt.getTime() <= broughtAt.getTime()).map((row) => row.eventSeq);
    expect(due).toEqual([retrying.seq]);
    expect(later.seq).toBeGreaterThan(inFlight.seq);
  });

  it('delivers to each URL on its own: a URL that never answers does not hold another', async () => {
    const slow = await receiver();
    slow.fallback = 'hang';
    const fast = await receiver();
    for (let i = 0; i < 5; i += 1) await record(`user-${i}`);
    const delivery = worker([slow.url, fast.url], () => new Date(), { pollIntervalMs: 20, timeoutMs: 60_000, concurrency: 2 });
    delivery.start();
    await fast.waitFor(5);
    await slow.waitFor(2);
    expect(slow.requests).toHaveLength(2);
    expect(fast.requests).toHaveLength(5);
  });

  it('starts delivering a newly recorded event while running, without a tick', async () => {
    const target = await receiver();
    const delivery = worker([target.url], () => new Date(), { pollIntervalMs: 20 });
    delivery.start();
    const event = await record('u-9');
    await target.waitFor(1);
    expect(target.requests[0]!.headers['webhook-id']).toBe(event.id);
  });

  it('claims only when a row may be due that no claim has seen: events of distinct users, with free slots, take one claim (at start), not one per event', async () => {
    const target = await receiver();
    const counted = countingClaims(db);
    const delivery = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000 }, noopEvents, counted.db);
    delivery.start();
    const count = 30;
    for (let i = 0; i < count; i += 1) {
      await record(`user-${i}`);
      delivery.wake('recorded');
      await target.waitFor(i + 1);
    }
    await delivery.stop();
    expect((await deliveryRows()).map((row) => row.status)).toEqual(Array.from({ length: count }, () => 'delivered'));
    expect(counted.claims()).toBeLessThanOrEqual(2);
  });

  it('still claims, with no poll, a held-back event the moment the one before it is delivered, and a retry whose time has come at the next round', async () => {
    const target = await receiver();
    target.answers.push(500);
    const backoff = { ...DEFAULT_BACKOFF, firstDelayMs: 100 };
    const delivery = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000, backoff });
    // b1 fails (a retry in 50–100 ms); a1 is delivered and releases a2, which goes at once.
    // Recorded before the start, so the first dispatch sees a2 behind a1: a2 dispatched while
    // a1's end is being recorded could miss its release, and be left to the sweep, which
    // runs only at a poll.
    const b1 = await record('user-b');
    const a1 = await record('user-a');
    const a2 = await record('user-a');
    delivery.start();
    await target.waitFor(3);
    const first = target.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(first)).toEqual(new Set([b1.id, a1.id, a2.id]));
    expect(first.indexOf(a1.id)).toBeLessThan(first.indexOf(a2.id));
    // No poll comes: the round a new event brings after b1's time claims b1 again.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const c1 = await record('user-c');
    delivery.wake('recorded');
    await target.waitFor(5);
    expect(new Set(target.requests.slice(3).map((r) => r.headers['webhook-id']))).toEqual(new Set([b1.id, c1.id]));
    await delivery.stop();
    expect((await deliveryRows()).map((row) => row.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
  });

  it('claims the held-back event an end releases in the call that records the end: no claim statement of its own', async () => {
    const url = 'http://127.0.0.1:9/release-claimed';
    const { clock, advance } = manualClock();
    const a1 = await record('user-a');
    const [first] = claimsOf(await dispatchEvents(db, url, clock(), 100, { leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 }));
    expect(first?.eventId).toBe(a1.id);
    // Recorded after a1 was dispatched: held back behind it (in one dispatch, chained to it).
    const a2 = await record('user-a');
    expect(await dispatchEvents(db, url, clock(), 100, { leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 })).toEqual({
      events: 1,
      created: 1,
      chains: [],
    });
    advance(1_000);
    const now = clock();
    const leaseUntil = new Date(now.getTime() + 60_000);
    const { recorded, claims } = await recordAttemptResults(db, [{ claim: first!, result: { outcome: 'delivered', status: 204, at: now } }], {
      now,
      leaseUntil,
    });
    expect(recorded).toEqual([true]);
    expect(claims).toEqual([
      { eventSeq: a2.seq, url, eventId: a2.id, body: a2.body, attempts: 1, claimedAt: now, firstAttemptAt: now, recordedAt: a2.recordedAt },
    ]);
    // Leased: no claim takes it meanwhile, and its result counts.
    expect(await claimDeliveries(db, { url, now, leaseUntil, limit: 5 })).toEqual([]);
    expect(await recordAttempt(db, claims[0]!, { outcome: 'delivered', status: 204, at: now })).toBe(true);
  });

  it("delivers a user's events of one dispatch one after the other, chained, with no claim statement but the one at start", async () => {
    const target = await receiver();
    const counted = countingClaims(db);
    const delivery = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000 }, noopEvents, counted.db);
    // All recorded before the start: the first dispatch chains b2 and b3 behind b1.
    const b1 = await record('user-b');
    const b2 = await record('user-b');
    const b3 = await record('user-b');
    delivery.start();
    await target.waitFor(3);
    await delivery.stop();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([b1.id, b2.id, b3.id]);
    expect(counted.claims()).toBe(1);
    expect((await deliveryRows()).map((row) => ({ status: row.status, attempts: row.attempts }))).toEqual(
      Array.from({ length: 3 }, () => ({ status: 'delivered', attempts: 1 })),
    );
  });

  it("sends a chain's next event only once the one before it is delivered, and after a failure the rest waits for its retry", async () => {
    const target = await receiver();
    target.answers.push(204, 500);
    const { clock, advance } = manualClock();
    const a1 = await record('user-a');
    const a2 = await record('user-a');
    const a3 = await record('user-a');
    const delivery = worker([target.url], clock);
    await delivery.tick();
    // a2 failed: a3 was not sent, and went back held back with no attempt counted.
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id, a2.id]);
    expect((await deliveryRows()).map((row) => ({ status: row.status, attempts: row.attempts }))).toEqual([
      { status: 'delivered', attempts: 1 },
      { status: 'pending', attempts: 1 },
      { status: 'pending', attempts: 0 },
    ]);
    expect((await heldBack()).map((row) => row.heldBack)).toEqual([false, false, true]);

    advance(10_000);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id, a2.id, a2.id, a3.id]);
    expect((await deliveryRows()).map((row) => ({ status: row.status, attempts: row.attempts }))).toEqual([
      { status: 'delivered', attempts: 1 },
      { status: 'delivered', attempts: 2 },
      { status: 'delivered', attempts: 1 },
    ]);
  });

  it("hands back, when stopped, a chain's events it has not sent: the next start delivers them in order", async () => {
    const target = await receiver();
    let answer = () => {};
    target.answers.push({ status: 204, release: new Promise<void>((resolve) => (answer = resolve)) });
    const a1 = await record('user-a');
    const a2 = await record('user-a');
    const a3 = await record('user-a');
    const first = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000 });
    first.start();
    await target.waitFor(1);
    const stopped = first.stop();
    answer();
    await stopped;
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id]);
    // a2 is due at once (nothing before it is pending), a3 waits behind it: nothing is leased.
    expect((await deliveryRows()).map((row) => ({ status: row.status, attempts: row.attempts }))).toEqual([
      { status: 'delivered', attempts: 1 },
      { status: 'pending', attempts: 0 },
      { status: 'pending', attempts: 0 },
    ]);
    expect((await heldBack()).map((row) => row.heldBack)).toEqual([false, false, true]);

    const second = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000 });
    second.start();
    await target.waitFor(3);
    await second.stop();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id, a2.id, a3.id]);
  });

  it("hands back the rest of a chain whose next event's lease could run out in flight; a claim sends it, in order", async () => {
    const target = await receiver();
    const { clock, advance } = manualClock();
    let answer = () => {};
    target.answers.push({ status: 204, release: new Promise<void>((resolve) => (answer = resolve)) });
    const a1 = await record('user-a');
    const a2 = await record('user-a');
    const counted = countingClaims(db);
    const delivery = worker([target.url], clock, { pollIntervalMs: 3_600_000, leaseMs: 60_000, timeoutMs: 10_000 }, noopEvents, counted.db);
    const ticked = delivery.tick();
    await target.waitFor(1);
    const claimsBefore = counted.claims();
    // a1's answer comes 55 s after the dispatch: a2, 10 s of timeout, could outlast its lease.
    advance(55_000);
    answer();
    await ticked;
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([a1.id, a2.id]);
    // a2 went out by a claim of its own, on a fresh lease, in the round a1's end started.
    expect(counted.claims()).toBeGreaterThan(claimsBefore);
    expect((await deliveryRows()).map((row) => ({ status: row.status, attempts: row.attempts }))).toEqual([
      { status: 'delivered', attempts: 1 },
      { status: 'delivered', attempts: 1 },
    ]);
  });

  it('claims a redelivered event at once when woken for it, with no poll', async () => {
    const target = await receiver();
    const delivery = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000 });
    delivery.start();
    const event = await record('user-a');
    delivery.wake('recorded');
    await target.waitFor(1);
    await redeliverEvent(db, { eventId: event.id, urls: [target.url], now: new Date() });
    delivery.wake('redelivered');
    await target.waitFor(2);
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
  });

  it.skipIf(!testDatabaseUrl)(
    'claims a redelivered event that a claim skipped while the result it outdated held the lock, once that result is dropped (PostgreSQL only: a second connection holds the lock)',
    async () => {
      const target = await receiver();
      let answer = () => {};
      target.answers.push({ status: 204, release: new Promise<void>((resolve) => (answer = resolve)) });
      const counted = countingClaims(db);
      const delivery = worker([target.url], () => new Date(), { pollIntervalMs: 3_600_000 }, noopEvents, counted.db);
      delivery.start();
      const event = await record('user-a');
      delivery.wake('recorded');
      await target.waitFor(1);
      await redeliverEvent(db, { eventId: event.id, urls: [target.url], now: new Date() });
      await withClient(database.url!, async (holder) => {
        // Stands in for the first attempt's result statement, which locks the row it finds changed.
        await holder.query('begin');
        await holder.query(`select 1 from ${getTableName(eventDeliveries)} where event_seq = $1 for update`, [event.seq]);
        const before = counted.claims();
        delivery.wake('redelivered');
        while (counted.claims() === before) await new Promise((resolve) => setTimeout(resolve, 2));
        // The claim skipped the locked row. The lock goes first (in the service it goes with
        // the result's own transaction, before the result is known to be dropped): answered
        // before the commit, the result could find the row redelivered without waiting for
        // the lock (its WHERE fails in its snapshot, so it locks nothing), be dropped, and have
        // its claim skip the row still locked here, leaving it to the hourly poll.
        await holder.query('commit');
      });
      answer();
      await target.waitFor(2);
      expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    },
  );

  it.skipIf(!testDatabaseUrl)(
    'holds nothing back behind a delivery whose end commits while the dispatch reads it: the dispatch waits for the end (PostgreSQL only: two transactions at once)',
    async () => {
      const url = 'http://127.0.0.1:9/end-first';
      const { clock, lease, first, second, delivered } = await inFlightAndNext(url);
      const ending = heldOpen(async (tx) => {
        expect(await recordAttemptResults(tx, delivered, { now: clock(), ...lease })).toEqual({ recorded: [true], claims: [] });
      });
      await ending.ran;
      // The dispatch reads the first row pending (its end is not committed): it waits for it.
      const dispatching = dispatchEvents(db, url, clock(), 100, lease);
      await untilWaitingForLocks(db, { unless: dispatching });
      ending.commit();
      await ending.done;
      expect(claimsOf(await dispatching).map((claim) => claim.eventId)).toEqual([second.id]);
      expect(await heldBack()).toEqual([
        { eventSeq: first.eventSeq, heldBack: false },
        { eventSeq: second.seq, heldBack: false },
      ]);
    },
  );

  it.skipIf(!testDatabaseUrl)(
    'releases, with the end that waited for it, the row a dispatch held back while that end was on its way (PostgreSQL only: two transactions at once)',
    async () => {
      const url = 'http://127.0.0.1:9/dispatch-first';
      const { clock, lease, second, delivered } = await inFlightAndNext(url);
      const dispatching = heldOpen(async (tx) => {
        expect(await dispatchEvents(tx, url, clock(), 100, lease)).toEqual({ events: 1, created: 1, chains: [] });
      });
      await dispatching.ran;
      // The end's release would not see the held-back row before the dispatch commits: it waits.
      const ending = recordAttemptResults(db, delivered, { now: clock(), ...lease });
      await untilWaitingForLocks(db, { unless: ending });
      dispatching.commit();
      await dispatching.done;
      const { recorded, claims } = await ending;
      expect(recorded).toEqual([true]);
      expect(claims.map((claim) => claim.eventId)).toEqual([second.id]);
    },
  );

  it.skipIf(!testDatabaseUrl)(
    "creates nothing when another replica's dispatch moved the position after its snapshot, and holds the user's next event back when run again (PostgreSQL only: two transactions at once)",
    async () => {
      const url = 'http://127.0.0.1:9/two-dispatches';
      const { clock } = manualClock();
      const lease = { leaseUntil: new Date(clock().getTime() + 60_000), limit: 5 };
      await db.insert(serviceState).values({ key: dispatchKey(url), value: { seq: 0 } });
      const first = await record('user-a');
      const second = await record('user-a');
      const other = heldOpen(async (tx) => {
        expect(claimsOf(await dispatchEvents(tx, url, clock(), 1, lease)).map((claim) => claim.eventId)).toEqual([first.id]);
      });
      await other.ran;
      // The statement skips a position another dispatch has locked; waiting for it instead, it
      // takes its snapshot before that dispatch commits and its lock after: the window two
      // replicas meet in by chance, held open here.
      const statement = dispatchStatement(url, clock(), 100, lease);
      const waitingText = statement.text.replace('for update skip locked', 'for update');
      expect(waitingText).not.toBe(statement.text);
      const dispatching = db.driver.query<{ events: number; created: number; stale: boolean }>(waitingText, statement.params);
      await untilWaitingForLocks(db, { unless: dispatching });
      other.commit();
      await other.done;
      expect(await dispatching).toEqual([expect.objectContaining({ events: 0, created: 0, stale: true })]);
      expect(await dispatchEvents(db, url, clock(), 100, lease)).toEqual({ events: 1, created: 1, chains: [] });
      expect(await heldBack()).toEqual([
        { eventSeq: first.seq, heldBack: false },
        { eventSeq: second.seq, heldBack: true },
      ]);
    },
  );

  it('lets two workers on one database deliver each event once, in per-user order', async () => {
    const target = await receiver();
    const second = database.url === null ? database.handle : await openDatabase({ url: database.url, dataDir: 'memory://' });
    try {
      const recorded: RecordedEvent[] = [];
      for (let i = 0; i < 60; i += 1) recorded.push(await record(`user-${i % 7}`));
      const options = { pollIntervalMs: 5, concurrency: 4 };
      const one = worker([target.url], () => new Date(), options);
      const two = worker([target.url], () => new Date(), options, noopEvents, second.db);
      one.start();
      two.start();
      await target.waitFor(60);
      await one.stop();
      await two.stop();
      const ids = target.requests.map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(60);
      expect(new Set(ids).size).toBe(60);
      for (let user = 0; user < 7; user += 1) {
        const expected = recorded.filter((e) => e.userId === `user-${user}`).map((e) => e.id);
        expect(ids.filter((id) => expected.includes(id as string))).toEqual(expected);
      }
    } finally {
      if (second !== database.handle) await second.close();
    }
  });

  it('tries again, with the same id, a delivery claimed by a replica that died, once its lease has run out', async () => {
    const target = await receiver();
    const { clock, advance } = manualClock();
    const event = await record('u-1');
    // The dead replica: it claimed the delivery and never recorded a result.
    await dispatchEvents(db, target.url, clock(), 100);
    const [lost] = await claimDeliveries(db, { url: target.url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 10 });
    expect(lost?.eventId).toBe(event.id);

    const delivery = worker([target.url], clock, { leaseMs: 60_000 });
    await delivery.tick();
    expect(target.requests).toHaveLength(0);
    advance(60_000);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id]);
    expect(await deliveryRows()).toMatchObject([{ status: 'delivered', attempts: 2 }]);
    // The dead replica's result, should it come after all, changes nothing.
    expect(await recordAttempt(db, lost!, { outcome: 'failed', status: 500, error: 'HTTP 500', at: clock() })).toBe(false);
    expect(await deliveryRows()).toMatchObject([{ status: 'delivered' }]);
  });

  it('records the results of attempts that end together in one call, dropping only the one claimed again since', async () => {
    const url = 'http://127.0.0.1:9/together';
    const { clock, advance } = manualClock();
    for (const user of ['u-1', 'u-2', 'u-3']) await record(user);
    expect(await dispatchEvents(db, url, clock(), 100)).toEqual({ events: 3, created: 3, chains: [] });
    const claims = await claimDeliveries(db, { url, now: clock(), leaseUntil: new Date(clock().getTime() + 60_000), limit: 10 });
    expect(claims).toHaveLength(3);
    // An operator redelivers the second meanwhile: its first claim's result must not count.
    await redeliverEvent(db, { eventId: claims[1]!.eventId, urls: [url], now: clock() });
    advance(1_000);
    const at = clock();
    const recorded = await recordAttempts(db, [
      { claim: claims[0]!, result: { outcome: 'delivered', status: 204, at } },
      { claim: claims[1]!, result: { outcome: 'delivered', status: 204, at } },
      { claim: claims[2]!, result: { outcome: 'retry', status: 500, error: 'HTTP 500', at, nextAttemptAt: new Date(at.getTime() + 10_000) } },
    ]);
    expect(recorded).toEqual([true, false, true]);
    expect((await deliveryRows()).map((row) => ({ status: row.status, attempts: row.attempts, lastStatus: row.lastStatus, lastError: row.lastError }))).toEqual(
      [
        { status: 'delivered', attempts: 1, lastStatus: 204, lastError: null },
        { status: 'pending', attempts: 0, lastStatus: null, lastError: null },
        { status: 'pending', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' },
      ],
    );
    // Nothing new: a second dispatch passes no event and creates no row.
    expect(await dispatchEvents(db, url, clock(), 100)).toEqual({ events: 0, created: 0, chains: [] });
  });

  it("finds the events after a URL's position by the key's range, not by walking every event kept before it", async () => {
    const url = 'http://127.0.0.1:9/range';
    const { clock } = manualClock();
    await db.execute(sql`insert into ${eventsTable} (id, type, user_id, body, recorded_at)
      select 'evt_plan_' || g, 'consumption.requested', 'u-' || (g % 50), '{}', now() from generate_series(1, 3000) as g`);
    await record('u-last');
    const [{ last }] = (await db.select({ last: sql<number>`max(${eventsTable.seq})::float8` }).from(eventsTable)) as [{ last: number }];
    await db.insert(serviceState).values({ key: `events.dispatch:${url}`, value: { seq: last - 1 } });
    // The earlier events were delivered: rows the held-back check must not read through.
    await db.execute(sql`insert into ${eventDeliveries} (event_seq, url, user_id, status, attempts, delivered_at)
      select seq, ${url}, user_id, 'delivered', 1, now() from ${eventsTable} where seq < ${last}`);
    await db.execute(sql`analyze ${eventsTable}`);
    await db.execute(sql`analyze ${eventDeliveries}`);

    const statement = dispatchStatement(url, clock(), 100, { leaseUntil: new Date(clock().getTime() + 60_000), limit: 10 });
    const [planRow] = await db.driver.query<Record<string, unknown>>(`explain (format json) ${statement.text}`, statement.params);
    const planJson = Object.values(planRow!)[0];
    const plan = (typeof planJson === 'string' ? JSON.parse(planJson) : planJson) as Array<{ Plan: PlanNode }>;
    const eventScans = planNodes(plan[0]!.Plan).filter((node) => node['Relation Name'] === 'events');
    expect(eventScans).toHaveLength(1);
    // A range on the key: only the events after the position are read.
    expect(eventScans[0]!['Index Cond']).toMatch(/seq > /);
    expect(planNodes(plan[0]!.Plan).filter((node) => node['Join Filter'] !== undefined)).toEqual([]);
    // The held-back check looks up each event's user in the user-order index, rather than
    // reading (and hashing) every pending entry of the status index, then locks the rows it
    // found by their key (not by the URL alone, through the user-order index).
    const deliveryScans = planNodes(plan[0]!.Plan).filter((node) => node['Relation Name'] === 'event_deliveries' && node['Node Type'] !== 'ModifyTable');
    expect(
      deliveryScans.map((node) => ({
        index: node['Index Name'],
        byUser: /user_id = /.test(node['Index Cond'] ?? ''),
        byKey: /event_seq = /.test(node['Index Cond'] ?? ''),
      })),
    ).toEqual([
      { index: 'event_deliveries_user_order_idx', byUser: true, byKey: false },
      { index: 'event_deliveries_event_seq_url_pk', byUser: false, byKey: true },
    ]);
    // And the statement still does its work: the one event after the position.
    expect(await dispatchEvents(db, url, clock(), 100)).toEqual({ events: 1, created: 1, chains: [] });
  });

  it.skipIf(!testDatabaseUrl)(
    'records a result by its key even with the plan its connection made on an empty table (PostgreSQL only: auto_explain)',
    async () => {
      const url = 'http://127.0.0.1:9/plan-on-empty';
      const now = new Date();
      const nothing = { eventSeq: 1, url, eventId: 'evt_none', body: '{}', attempts: 1, claimedAt: now, firstAttemptAt: now, recordedAt: now };
      const notices = await withClient(database.url!, async (client) => {
        const { records } = recordingOn(client);
        // PL/pgSQL plans a statement for keeps at its sixth run, on the statistics of then.
        for (let i = 0; i < 8; i += 1) await records([nothing]);
        const seen: string[] = [];
        client.on('notice', (notice) => seen.push(notice.message ?? ''));
        await client.query("load 'auto_explain'");
        await client.query('set auto_explain.log_min_duration = 0');
        await client.query('set auto_explain.log_nested_statements = on');
        await client.query('set auto_explain.log_level = notice');
        await records([nothing]);
        return seen;
      });
      const end = notices.find((notice) => notice.includes('UPDATE event_deliveries d'));
      expect(end).toMatch(/Index Scan using event_deliveries_event_seq_url_pk/);
      expect(end).toMatch(/Index Cond: \(\(event_seq = .*\) AND \(url = .*\)\)/);
    },
  );

  it('marks failed, once started, the pending deliveries of a URL no longer configured (they would keep their events from pruning)', async () => {
    const kept = await receiver();
    const { clock } = manualClock();
    await record('u-1');
    await dispatchEvents(db, 'http://127.0.0.1:9/removed', clock(), 100);
    const delivery = worker([kept.url], clock);
    delivery.start();
    await kept.waitFor(1);
    await delivery.stop();
    const rows = await deliveryRows();
    expect(rows.find((row) => row.url === 'http://127.0.0.1:9/removed')).toMatchObject({
      status: 'failed',
      lastError: 'the URL is no longer in EVENTS_WEBHOOK_URLS',
    });
    expect(rows.find((row) => row.url === kept.url)).toMatchObject({ status: 'delivered' });
  });

  it('redelivers a delivered event with the same id, and knows no unknown id', async () => {
    const target = await receiver();
    const { clock } = manualClock();
    const event = await record('u-1');
    const delivery = worker([target.url], clock);
    await delivery.tick();
    expect(await redeliverEvent(db, { eventId: event.id, urls: [target.url], now: clock() })).toBe(1);
    await delivery.tick();
    expect(target.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(await deliveryRows()).toMatchObject([{ status: 'delivered', attempts: 1 }]);
    expect(await redeliverEvent(db, { eventId: 'evt_unknown', urls: [target.url], now: clock() })).toBeNull();
  });

  it('lists deliveries by status, newest first, page by page', async () => {
    const target = await receiver();
    const { clock } = manualClock();
    const events = [await record('u-1'), await record('u-2'), await record('u-3')];
    await worker([target.url], clock).tick();
    const first = await listDeliveries(db, { status: 'delivered', cursor: null, limit: 2 });
    expect(first.map((row) => row.eventId)).toEqual([events[2]!.id, events[1]!.id]);
    const next = await listDeliveries(db, { status: 'delivered', cursor: { eventSeq: first[1]!.eventSeq, url: first[1]!.url }, limit: 2 });
    expect(next.map((row) => row.eventId)).toEqual([events[0]!.id]);
    expect(await listDeliveries(db, { status: 'failed', cursor: null, limit: 10 })).toEqual([]);
  });

  it('reports each attempt with its outcome and URL without credentials', async () => {
    const target = await receiver();
    target.answers.push(500);
    const { clock, advance } = manualClock();
    const reported: Array<{ url: string; outcome: string }> = [];
    const events: ServiceEvents = { ...noopEvents, eventDelivery: ({ url, outcome }) => reported.push({ url, outcome }) };
    await record('u-1');
    const withCredentials = `${target.url.replace('http://', 'http://user:pw@')}?token=secret`;
    const delivery = worker([withCredentials], clock, {}, events);
    await delivery.tick();
    advance(10_000);
    await delivery.tick();
    const label = target.url;
    expect(reported).toEqual([
      { url: label, outcome: 'retry' },
      { url: label, outcome: 'delivered' },
    ]);
  });
});

interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Join Filter'?: string;
  Plans?: PlanNode[];
}

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}
