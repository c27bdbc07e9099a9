import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { notifications, subscriptions, transactions } from '../../src/db/schema.js';
import { applyPurchaseUpdate } from '../../src/purchases/purchases.repository.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, scenario, T0 } from '../notifications/support.js';
import { at, ORIGINAL_ID, renewal, transaction } from './records.js';

const payloadOf = <T>(jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as T;

describe(`signed evidence is stored once (${backendName})`, () => {
  const fixture = useTestApp({ env: { RATE_LIMIT_WEBHOOK_PER_MINUTE: '0' } });

  it('records from a notification name it, and its stored signedPayload carries their JWS', async () => {
    const db = fixture.deps.database.db;
    const s = scenario(fixture.pki);
    const uuid = randomUUID();
    await deliver(fixture.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', uuid, signedDate: T0, period: 0, status: 1 }));

    const [row] = await db.select().from(transactions).where(eq(transactions.originalTransactionId, s.originalTransactionId));
    expect(row).toMatchObject({ transactionId: s.transactionId(0), signedTransaction: null, signedInNotification: uuid });
    const [sub] = await db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, s.originalTransactionId));
    expect(sub).toMatchObject({ signedRenewalInfo: null, renewalSignedInNotification: uuid });

    const [stored] = await db.select().from(notifications).where(eq(notifications.id, uuid));
    const { data } = payloadOf<{ data: { signedTransactionInfo: string; signedRenewalInfo: string } }>(stored!.payload);
    expect(payloadOf<{ transactionId: string }>(data.signedTransactionInfo).transactionId).toBe(row!.transactionId);
    expect(payloadOf<{ originalTransactionId: string }>(data.signedRenewalInfo).originalTransactionId).toBe(s.originalTransactionId);
  });

  it('a status-only change leaves the renewal and its evidence as they were; a newer renewal replaces both', async () => {
    const db = fixture.deps.database.db;
    const write = (update: Parameters<typeof applyPurchaseUpdate>[1]) => db.transaction((tx) => applyPurchaseUpdate(tx, update, { now: fixture.deps.clock() }));
    await write({
      transactions: [{ record: transaction(), signedTransaction: 'jws-of-transaction' }],
      renewal: { record: renewal({ signedDate: at('2026-01-01T10:00:01Z') }), signedRenewalInfo: 'jws-of-renewal-1' },
    });
    const status = await write({
      transactions: [],
      status: { originalTransactionId: ORIGINAL_ID, appleStatus: 4, statusSignedDate: at('2026-02-01T10:00:00Z') },
    });
    expect(status).toMatchObject({ statusWritten: true, renewalWritten: false });
    const read = async () => (await db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, ORIGINAL_ID)))[0]!;
    expect(await read()).toMatchObject({
      appleStatus: 4,
      renewalSignedDate: at('2026-01-01T10:00:01Z'),
      signedRenewalInfo: 'jws-of-renewal-1',
      renewalSignedInNotification: null,
    });

    await write({
      transactions: [],
      renewal: { record: renewal({ signedDate: at('2026-02-02T10:00:00Z'), autoRenewStatus: 0 }), signedRenewalInfo: null, signedInNotification: 'n-2' },
    });
    expect(await read()).toMatchObject({
      appleStatus: 4,
      autoRenewStatus: 0,
      signedRenewalInfo: null,
      renewalSignedInNotification: 'n-2',
    });
    const [row] = await db.select().from(transactions).where(eq(transactions.transactionId, transaction().transactionId));
    expect(row).toMatchObject({ signedTransaction: 'jws-of-transaction', signedInNotification: null });
  });
});
