import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { notifications } from '../../src/db/schema.js';
import { appendEvents } from '../../src/events/events.repository.js';
import { postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, TEST_ADMIN_KEY, TEST_BUNDLE_ID } from '../helpers/app.js';
import { MONTH } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { signNotification } from '../helpers/pki.js';

const admin = authHeader(TEST_ADMIN_KEY);
const P1 = '3000000000000001';
const P2 = '3000000000000101';
const SIGNED = Date.parse('2026-06-01T12:00:00Z');

interface Item {
  notificationId: string;
  notificationType: string;
  outcome: string;
  userId: string | null;
  originalTransactionId: string | null;
  payload: { data?: Record<string, unknown> } | null;
  raw?: string;
}

describe(`GET /admin/notifications and GET /admin/users/:userId (${backendName})`, () => {
  const t = useTestApp();
  const sent: { id: string; jws: string }[] = [];
  let token = '';
  let afterThird = '';

  const get = (url: string, headers = admin) => t.app.inject({ method: 'GET', url, headers });
  const ids = (items: Item[]) => items.map((item) => item.notificationId);
  const newestFirst = (...indexes: number[]) => indexes.map((index) => sent[index - 1]!.id);

  async function notify(index: number, notificationType: string, originalTransactionId: string, transactionId: string, extra: object = {}) {
    const id = `00000000-0000-4000-8000-00000000000${index}`;
    const signedDate = SIGNED + index * 60_000;
    const jws = signNotification(t.pki, {
      notificationType,
      ...(notificationType === 'SUBSCRIBED' ? { subtype: 'INITIAL_BUY' } : {}),
      notificationUUID: id,
      signedDate,
      bundleId: TEST_BUNDLE_ID,
      environment: 'Sandbox',
      transaction: { originalTransactionId, transactionId, purchaseDate: signedDate - 1_000, expiresDate: signedDate + MONTH, ...extra },
      renewalInfo: { originalTransactionId },
    });
    const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: jws } });
    expect(response.statusCode).toBe(200);
    sent.push({ id, jws });
  }

  it('answer 401 without a key and 403 with an app key', async () => {
    for (const url of ['/admin/notifications', '/admin/users/u-1']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode).toBe(401);
      expect((await get(url, authHeader())).statusCode).toBe(403);
    }
  });

  it('list the notification log newest first, page by page through 3 pages', async () => {
    token = (await get('/users/u-1/app-account-token', authHeader())).json().appAccountToken;
    await notify(1, 'SUBSCRIBED', P1, '3000000000000001', { appAccountToken: token });
    await notify(2, 'DID_RENEW', P1, '3000000000000002', { appAccountToken: token });
    await notify(3, 'REFUND_DECLINED', P1, '3000000000000002', { appAccountToken: token });
    await new Promise((resolve) => setTimeout(resolve, 20));
    afterThird = new Date().toISOString();
    await notify(4, 'SUBSCRIBED', P2, '3000000000000101');
    await notify(5, 'DID_RENEW', P2, '3000000000000102');

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await get(`/admin/notifications?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.notifications.length).toBe(pages < 2 ? 2 : 1);
      seen.push(...ids(body.notifications));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst(5, 4, 3, 2, 1));
  });

  it('decode each notification, with its signed parts, and show the raw JWS only when asked', async () => {
    const [item] = (await get(`/admin/notifications?originalTransactionId=${P1}&type=SUBSCRIBED`)).json().notifications as Item[];
    expect(item).toMatchObject({ notificationId: sent[0]!.id, notificationType: 'SUBSCRIBED', outcome: 'applied', userId: 'u-1', originalTransactionId: P1 });
    expect(item!.raw).toBeUndefined();
    expect(JSON.stringify(item)).not.toContain(sent[0]!.jws.split('.')[0]!);
    expect(item!.payload!.data).toMatchObject({ transactionInfo: { transactionId: P1, appAccountToken: token }, renewalInfo: { originalTransactionId: P1 } });
    expect(item!.payload!.data).not.toHaveProperty('signedTransactionInfo');

    const [raw] = (await get(`/admin/notifications?originalTransactionId=${P1}&type=SUBSCRIBED&raw=true`)).json().notifications as Item[];
    expect(raw!.raw).toBe(sent[0]!.jws);
  });

  it('filter by type (any case), outcome, user, purchase and time', async () => {
    const list = async (query: string) => ids((await get(`/admin/notifications?${query}`)).json().notifications);
    expect(await list('type=did_renew')).toEqual(newestFirst(5, 2));
    expect(await list('outcome=recorded')).toEqual(newestFirst(3));
    expect(await list(`outcome=applied&originalTransactionId=${P1}`)).toEqual(newestFirst(2, 1));
    expect(await list('userId=u-1')).toEqual(newestFirst(3, 2, 1));
    expect(await list(`from=${afterThird}`)).toEqual(newestFirst(5, 4));
    expect(await list(`to=${afterThird}`)).toEqual(newestFirst(3, 2, 1));
    expect(await list('type=EXPIRED')).toEqual([]);
  });

  it('page without skipping or repeating notifications received within one millisecond or at the same instant', async () => {
    const row = (id: string, receivedAt: string) => ({
      id,
      version: 'v1',
      notificationType: 'INTERACTIVE_RENEWAL',
      payload: JSON.stringify({ notification_type: 'INTERACTIVE_RENEWAL', latest_receipt: 'QUJD', bid: TEST_BUNDLE_ID }),
      source: 'webhook',
      outcome: 'recorded',
      receivedAt: sql`${receivedAt}::timestamptz`,
    });
    await t.deps.database.db
      .insert(notifications)
      .values([
        row('v1-a', '2020-01-01T00:00:00.000100Z'),
        row('v1-b', '2020-01-01T00:00:00.000900Z'),
        row('v1-c', '2020-01-01T00:00:00.000900Z'),
        row('v1-d', '2020-01-01T00:00:00.000500Z'),
      ] as never);
    const seen: Item[] = [];
    let cursor: string | null = null;
    do {
      const body: { notifications: Item[]; nextCursor: string | null } = (
        await get(`/admin/notifications?to=2020-01-02T00:00:00Z&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      seen.push(...body.notifications);
      cursor = body.nextCursor;
    } while (cursor !== null && seen.length < 10);
    expect(ids(seen)).toEqual(['v1-c', 'v1-b', 'v1-d', 'v1-a']);
    // V1 bodies are shown as JSON, without their receipt blobs.
    expect(seen[0]!.payload).toEqual({ notification_type: 'INTERACTIVE_RENEWAL', bid: TEST_BUNDLE_ID });
  });

  it('answer 400 for a bad cursor, date, window or filter, naming it', async () => {
    const cases: [string, string, string][] = [
      ['cursor=not-a-cursor', 'INVALID_CURSOR', 'cursor'],
      [`cursor=${Buffer.from('["2026-01-01T00:00:00Z","x"]').toString('base64url')}`, 'INVALID_CURSOR', 'cursor'],
      [`cursor=${Buffer.from('["2026-02-30T00:00:00.000000Z","x"]').toString('base64url')}`, 'INVALID_CURSOR', 'cursor'],
      ['from=yesterday', 'INVALID_DATE', 'from'],
      ['to=0000-01-01T00:00:00Z', 'INVALID_DATE', 'to'],
      ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'INVALID_WINDOW', 'from'],
      ['outcome=duplicate', 'VALIDATION_ERROR', 'outcome'],
      ['limit=0', 'VALIDATION_ERROR', 'limit'],
      ['type=DID%20RENEW', 'VALIDATION_ERROR', 'type'],
    ];
    for (const [query, code, field] of cases) {
      const response = await get(`/admin/notifications?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code, query).toBe(code);
      expect(response.json().error.message, query).toContain(field);
    }
  });

  it('show everything about one user: entitlements as GET /entitlements answers, purchases, links, notifications and events', async () => {
    const response = await get('/admin/users/u-1');
    expect(response.statusCode).toBe(200);
    const view = response.json();
    const entitlements = (await get('/entitlements/u-1', authHeader())).json().entitlements;
    expect(view.entitlements).toEqual(entitlements);
    expect(entitlements).toHaveLength(1);
    expect(view).toMatchObject({ userId: 'u-1', appAccountToken: token, formerLinks: [] });
    expect(view.truncated).toEqual({ purchases: false, transactions: false, linkHistory: false, notifications: false, events: false });

    expect(view.purchases).toHaveLength(1);
    expect(view.purchases[0]).toMatchObject({ originalTransactionId: P1, productId: 'com.example.monthly', renewal: { appleStatus: 1, autoRenewStatus: 1 } });
    expect(view.purchases[0].transactions.map((row: { transactionId: string }) => row.transactionId)).toEqual(['3000000000000002', '3000000000000001']);

    expect(view.links).toEqual([
      {
        originalTransactionId: P1,
        linkSource: 'app_account_token',
        linkedAt: expect.any(String),
        history: [expect.objectContaining({ originalTransactionId: P1, fromUserId: null, toUserId: 'u-1' })],
      },
    ]);
    expect(ids(view.notifications)).toEqual(newestFirst(3, 2, 1));
    expect(view.notifications[0].raw).toBeUndefined();
    const types = view.events.map((event: { type: string }) => event.type);
    expect(types).toContain('entitlements.updated');
    expect(types.filter((type: string) => type === 'notification.received')).toHaveLength(3);
    expect(view.events[0].data.userId).toBe('u-1');
  });

  it('show a purchase that moved to another user as a former link, and the new owner with its history', async () => {
    const payload = transactionPayload({ transactionId: '3000000000000201', purchaseDate: Date.parse('2026-11-01T00:00:00Z') });
    expect((await postTransaction(t, 'u-old', payload)).statusCode).toBe(200);
    expect((await postTransaction(t, 'u-new', payload)).statusCode).toBe(200);

    const old = (await get('/admin/users/u-old')).json();
    expect(old.purchases).toEqual([]);
    expect(old.links).toEqual([]);
    expect(old.formerLinks).toEqual([expect.objectContaining({ originalTransactionId: '3000000000000201', fromUserId: 'u-old', toUserId: 'u-new' })]);

    const now = (await get('/admin/users/u-new')).json();
    expect(now.links[0].history.map((change: { fromUserId: string | null }) => change.fromUserId)).toEqual(['u-old', null]);
    expect(now.purchases[0].transactions[0]).toMatchObject({ transactionId: '3000000000000201', source: 'api' });
  });

  it('keep the newest 100 events of a busy user and say the list was cut', async () => {
    const data = { userId: 'u-busy', transactionId: '7', productId: 'p', deadline: '2026-12-01T00:00:00.000Z' };
    const recorded = await t.deps.database.db.transaction((tx) =>
      appendEvents(
        tx,
        Array.from({ length: 101 }, () => ({ type: 'consumption.requested' as const, userId: 'u-busy', data })),
        new Date(),
      ),
    );
    const view = (await get('/admin/users/u-busy')).json();
    expect(view.events).toHaveLength(100);
    expect(view.events[0].id).toBe(recorded.at(-1)!.id);
    expect(view.events.map((event: { id: string }) => event.id)).not.toContain(recorded[0]!.id);
    expect(view.truncated).toMatchObject({ events: true, notifications: false });
  });

  it('answer 200 with empty sections for a user the service does not know', async () => {
    const response = await get('/admin/users/nobody-here');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      userId: 'nobody-here',
      appAccountToken: null,
      firstSeenAt: null,
      entitlements: [],
      purchases: [],
      links: [],
      formerLinks: [],
      grants: [],
      appTransaction: null,
      notifications: [],
      events: [],
      truncated: { purchases: false, transactions: false, linkHistory: false, notifications: false, events: false },
    });
  });
});
