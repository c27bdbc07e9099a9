import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { SignedDataVerifier } from '../../src/apple/types.js';
import { createSignedDataVerifier } from '../../src/apple/verifier/index.js';
import type { Database } from '../../src/db/client.js';
import { notifications, subscriptions, transactions } from '../../src/db/schema.js';
import { ReplayAbortedError, replayNotifications } from '../../src/notifications/replay.usecase.js';
import { TEST_BUNDLE_ID } from '../helpers/app.js';
import { HOUR } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { useTestApp, useTestPki } from '../helpers/fixtures.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { countRows, queryRows } from '../helpers/rows.js';
import { DAY, deliver, MONTH, purchaseSnapshot, type Scenario, scenario, T0 } from './support.js';

interface LocksAtCommit {
  advisory: number;
  purchaseTables: number;
}

/** The database, with each transaction reporting the locks it holds just before it commits. */
function recordingLocks(db: Database, seen: LocksAtCommit[]): Database {
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== 'transaction') return Reflect.get(target, property, receiver);
      return (fn: Parameters<Database['transaction']>[0]) =>
        target.transaction(async (tx) => {
          const out = await fn(tx);
          const [row] = await queryRows<LocksAtCommit>(
            tx,
            sql`select count(*) filter (where l.locktype = 'advisory')::int as advisory,
                       count(*) filter (where l.mode = 'ShareRowExclusiveLock' and c.relname in ('transactions', 'subscriptions', 'purchase_links'))::int as "purchaseTables"
                from pg_locks l left join pg_class c on c.oid = l.relation
                where l.pid = pg_backend_pid()`,
          );
          seen.push(row!);
          return out;
        });
    },
  });
}

function verifierFor(pki: TestPki): SignedDataVerifier {
  return createSignedDataVerifier({ rootCertificates: [pki.rootDer], bundleId: TEST_BUNDLE_ID, environments: ['Sandbox'], onlineChecks: false });
}

