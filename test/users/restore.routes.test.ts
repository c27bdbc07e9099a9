import { eq, inArray } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import type { JWSTransactionDecodedPayload } from '../../src/apple/types.js';
import { appAccountTokenUpdates, events, purchaseLinks } from '../../src/db/schema.js';
import { at, days, LIFETIME, manualClock, postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, type TestApp } from '../helpers/app.js';
import type { RecordedRequest, ScriptedResponse } from '../helpers/app-store-api-double.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestApp, useTestPki } from '../helpers/fixtures.js';

const historyPath = (transactionId: string) => `/inApps/v2/history/${transactionId}`;
const tokenPath = (originalTransactionId: string) => `/inApps/v1/transactions/${originalTransactionId}/appAccountToken`;
// The after-commit attempt runs in the background: on a loaded machine it may take seconds.
const WAIT = { timeout: 30_000, interval: 50 };
const NOT_FOUND = { status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } };

describe(`POST /users/:userId/restore (${backendName})`, () => {
  const time = manualClock('2026-11-10T00:00:00Z');
  const apple = useAppStoreApiDouble();
  const trusted = useTestPki();
  const t = useTestApp(() => ({ clock: time.clock, pki: trusted.pki, overrides: { appStoreApi: apple.client({ timeoutMs: 2_000 }) } }));
  const keep = useTestApp(() => ({
    clock: time.clock,
    pki: trusted.pki,
    env: { TRANSFER_POLICY: 'keep' },
    overrides: { appStoreApi: apple.client({ timeoutMs: 2_000 }) },
  }));
  const offline = useTestApp(() => ({ clock: time.clock, pki: trusted.pki }));

  const ownersOf = async (app: TestApp, ids: string[]) => {
    const rows = await app.deps.database.db.select().from(purchaseLinks).where(inArray(purchaseLinks.originalTransactionId, ids));
    return Object.fromEntries(rows.map((row) => [row.originalTransactionId, row.userId]));
  };
  const restore = (app: TestApp, userId: string, payload: object) =>
    app.app.inject({ method: 'POST', url: `/users/${encodeURIComponent(userId)}/restore`, headers: authHeader(), payload });
  const tokenOf = async (app: TestApp, userId: string) =>
    (await app.app.inject({ method: 'GET', url: `/users/${userId}/app-account-token`, headers: authHeader() })).json().appAccountToken as string;

  /** Scripts the history of `transactionId` as pages of signed transactions, chained by revision. */
  function scriptHistory(app: TestApp, transactionId: string, pages: Array<JWSTransactionDecodedPayload[] | ScriptedResponse>) {
    apple.double.reply('GET', historyPath(transactionId), (request: RecordedRequest) => {
      const index = Number(request.query.revision?.[0]?.replace('rev-', '') ?? 0);
      const page = pages[index]!;
      if (!Array.isArray(page)) return page;
      const hasMore = index < pages.length - 1;
      return {
        body: {
          bundleId: app.deps.config.apple.bundleId,
          environment: 'Sandbox',
          signedTransactions: page.map((payload) => app.pki.sign(payload)),
          hasMore,
          revision: `rev-${index + 1}`,
        },
      };
    });
  }

  /** One Apple Account's purchases: a subscription renewed twice, a second subscription and a lifetime unlock. */
  function account(prefix: string) {
    const start = at('2026-09-01T00:00:00Z');
    const monthly = (n: number) =>
      transactionPayload({
        transactionId: `${prefix}0${n}`,
        originalTransactionId: `${prefix}00`,
        purchaseDate: start + days(30 * n),
        originalPurchaseDate: start,
        expiresDate: start + days(30 * (n + 1)),
        signedDate: start + days(30 * n) + 1_000,
      });
    const yearly = transactionPayload({
      transactionId: `${prefix}10`,
      productId: 'com.example.pro.yearly',
      purchaseDate: start,
      expiresDate: start + days(365),
    });
    const lifetime = transactionPayload({
      transactionId: `${prefix}20`,
      productId: LIFETIME,
      type: 'Non-Consumable',
      expiresDate: undefined,
      purchaseDate: start,
    });
    return { pages: [[monthly(0), yearly], [monthly(1)], [lifetime, monthly(2)]], purchases: [`${prefix}00`, `${prefix}10`, `${prefix}20`] };
  }

  it('reads every page of the history (3 pages) and links every purchase of the Apple Account to the user', async () => {
    const { pages, purchases } = account('81');
    scriptHistory(t, '8100', pages);

    const response = await restore(t, 'u-restore', { transactionId: '8100' });

    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.userId).toBe('u-restore');
    expect(body.entitlements.map((e: { originalTransactionId: string }) => e.originalTransactionId).sort()).toEqual(purchases);
    expect(body.entitlements.find((e: { originalTransactionId: string }) => e.originalTransactionId === '8100')).toMatchObject({
      transactionId: '8102',
      status: 'active',
    });
    expect(await ownersOf(t, purchases)).toEqual({ 8100: 'u-restore', 8110: 'u-restore', 8120: 'u-restore' });
    const asked = apple.double.requests.filter((r) => r.path === historyPath('8100'));
    expect(asked.map((r) => r.query.revision?.[0] ?? null)).toEqual([null, 'rev-1', 'rev-2']);
    // One transaction, one change of the user's answer: one event with all three.
    const recorded = await t.deps.database.db.select().from(events).where(eq(events.userId, 'u-restore'));
    expect(recorded.map((row) => row.type)).toEqual(['entitlements.updated']);
    expect(JSON.parse(recorded[0]!.body).data).toMatchObject({ previous: [], entitlements: [{}, {}, {}] });
  });

  it('answers 503 APP_STORE_UNAVAILABLE and links nothing when a later page fails with a retryable error', async () => {
    const { pages, purchases } = account('82');
    scriptHistory(t, '8200', [
      pages[0]!,
      { status: 500, body: { errorCode: 5000001, errorMessage: 'An unknown error occurred. Please try again.' } },
      pages[2]!,
    ]);

    const response = await restore(t, 'u-mid-failure', { transactionId: '8200' });

    expect([response.statusCode, response.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
    expect(await ownersOf(t, purchases)).toEqual({});
  });

  it('refuses under TRANSFER_POLICY=keep with 409 ALREADY_LINKED naming every purchase of another user, and links nothing', async () => {
    const { pages, purchases } = account('83');
    expect((await postTransaction(keep, 'u-owner', pages[0]![1]!)).statusCode).toBe(200);
    expect((await postTransaction(keep, 'u-owner', pages[2]![0]!)).statusCode).toBe(200);
    scriptHistory(keep, '8300', pages);

    const response = await restore(keep, 'u-claimant', { transactionId: '8300' });

    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: 'ALREADY_LINKED', transactions: ['8310', '8320'] });
    expect(await ownersOf(keep, purchases)).toEqual({ 8310: 'u-owner', 8320: 'u-owner' });
  });

  it('moves purchases of another user under TRANSFER_POLICY=transfer', async () => {
    const { pages, purchases } = account('84');
    expect((await postTransaction(t, 'u-before', pages[0]![1]!)).statusCode).toBe(200);
    scriptHistory(t, '8400', pages);

    const response = await restore(t, 'u-after', { transactionId: '8400' });

    expect(response.statusCode).toBe(200);
    expect(await ownersOf(t, purchases)).toEqual({ 8400: 'u-after', 8410: 'u-after', 8420: 'u-after' });
  });

  it("refuses with 409 TOKEN_BELONGS_TO_OTHER_USER when a purchase carries another user's token, and links nothing", async () => {
    const { pages, purchases } = account('85');
    pages[1]![0]!.appAccountToken = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    scriptHistory(t, '8500', pages);

    const response = await restore(t, 'u-token', { transactionId: '8500' });

    expect([response.statusCode, response.json().error.code]).toEqual([409, 'TOKEN_BELONGS_TO_OTHER_USER']);
    expect(await ownersOf(t, purchases)).toEqual({});
  });

  it("restores from a signed transaction, asking only that transaction's environment", async () => {
    const { pages, purchases } = account('86');
    scriptHistory(t, '8620', pages);

    const response = await restore(t, 'u-signed', { signedTransaction: t.pki.sign(pages[2]![0]!) });

    expect(response.statusCode, response.body).toBe(200);
    expect(await ownersOf(t, purchases)).toEqual({ 8600: 'u-signed', 8610: 'u-signed', 8620: 'u-signed' });
    // Sandbox only: a transaction id alone would have been asked of Production first.
    expect(apple.double.requests.filter((r) => r.path === historyPath('8620') && r.query.revision === undefined)).toHaveLength(1);
  });

  it('tries Sandbox when Production does not know the transaction id', async () => {
    const { pages } = account('87');
    let calls = 0;
    apple.double.reply('GET', historyPath('8700'), (request) => {
      calls += 1;
      if (calls === 1) return NOT_FOUND;
      const index = Number(request.query.revision?.[0]?.replace('rev-', '') ?? 0);
      return { body: { signedTransactions: pages[index]!.map((p) => t.pki.sign(p)), hasMore: index < 2, revision: `rev-${index + 1}` } };
    });

    const response = await restore(t, 'u-sandbox', { transactionId: '8700' });

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().entitlements).toHaveLength(3);
  });

  it('answers 404 TRANSACTION_NOT_FOUND when no accepted environment knows the transaction', async () => {
    apple.double.reply('GET', historyPath('8800'), NOT_FOUND);
    const response = await restore(t, 'u-unknown', { transactionId: '8800' });
    expect([response.statusCode, response.json().error.code]).toEqual([404, 'TRANSACTION_NOT_FOUND']);
  });

  it('answers 400 API_NOT_CONFIGURED without App Store Server API credentials, for an id and for a signed transaction', async () => {
    const byId = await restore(offline, 'u-offline', { transactionId: '8900' });
    const signed = await restore(offline, 'u-offline', { signedTransaction: offline.pki.sign(transactionPayload({ transactionId: '8901' })) });
    expect([byId.statusCode, byId.json().error.code]).toEqual([400, 'API_NOT_CONFIGURED']);
    expect([signed.statusCode, signed.json().error.code]).toEqual([400, 'API_NOT_CONFIGURED']);
  });

  it('answers 400 for a body with neither field', async () => {
    const response = await restore(t, 'u-bad', { receipt: 'x' });
    expect([response.statusCode, response.json().error.code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  describe('Set App Account Token', () => {
    it("sets the user's token on Apple's side for each restored purchase whose data has none, after answering", async () => {
      const { pages, purchases } = account('90');
      // The lifetime unlock already carries the user's own token: nothing to set for it.
      const token = await tokenOf(t, 'u-set');
      pages[2]![0]!.appAccountToken = token;
      scriptHistory(t, '9000', pages);

      const response = await restore(t, 'u-set', { transactionId: '9000' });
      expect(response.statusCode).toBe(200);

      await vi.waitFor(async () => {
        const rows = await t.deps.database.db.select().from(appAccountTokenUpdates).where(inArray(appAccountTokenUpdates.originalTransactionId, purchases));
        expect(rows.map((row) => [row.originalTransactionId, row.status]).sort()).toEqual([
          ['9000', 'done'],
          ['9010', 'done'],
        ]);
      }, WAIT);
      const puts = apple.double.requests.filter((r) => r.method === 'PUT' && purchases.some((id) => r.path === tokenPath(id)));
      expect(puts.map((r) => [r.path, r.body]).sort()).toEqual([
        [tokenPath('9000'), { appAccountToken: token }],
        [tokenPath('9010'), { appAccountToken: token }],
      ]);
    });

    it('sets it after a link by transaction id, and not when the signed data carries a token', async () => {
      const token = await tokenOf(t, 'u-link');
      expect((await postTransaction(t, 'u-link', transactionPayload({ transactionId: '9100' }))).statusCode).toBe(200);
      expect((await postTransaction(t, 'u-link', transactionPayload({ transactionId: '9101', appAccountToken: token }))).statusCode).toBe(200);
      expect(
        (await postTransaction(t, 'u-link', transactionPayload({ transactionId: '9102', appAccountToken: '00000000-0000-0000-0000-000000000000' }))).statusCode,
      ).toBe(200);

      // Until the updates are recorded done, not only sent: a row still in flight when this
      // test ends would be the next test's job's work.
      await vi.waitFor(async () => {
        expect(apple.double.requests.filter((r) => r.path === tokenPath('9102'))).toHaveLength(1);
        expect(apple.double.requests.filter((r) => r.path === tokenPath('9100'))).toHaveLength(1);
        const rows = await t.deps.database.db
          .select()
          .from(appAccountTokenUpdates)
          .where(inArray(appAccountTokenUpdates.originalTransactionId, ['9100', '9102']));
        expect(rows.map((row) => [row.originalTransactionId, row.status]).sort()).toEqual([
          ['9100', 'done'],
          ['9102', 'done'],
        ]);
      }, WAIT);
      expect(apple.double.requests.find((r) => r.path === tokenPath('9100'))?.body).toEqual({ appAccountToken: token });
      expect(apple.double.requests.filter((r) => r.path === tokenPath('9101'))).toHaveLength(0);
      await t.app.tokenUpdates.runOnce();
      const rows = await t.deps.database.db.select().from(appAccountTokenUpdates).where(eq(appAccountTokenUpdates.originalTransactionId, '9101'));
      expect(rows).toEqual([]);
    });

    it('retries after a retryable failure, from the job, once the wait has passed', async () => {
      time.set('2026-11-10T00:00:00Z');
      apple.double.reply('PUT', tokenPath('9200'), { status: 500, body: { errorCode: 5000001, errorMessage: 'Please try again.' } }, { status: 200 });
      expect((await postTransaction(t, 'u-retry', transactionPayload({ transactionId: '9200' }))).statusCode).toBe(200);

      const row = async () =>
        (await t.deps.database.db.select().from(appAccountTokenUpdates).where(eq(appAccountTokenUpdates.originalTransactionId, '9200')))[0];
      await vi.waitFor(async () => expect(await row()).toMatchObject({ status: 'pending', attempts: 1 }), WAIT);
      expect((await row())?.lastError).toContain('500');

      // Not due yet: the job leaves it.
      expect(await t.app.tokenUpdates.runOnce()).toEqual({ done: 0, retry: 0, failed: 0 });
      time.set('2026-11-10T00:05:00Z');
      expect(await t.app.tokenUpdates.runOnce()).toEqual({ done: 1, retry: 0, failed: 0 });
      expect(await row()).toMatchObject({ status: 'done', attempts: 2 });
      expect(apple.double.requests.filter((r) => r.path === tokenPath('9200'))).toHaveLength(2);
    });

    it('marks a request failed, without retrying, when Apple refuses it for good', async () => {
      apple.double.reply('PUT', tokenPath('9300'), { status: 400, body: { errorCode: 4000006, errorMessage: 'Invalid transaction id.' } });
      expect((await postTransaction(t, 'u-refused', transactionPayload({ transactionId: '9300' }))).statusCode).toBe(200);
      await vi.waitFor(async () => {
        const [row] = await t.deps.database.db.select().from(appAccountTokenUpdates).where(eq(appAccountTokenUpdates.originalTransactionId, '9300'));
        expect(row).toMatchObject({ status: 'failed', attempts: 1 });
      }, WAIT);
    });

    it('records nothing without App Store Server API credentials', async () => {
      expect((await postTransaction(offline, 'u-offline', transactionPayload({ transactionId: '9400' }))).statusCode).toBe(200);
      expect(await offline.deps.database.db.select().from(appAccountTokenUpdates)).toEqual([]);
    });
  });
});
