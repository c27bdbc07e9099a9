import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { consumptionFacts } from '../../src/db/schema.js';
import { ADMIN, useAdminFixture } from '../admin/fixture.js';
import { authHeader, TEST_APP_APPLE_ID, TEST_BUNDLE_ID, type TestApp } from '../helpers/app.js';
import { HOUR } from '../helpers/constants.js';
import { signNotification } from '../helpers/pki.js';

const FACTS = {
  customerConsented: true,
  sampleContentProvided: false,
  deliveryStatus: 'DELIVERED',
  consumptionPercentage: 25_000,
  refundPreference: 'DECLINE',
};
const sendPath = (transactionId: string) => `/inApps/v2/transactions/consumption/${transactionId}`;
const newTransactionId = () => `30000000${Math.floor(Math.random() * 1e8)}`;

/** A clock the test moves. */
function testClock() {
  let now = Date.now();
  const clock = () => new Date(now);
  return Object.assign(clock, { advance: (ms: number) => (now += ms) });
}

describe('consumption answers to Apple', () => {
  const fixture = useAdminFixture();

  const putFacts = (app: TestApp, transactionId: string, body: unknown) =>
    app.app.inject({ method: 'PUT', url: `/transactions/${transactionId}/consumption`, headers: authHeader(), payload: body as object });

  const requestConsumption = async (app: TestApp, transactionId: string, signedDate = Date.now() - 60_000) => {
    const signedPayload = signNotification(fixture.pki, {
      notificationType: 'CONSUMPTION_REQUEST',
      notificationUUID: randomUUID(),
      bundleId: TEST_BUNDLE_ID,
      appAppleId: TEST_APP_APPLE_ID,
      environment: 'Production',
      signedDate,
      transaction: {
        transactionId,
        originalTransactionId: transactionId,
        productId: 'com.example.coins',
        type: 'Consumable',
        expiresDate: undefined,
        signedDate,
      },
      renewalInfo: { originalTransactionId: transactionId },
    });
    const response = await app.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } });
    expect(response.statusCode).toBe(200);
  };

  const requestsOf = async (app: TestApp, transactionId: string) => {
    const response = await app.app.inject({ method: 'GET', url: `/admin/consumption?transactionId=${transactionId}`, headers: ADMIN });
    expect(response.statusCode).toBe(200);
    return response.json().requests as Array<Record<string, unknown>>;
  };

  const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 15_000, interval: 50 });
  const sentTo = (transactionId: string) => fixture.double.requests.filter((r) => r.path === sendPath(transactionId));

  it('stores the facts and answers them with the requests so far', async () => {
    const app = await fixture.app();
    const transactionId = newTransactionId();
    const response = await putFacts(app, transactionId, FACTS);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ transactionId, facts: { ...FACTS }, requests: [] });

    const replaced = await putFacts(app, transactionId, { customerConsented: false, sampleContentProvided: true, deliveryStatus: 'UNDELIVERED_OTHER' });
    expect(replaced.json().facts).toMatchObject({ customerConsented: false, consumptionPercentage: null, refundPreference: null });
    expect(await app.deps.database.db.select().from(consumptionFacts)).toHaveLength(1);
  });

  it.each([
    [{ ...FACTS, customerConsented: 'yes' }, 'customerConsented'],
    [{ ...FACTS, sampleContentProvided: undefined }, 'sampleContentProvided'],
    [{ ...FACTS, deliveryStatus: 'LOST' }, 'deliveryStatus'],
    [{ ...FACTS, deliveryStatus: 0 }, 'deliveryStatus'],
    [{ ...FACTS, consumptionPercentage: 100_001 }, 'consumptionPercentage'],
    [{ ...FACTS, consumptionPercentage: -1 }, 'consumptionPercentage'],
    [{ ...FACTS, consumptionPercentage: 12.5 }, 'consumptionPercentage'],
    [{ ...FACTS, refundPreference: 'GRANT_HALF' }, 'refundPreference'],
    // Apple's v1 fields are not v2's: refused (Fastify names no unknown property, only that there is one).
    [{ ...FACTS, playTime: 3 }, 'additional properties'],
  ])('refuses %j with 400 naming %s and stores nothing', async (body, field) => {
    const app = await fixture.app();
    const response = await putFacts(app, newTransactionId(), body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('VALIDATION_ERROR');
    expect(response.json().error.message).toContain(field);
    expect(await app.deps.database.db.select().from(consumptionFacts)).toHaveLength(0);
  });

  it('answers 401 without an app key and 403 for the admin listing with an app key', async () => {
    const app = await fixture.app();
    const anonymous = await app.app.inject({ method: 'PUT', url: '/transactions/1/consumption', payload: FACTS });
    const listing = await app.app.inject({ method: 'GET', url: '/admin/consumption', headers: authHeader() });
    expect([anonymous.statusCode, listing.statusCode]).toEqual([401, 403]);
  });

  it("records Apple's request as pending without facts, and answers Apple when the facts arrive", async () => {
    const app = await fixture.app();
    const transactionId = newTransactionId();
    fixture.double.reply('PUT', sendPath(transactionId), { status: 202 });

    await requestConsumption(app, transactionId);
    await app.app.consumptionSender.runOnce();
    const [waiting] = await requestsOf(app, transactionId);
    expect(waiting).toMatchObject({ transactionId, status: 'pending', reason: null, attempts: 0, facts: null, environment: 'Production' });
    expect(sentTo(transactionId)).toHaveLength(0);

    await putFacts(app, transactionId, FACTS);

    await eventually(async () => expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'sent', attempts: 1 }));
    expect(sentTo(transactionId).map((r) => [r.method, r.body])).toEqual([['PUT', FACTS]]);
    const [sent] = await requestsOf(app, transactionId);
    expect(Date.parse(sent!.deadline as string) - Date.parse(sent!.requestedAt as string)).toBe(12 * HOUR);
    expect(sent!.sentAt).not.toBeNull();
  });

  it('answers Apple as soon as its request arrives when the facts are already there', async () => {
    const app = await fixture.app();
    const transactionId = newTransactionId();
    fixture.double.reply('PUT', sendPath(transactionId), { status: 202 });
    const { consumptionPercentage: _omitted, ...withoutPercentage } = FACTS;
    await putFacts(app, transactionId, withoutPercentage);

    await requestConsumption(app, transactionId);

    await eventually(async () => expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'sent' }));
    // Optional fields not given are not sent.
    expect(sentTo(transactionId).map((r) => r.body)).toEqual([withoutPercentage]);
  });

  it('sends nothing without the customer’s consent and records why', async () => {
    const app = await fixture.app();
    const transactionId = newTransactionId();
    await putFacts(app, transactionId, { ...FACTS, customerConsented: false });
    await requestConsumption(app, transactionId);

    await eventually(async () =>
      expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'not_sent', reason: 'customer_did_not_consent', attempts: 0 }),
    );
    expect(sentTo(transactionId)).toHaveLength(0);
  });

  it("retries on Apple's retryable errors, recording the attempts and the last error, until Apple accepts", async () => {
    const clock = testClock();
    const app = await fixture.app({ clock });
    const transactionId = newTransactionId();
    fixture.double.reply(
      'PUT',
      sendPath(transactionId),
      { status: 500, body: { errorCode: 5000001, errorMessage: 'retryable' } },
      { status: 429, body: { errorCode: 4290000, errorMessage: 'rate limited' } },
      { status: 202 },
    );
    await putFacts(app, transactionId, FACTS);
    await requestConsumption(app, transactionId);
    await app.app.consumptionSender.runOnce();

    await eventually(async () => expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'pending', attempts: 1 }));
    expect((await requestsOf(app, transactionId))[0]!.lastError).toContain('HTTP 500');

    // Not due again before its backoff.
    await app.app.consumptionSender.runOnce();
    expect(sentTo(transactionId)).toHaveLength(1);

    clock.advance(5 * 60_000);
    await app.app.consumptionSender.runOnce();
    expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'pending', attempts: 2 });
    clock.advance(5 * 60_000);
    await app.app.consumptionSender.runOnce();
    expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'sent', attempts: 3 });
    expect(sentTo(transactionId)).toHaveLength(3);
  });

  it('records a refusal by Apple as failed, without retrying', async () => {
    const app = await fixture.app();
    const transactionId = newTransactionId();
    fixture.double.reply('PUT', sendPath(transactionId), { status: 400, body: { errorCode: 4000034, errorMessage: 'invalid consumption status' } });
    await putFacts(app, transactionId, FACTS);
    await requestConsumption(app, transactionId);

    await eventually(async () => expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'failed', reason: 'apple_refused', attempts: 1 }));
    expect((await requestsOf(app, transactionId))[0]!.lastError).toContain('4000034');
    await app.app.consumptionSender.runOnce();
    expect(sentTo(transactionId)).toHaveLength(1);
  });

  it('sends nothing past the 12-hour deadline and records the request as expired', async () => {
    const clock = testClock();
    const app = await fixture.app({ clock });
    const transactionId = newTransactionId();
    await requestConsumption(app, transactionId);
    await app.app.consumptionSender.runOnce();

    clock.advance(12 * HOUR);
    await putFacts(app, transactionId, FACTS);
    await app.app.consumptionSender.runOnce();

    expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'not_sent', reason: 'expired', attempts: 0 });
    expect(sentTo(transactionId)).toHaveLength(0);
  });

  it('records the request as not sent when the service has no App Store Server API credentials', async () => {
    const app = await fixture.app({ api: null });
    const transactionId = newTransactionId();
    await putFacts(app, transactionId, FACTS);
    await requestConsumption(app, transactionId);
    await eventually(async () => expect((await requestsOf(app, transactionId))[0]).toMatchObject({ status: 'not_sent', reason: 'api_not_configured' }));
  });

  it('lists requests by status, newest first, with their facts', async () => {
    const app = await fixture.app();
    const [sent, refused, waiting] = [newTransactionId(), newTransactionId(), newTransactionId()];
    fixture.double.reply('PUT', sendPath(sent), { status: 202 });
    await putFacts(app, sent, FACTS);
    await putFacts(app, refused, { ...FACTS, customerConsented: false });
    await requestConsumption(app, sent, Date.now() - 3 * 60_000);
    await requestConsumption(app, refused, Date.now() - 2 * 60_000);
    await requestConsumption(app, waiting, Date.now() - 60_000);
    await app.app.consumptionSender.runOnce();

    const list = async (query: string) =>
      (await app.app.inject({ method: 'GET', url: `/admin/consumption${query}`, headers: ADMIN }))
        .json()
        .requests.map((r: { transactionId: string }) => r.transactionId);
    expect(await list('')).toEqual([waiting, refused, sent]);
    expect(await list('?status=sent')).toEqual([sent]);
    expect(await list('?status=not_sent')).toEqual([refused]);
    expect(await list('?status=pending')).toEqual([waiting]);
    expect(await list('?status=failed')).toEqual([]);
    const all = (await app.app.inject({ method: 'GET', url: '/admin/consumption?status=sent', headers: ADMIN })).json().requests;
    expect(all[0].facts).toMatchObject(FACTS);
    const bad = await app.app.inject({ method: 'GET', url: '/admin/consumption?status=done', headers: ADMIN });
    expect([bad.statusCode, bad.json().error.message]).toEqual([400, expect.stringContaining('status')]);
  });
});