describe(`npm run replay: rebuilding from the stored notifications (${backendName})`, () => {
  // The leaf expires in mid-2026: every stored notification has outlived its certificate,
  // as Apple's real ones do after about two years.
  const expiring = useTestPki({ notAfter: new Date(T0 + 6 * MONTH) });
  const t = useTestApp(() => ({ pki: expiring.pki }));
  const db = () => t.deps.database.db;

  async function lifeOf(s: Scenario): Promise<void> {
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, period: 0, status: 1 }));
    await deliver(t.app, s.sign({ type: 'DID_RENEW', signedDate: T0 + MONTH - HOUR, period: 1, status: 1 }));
    await deliver(
      t.app,
      s.sign({ type: 'REFUND', signedDate: T0 + MONTH + 2 * DAY, period: 0, transaction: { revocationDate: T0 + MONTH + 2 * DAY }, status: 1 }),
    );
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: 'AUTO_RENEW_DISABLED',
        signedDate: T0 + MONTH + 3 * DAY,
        period: 1,
        status: 1,
        renewal: { autoRenewStatus: 0 },
      }),
    );
  }

  it('restores rows lost or damaged since, and leaves correct rows as they are', async () => {
    const s = scenario(t.pki);
    await lifeOf(s);
    const before = await purchaseSnapshot(db(), s.originalTransactionId);
    await db()
      .delete(transactions)
      .where(eq(transactions.transactionId, s.transactionId(1)));
    await db().delete(subscriptions).where(eq(subscriptions.originalTransactionId, s.originalTransactionId));

    const result = await replayNotifications({ db: db(), verifier: verifierFor(t.pki) });
    expect(result).toMatchObject({ rejected: 0, skipped: 0, deleted: null });
    expect(result.read).toBeGreaterThanOrEqual(4);
    expect(result.transactionsWritten).toBeGreaterThanOrEqual(1);
    const after = await purchaseSnapshot(db(), s.originalTransactionId);
    expect(after.transactions.map(({ signedTransaction: _s, ...row }) => row)).toEqual(before.transactions.map(({ signedTransaction: _s, ...row }) => row));
    expect(after.subscriptions).toEqual(before.subscriptions);
  });

  it('writes nothing when run again over an up-to-date database', async () => {
    await lifeOf(scenario(t.pki));
    await replayNotifications({ db: db(), verifier: verifierFor(t.pki) });
    const second = await replayNotifications({ db: db(), verifier: verifierFor(t.pki) });
    expect(second).toMatchObject({ transactionsWritten: 0, subscriptionsWritten: 0, rejected: 0 });
  });

  it('with reset, drops rows no notification supports and rebuilds the rest in one transaction', async () => {
    const s = scenario(t.pki);
    await lifeOf(s);
    const before = await purchaseSnapshot(db(), s.originalTransactionId);
    const [template] = await db()
      .select()
      .from(transactions)
      .where(eq(transactions.transactionId, s.transactionId(1)));
    await db()
      .insert(transactions)
      .values({ ...template!, transactionId: `${s.originalTransactionId}-bogus`, expiresDate: new Date(T0 + 12 * MONTH) });
    await db().update(subscriptions).set({ appleStatus: 5 }).where(eq(subscriptions.originalTransactionId, s.originalTransactionId));

    const counts = await countRows(db());
    const result = await replayNotifications({ db: db(), verifier: verifierFor(t.pki) }, { reset: true });
    expect(result.deleted).toEqual({ transactions: counts.transactions, subscriptions: counts.subscriptions });
    expect(result.rejected).toBe(0);
    const after = await purchaseSnapshot(db(), s.originalTransactionId);
    expect(after.transactions.map((row) => row.transactionId)).toEqual(before.transactions.map((row) => row.transactionId));
    expect(after.subscriptions.map(({ appleStatus, autoRenewStatus }) => ({ appleStatus, autoRenewStatus }))).toEqual([{ appleStatus: 1, autoRenewStatus: 0 }]);
  });

  it('with reset, locks the purchase tables once instead of taking an advisory lock per purchase', async () => {
    // Advisory locks held until commit, one per purchase, would overflow PostgreSQL's lock
    // table (max_locks_per_transaction) in a rebuild of a few thousand purchases.
    for (let i = 0; i < 3; i += 1) await lifeOf(scenario(t.pki));
    const withoutReset: LocksAtCommit[] = [];
    await replayNotifications({ db: recordingLocks(db(), withoutReset), verifier: verifierFor(t.pki) });
    expect(withoutReset.some((locks) => locks.advisory > 0)).toBe(true);

    const withReset: LocksAtCommit[] = [];
    const result = await replayNotifications({ db: recordingLocks(db(), withReset), verifier: verifierFor(t.pki) }, { reset: true });
    expect(result.transactionsWritten).toBeGreaterThanOrEqual(3 * 2);
    expect(withReset).toEqual([{ advisory: 0, purchaseTables: 3 }]);
  });

  it('with reset, changes nothing when a stored notification no longer verifies', async () => {
    const s = scenario(t.pki);
    await lifeOf(s);
    const counts = await countRows(db());
    const before = await purchaseSnapshot(db(), s.originalTransactionId);
    const stranger = await createTestPki({ label: 'stranger' });
    const replayed = replayNotifications({ db: db(), verifier: verifierFor(stranger) }, { reset: true });
    await expect(replayed).rejects.toBeInstanceOf(ReplayAbortedError);
    await expect(replayed).rejects.toMatchObject({ code: 'REPLAY_ABORTED', result: { rejected: counts.notifications } });
    expect(await countRows(db())).toEqual(counts);
    expect(await purchaseSnapshot(db(), s.originalTransactionId)).toEqual(before);
  });

  it('marks a notification applied once the handling table applies its type', async () => {
    const s = scenario(t.pki);
    const uuid = randomUUID();
    await deliver(t.app, s.sign({ type: 'DID_RENEW', uuid, signedDate: T0 + 2 * MONTH, period: 2, status: 1 }));
    // As if it had arrived while an older table recorded DID_RENEW only.
    await db().update(notifications).set({ outcome: 'recorded' }).where(eq(notifications.id, uuid));
    await db().delete(transactions).where(eq(transactions.originalTransactionId, s.originalTransactionId));
    await replayNotifications({ db: db(), verifier: verifierFor(t.pki) });
    const [row] = await db().select().from(notifications).where(eq(notifications.id, uuid));
    expect(row?.outcome).toBe('applied');
    expect((await purchaseSnapshot(db(), s.originalTransactionId)).transactions.map((x) => x.transactionId)).toEqual([s.transactionId(2)]);
  });

  it('reads the stored notifications in pages without missing any', async () => {
    const s = scenario(t.pki);
    await lifeOf(s);
    const { notifications: stored } = await countRows(db());
    const result = await replayNotifications({ db: db(), verifier: verifierFor(t.pki) }, { batchSize: 3 });
    expect(result.read).toBe(stored);
    expect(result.applied + result.recorded).toBe(stored);
  });
});
