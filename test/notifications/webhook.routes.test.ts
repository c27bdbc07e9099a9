import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { notifications, transactions } from '../../src/db/schema.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { createTestPki } from '../helpers/pki.js';
import { countRows } from '../helpers/rows.js';
import { DAY, deliver, post, scenario, storedPurchase, T0 } from './support.js';

describe(`POST /webhooks/apple/v2 (${backendName})`, () => {
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const t = useTestApp({ overrides: { logger: pino({ level: 'info' }, sink) } });

  const db = () => t.deps.database.db;

  it('answers processed for a new notification and duplicate for its redelivery, applying it once', async () => {
    const s = scenario(t.pki);
    const signed = s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 });

    const first = await post(t.app, signed);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ status: 'processed' });
    const afterFirst = await countRows(db());

    const second = await post(t.app, signed);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ status: 'duplicate' });
    expect(await countRows(db())).toEqual(afterFirst);

    const stored = await storedPurchase(db(), s.originalTransactionId);
    expect(stored.transactions.map((x) => x.transactionId)).toEqual([s.originalTransactionId]);
    expect(stored.subscription).toMatchObject({ appleStatus: 1, autoRenewStatus: 1 });
  });

  it('keeps the raw signedPayload and what it was in the notifications table', async () => {
    const s = scenario(t.pki);
    const uuid = randomUUID();
    const signed = s.sign({ type: 'DID_RENEW', uuid, signedDate: T0 + 30 * DAY, period: 1, status: 1 });
    await deliver(t.app, signed);
    const [row] = await db().select().from(notifications).where(eq(notifications.id, uuid));
    expect(row).toMatchObject({
      version: 'v2',
      notificationType: 'DID_RENEW',
      subtype: null,
      environment: 'Sandbox',
      originalTransactionId: s.originalTransactionId,
      transactionId: s.transactionId(1),
      signedDate: new Date(T0 + 30 * DAY),
      payload: signed,
      source: 'webhook',
      outcome: 'applied',
    });
  });

  it('logs one line per notification with its facts and never the raw JWS', async () => {
    const s = scenario(t.pki);
    const uuid = randomUUID();
    const signed = s.sign({ type: 'SUBSCRIBED', subtype: 'RESUBSCRIBE', uuid, signedDate: T0, period: 0 });
    await deliver(t.app, signed);
    const lines = logLines.filter((line) => line.notificationUUID === uuid);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      notificationType: 'SUBSCRIBED',
      subtype: 'RESUBSCRIBE',
      originalTransactionId: s.originalTransactionId,
      outcome: 'applied',
    });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(logLines.some((line) => JSON.stringify(line).includes(signed.slice(0, 60)))).toBe(false);
  });

  describe('rejects and writes nothing of', () => {
    const cases: Array<[string, () => Promise<{ body: unknown; headers?: Record<string, string>; code: string }>]> = [
      [
        'a payload with a bad signature',
        async () => {
          const signed = scenario(t.pki).sign({ type: 'DID_RENEW', signedDate: T0, period: 0 });
          const [h, p, sig] = signed.split('.');
          const flipped = `${sig![0] === 'A' ? 'B' : 'A'}${sig!.slice(1)}`;
          return { body: { signedPayload: `${h}.${p}.${flipped}` }, code: 'INVALID_SIGNATURE' };
        },
      ],
      [
        'a payload signed by a chain that is not rooted in a trusted root',
        async () => {
          const stranger = await createTestPki({ label: 'stranger' });
          return { body: { signedPayload: scenario(stranger).sign({ type: 'DID_RENEW', signedDate: T0, period: 0 }) }, code: 'UNTRUSTED_ROOT' };
        },
      ],
      [
        'a notification for another bundle id',
        async () => ({
          body: { signedPayload: scenario(t.pki).sign({ type: 'DID_RENEW', signedDate: T0, period: 0, bundleId: 'com.other.app' }) },
          code: 'WRONG_BUNDLE_ID',
        }),
      ],
      [
        'a notification from an environment that is not accepted',
        async () => ({
          body: {
            signedPayload: scenario(t.pki).sign({
              type: 'DID_RENEW',
              signedDate: T0,
              period: 0,
              environment: 'Xcode',
              transaction: { environment: 'Xcode' },
            }),
          },
          code: 'WRONG_ENVIRONMENT',
        }),
      ],
      ['a body that is not a JWS', async () => ({ body: { signedPayload: 'not.a.jws' }, code: 'MALFORMED_JWS' })],
      ['a body without signedPayload', async () => ({ body: { somethingElse: 'x' }, code: 'VALIDATION_ERROR' })],
      ['an empty JSON body', async () => ({ body: '', headers: { 'content-type': 'application/json' }, code: 'MALFORMED_JSON' })],
      ['a body that is not JSON', async () => ({ body: '{"signedPayload":', headers: { 'content-type': 'application/json' }, code: 'MALFORMED_JSON' })],
      [
        'a body of another content type',
        async () => ({ body: 'signedPayload=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' }, code: 'UNSUPPORTED_MEDIA_TYPE' }),
      ],
      ['a plain-text body', async () => ({ body: 'eyJhbGciOi', headers: { 'content-type': 'text/plain' }, code: 'VALIDATION_ERROR' })],
    ];

    it.each(cases)('%s: 400 with its code', async (_name, make) => {
      const { body, headers, code } = await make();
      const before = await countRows(db());
      const response = await t.app.inject({
        method: 'POST',
        url: '/webhooks/apple/v2',
        ...(typeof body === 'string' ? { body } : { payload: body as object }),
        ...(headers ? { headers } : {}),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code, message: expect.any(String) } });
      expect(await countRows(db())).toEqual(before);
    });
  });

  it('answers 400 for a signedPayload longer than any real notification, without verifying it', async () => {
    const response = await post(t.app, 'a'.repeat(200_001));
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('VALIDATION_ERROR');
  });

  it('records an unknown type and answers processed', async () => {
    const s = scenario(t.pki);
    const uuid = randomUUID();
    const response = await post(t.app, s.sign({ type: 'SOMETHING_APPLE_ADDS_LATER', subtype: 'NEW', uuid, signedDate: T0, period: null, renewal: null }));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'processed' });
    const [row] = await db().select().from(notifications).where(eq(notifications.id, uuid));
    expect(row).toMatchObject({ notificationType: 'SOMETHING_APPLE_ADDS_LATER', subtype: 'NEW', outcome: 'recorded' });
  });

  it('records an unknown subtype of a known type without changing the status', async () => {
    const s = scenario(t.pki);
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 }));
    expect(await deliver(t.app, s.sign({ type: 'DID_RENEW', subtype: 'BRAND_NEW', signedDate: T0 + DAY, period: 0, status: 2 }))).toBe('processed');
    expect((await storedPurchase(db(), s.originalTransactionId)).subscription?.appleStatus).toBe(1);
  });

  it.each([
    ['TEST', undefined],
    ['CONSUMPTION_REQUEST', undefined],
    ['RENEWAL_EXTENSION', 'SUMMARY'],
    ['RESCIND_CONSENT', undefined],
  ])('records %s %s without a purchase and answers processed', async (type, subtype) => {
    const uuid = randomUUID();
    const before = await countRows(db());
    const signed = scenario(t.pki).sign({ type, ...(subtype ? { subtype } : {}), uuid, signedDate: T0, period: null, renewal: null });
    expect(await deliver(t.app, signed)).toBe('processed');
    const [row] = await db().select().from(notifications).where(eq(notifications.id, uuid));
    expect(row?.outcome).toBe('recorded');
    expect(await countRows(db())).toMatchObject({ transactions: before.transactions, subscriptions: before.subscriptions });
  });

  it('keeps the signed transaction a recorded-only REFUND_DECLINED carries, but not a status', async () => {
    const s = scenario(t.pki);
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 }));
    await deliver(t.app, s.sign({ type: 'REFUND_DECLINED', signedDate: T0 + DAY, period: 0, transaction: { storefront: 'FRA' }, status: 2 }));
    const stored = await storedPurchase(db(), s.originalTransactionId);
    expect(stored.transactions[0]).toMatchObject({ storefront: 'FRA', signedDate: new Date(T0 + DAY) });
    expect(stored.subscription).toMatchObject({ appleStatus: 1, statusSignedDate: new Date(T0) });
  });

  it('applies five concurrent deliveries of one notification once', async () => {
    const s = scenario(t.pki);
    const signed = s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 });
    const before = await countRows(db());
    const responses = await Promise.all(Array.from({ length: 5 }, () => post(t.app, signed)));
    const statuses = responses.map((r) => (r.statusCode === 200 ? (r.json() as { status: string }).status : r.statusCode));
    expect(statuses.filter((x) => x === 'processed')).toHaveLength(1);
    expect(statuses.filter((x) => x === 'duplicate')).toHaveLength(4);
    expect(await countRows(db())).toEqual({
      notifications: before.notifications + 1,
      transactions: before.transactions + 1,
      subscriptions: before.subscriptions + 1,
      links: before.links,
    });
  });

  it('loses no update when different notifications of one purchase arrive at once', async () => {
    const s = scenario(t.pki);
    const signed = [0, 1, 2, 3, 4, 5].map((period) =>
      s.sign({
        type: period === 0 ? 'SUBSCRIBED' : 'DID_RENEW',
        subtype: period === 0 ? 'INITIAL_BUY' : undefined,
        signedDate: T0 + period * 30 * DAY,
        period,
        status: 1,
      }),
    );
    const responses = await Promise.all(signed.map((jws) => post(t.app, jws)));
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    const stored = await storedPurchase(db(), s.originalTransactionId);
    expect(stored.transactions.map((x) => x.transactionId)).toEqual([0, 1, 2, 3, 4, 5].map((p) => s.transactionId(p)));
    expect(stored.subscription?.renewalSignedDate).toEqual(new Date(T0 + 5 * 30 * DAY));
    expect(stored.subscription?.statusSignedDate).toEqual(new Date(T0 + 5 * 30 * DAY));
    const rows = await db().select().from(transactions).where(eq(transactions.originalTransactionId, s.originalTransactionId));
    expect(rows).toHaveLength(6);
  });

  it('attributes a purchase that carries an appAccountToken to the token', async () => {
    const s = scenario(t.pki);
    const token = randomUUID();
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, transaction: { appAccountToken: token } }));
    const stored = await storedPurchase(db(), s.originalTransactionId);
    expect(stored.transactions[0]?.appAccountToken).toBe(token);
    const links = await db().query.purchaseLinks.findMany({ where: (l, { eq: equals }) => equals(l.originalTransactionId, s.originalTransactionId) });
    expect(links).toMatchObject([{ userId: token, linkSource: 'app_account_token' }]);
  });
});
