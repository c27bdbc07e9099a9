import { describe, expect, it } from 'vitest';
import { canonicalUserId, tokenForUser, uuidV5 } from '../../src/users/app-account-token.model.js';
import { at, getEntitlements, manualClock, storeSigned, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, createTestApp, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

describe('app account token model', () => {
  it('derives RFC 9562 version 5 UUIDs (the DNS namespace example)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('treats a UUID user id as its own token in lower case and keeps other ids as they are', () => {
    expect(canonicalUserId('ABCDEF12-3456-4789-8ABC-DEF012345678')).toBe('abcdef12-3456-4789-8abc-def012345678');
    expect(canonicalUserId('User-42')).toBe('User-42');
    expect(tokenForUser('abcdef12-3456-4789-8abc-def012345678', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('abcdef12-3456-4789-8abc-def012345678');
  });
});

describe(`GET /users/:userId/app-account-token (${backendName})`, () => {
  const time = manualClock('2026-11-10T00:00:00Z');
  const t = useTestApp({ clock: time.clock });

  const tokenOf = async (app: TestApp, userId: string) => {
    const response = await app.app.inject({ method: 'GET', url: `/users/${encodeURIComponent(userId)}/app-account-token`, headers: authHeader() });
    expect(response.statusCode).toBe(200);
    return (response.json() as { appAccountToken: string }).appAccountToken;
  };

  it('gives a user the same UUID token every time, and another user another one', async () => {
    const first = await tokenOf(t, 'u-token-1');
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await tokenOf(t, 'u-token-1')).toBe(first);
    expect(await tokenOf(t, 'u-token-2')).not.toBe(first);
  });

  it('keeps tokens across a restart of the service over the same database', async () => {
    const before = await tokenOf(t, 'u-restart');
    const again = await createTestApp({ clock: time.clock, database: t.database, pki: t.pki });
    try {
      expect(await tokenOf(again, 'u-restart')).toBe(before);
    } finally {
      await again.app.close();
    }
  });

  it('answers a UUID user id with itself, in lower case, whatever its letter case', async () => {
    const id = 'C0FFEE00-AAAA-4BBB-8CCC-DDDDEEEEFFFF';
    expect(await tokenOf(t, id)).toBe(id.toLowerCase());
    expect(await tokenOf(t, id.toLowerCase())).toBe(id.toLowerCase());
  });

  it("attributes a purchase carrying a user's token to that user", async () => {
    time.set('2026-11-10T00:00:00Z');
    const token = await tokenOf(t, 'u-attributed');
    await storeSigned(t, { transactions: [transactionPayload({ transactionId: '500', appAccountToken: token, purchaseDate: at('2026-11-01T00:00:00Z') })] });

    const { entitlements } = (await getEntitlements(t, 'u-attributed')).json();
    expect(entitlements).toHaveLength(1);
    expect(entitlements[0]).toMatchObject({ originalTransactionId: '500', status: 'active' });
  });

  it('makes a token nobody holds a user of its own, reachable in any letter case', async () => {
    time.set('2026-11-10T00:00:00Z');
    const token = '12345678-9abc-4def-8123-456789abcdef';
    await storeSigned(t, {
      transactions: [transactionPayload({ transactionId: '501', appAccountToken: token.toUpperCase(), purchaseDate: at('2026-11-01T00:00:00Z') })],
    });

    const upper = (await getEntitlements(t, token.toUpperCase())).json();
    expect(upper.entitlements[0]).toMatchObject({ originalTransactionId: '501' });
    expect(await tokenOf(t, token.toUpperCase())).toBe(token);
  });
});
