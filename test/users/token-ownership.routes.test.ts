import { eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { purchaseLinks, transactions, users } from '../../src/db/schema.js';
import { manualClock, postTransaction } from '../entitlements/app-backend-fixtures.js';
import { authHeader, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';
import { wipe } from '../helpers/rows.js';
import { deliver, scenario, T0 } from '../notifications/support.js';

// Who a purchase belongs to when its signed data carries an appAccountToken (SPEC: the
// token's user, under every TRANSFER_POLICY), and the tokens that are no token at all.

const ZERO = '00000000-0000-0000-0000-000000000000';
const NOT_TOKENS = [ZERO, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'];

describe(`purchases carrying an appAccountToken (${backendName})`, () => {
  const time = manualClock('2026-02-15T00:00:00Z');
  // Two apps, one per TRANSFER_POLICY, over one database and PKI.
  const shared = useDatabaseAndPki();
  const transfer = useTestApp(() => ({ clock: time.clock, database: shared.database, pki: shared.pki }));
  const keep = useTestApp(() => ({ clock: time.clock, database: shared.database, pki: shared.pki, env: { TRANSFER_POLICY: 'keep' } }));
  beforeEach(async () => {
    await wipe(shared.database.handle.db);
  });

  const db = () => shared.database.handle.db;
  const ownerOf = async (originalTransactionId: string) =>
    (await db().select().from(purchaseLinks).where(eq(purchaseLinks.originalTransactionId, originalTransactionId)))[0]?.userId;
  const tokenOf = async (app: TestApp, userId: string) => {
    const response = await app.app.inject({ method: 'GET', url: `/users/${encodeURIComponent(userId)}/app-account-token`, headers: authHeader() });
    expect(response.statusCode).toBe(200);
    return (response.json() as { appAccountToken: string }).appAccountToken;
  };

  it('answers a user id that is the all-zero (or all-f) UUID with a token of its own, never that UUID', async () => {
    for (const id of NOT_TOKENS) {
      const token = await tokenOf(transfer, id);
      expect(token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(await tokenOf(transfer, id)).toBe(token);
    }
  });

  it('attributes a purchase carrying the all-zero (or all-f) UUID to nobody, so its real owner can link it under keep', async () => {
    for (const [index, token] of NOT_TOKENS.entries()) {
      const purchase = scenario(shared.pki, { start: T0 + index * 1000 });
      await deliver(keep.app, purchase.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, transaction: { appAccountToken: token } }));
      expect(await ownerOf(purchase.originalTransactionId)).toBeUndefined();
      const [stored] = await db()
        .select()
        .from(transactions)
        .where(eq(transactions.transactionId, purchase.transactionId(0)));
      expect(stored?.appAccountToken).toBeNull();

      const response = await postTransaction(keep, `u-real-${index}`, purchase.transaction(0, { appAccountToken: token }) as never);
      expect(response.statusCode, response.body).toBe(200);
      expect(await ownerOf(purchase.originalTransactionId)).toBe(`u-real-${index}`);
    }
    const pseudo = await db().select().from(users).where(eq(users.userId, ZERO));
    expect(pseudo).toEqual([]);
  });

  it("refuses with 409 TOKEN_BELONGS_TO_OTHER_USER a transaction carrying alice's token posted for mallory, under either policy, writing nothing", async () => {
    const alice = await tokenOf(transfer, 'alice');
    const purchase = scenario(shared.pki);
    const payload = purchase.transaction(0, { appAccountToken: alice }) as never;
    for (const app of [transfer, keep]) {
      const response = await postTransaction(app, 'mallory', payload);
      expect(response.statusCode).toBe(409);
      expect(response.json().error.code).toBe('TOKEN_BELONGS_TO_OTHER_USER');
      expect(await ownerOf(purchase.originalTransactionId)).toBeUndefined();
      expect(await db().select().from(transactions).where(eq(transactions.originalTransactionId, purchase.originalTransactionId))).toEqual([]);
    }
    expect((await postTransaction(keep, 'alice', payload)).statusCode).toBe(200);
    expect(await ownerOf(purchase.originalTransactionId)).toBe('alice');
  });

  it("refuses a token nobody holds yet for another user: that token's user is the token itself", async () => {
    const token = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const purchase = scenario(shared.pki);
    const response = await postTransaction(transfer, 'u-poster', purchase.transaction(0, { appAccountToken: token }) as never);
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('TOKEN_BELONGS_TO_OTHER_USER');
    expect((await postTransaction(transfer, token.toUpperCase(), purchase.transaction(0, { appAccountToken: token }) as never)).statusCode).toBe(200);
  });

  it("refuses mallory a tokenless transaction of a purchase whose stored transactions carry alice's token", async () => {
    const alice = await tokenOf(transfer, 'alice');
    const purchase = scenario(shared.pki);
    await deliver(transfer.app, purchase.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, transaction: { appAccountToken: alice } }));
    expect(await ownerOf(purchase.originalTransactionId)).toBe('alice');

    const response = await postTransaction(transfer, 'mallory', purchase.transaction(1) as never);
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('TOKEN_BELONGS_TO_OTHER_USER');
    expect(await ownerOf(purchase.originalTransactionId)).toBe('alice');
  });

  it("gives a purchase back to the token's user when a later notification carries the token, after a link made without it", async () => {
    for (const app of [transfer, keep]) {
      await wipe(shared.database.handle.db);
      const alice = await tokenOf(app, 'alice');
      const purchase = scenario(shared.pki);
      // The first period's transaction carries no token; mallory links the purchase with it.
      expect((await postTransaction(app, 'mallory', purchase.transaction(0) as never)).statusCode).toBe(200);
      expect(await ownerOf(purchase.originalTransactionId)).toBe('mallory');

      await deliver(app.app, purchase.sign({ type: 'DID_RENEW', signedDate: T0 + 31 * 86_400_000, period: 1, transaction: { appAccountToken: alice } }));
      expect(await ownerOf(purchase.originalTransactionId)).toBe('alice');
    }
  });
});
