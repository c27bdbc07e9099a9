import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { parseLsn, type ReplicaStatus } from '../../src/db/read-routing.js';
import { MONTHLY, postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, createTestApp, TEST_ADMIN_KEY, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { createTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

// Reads from a real streaming standby of the test server (scripts/standby.sh makes one on
// port 5433; .ci/run sets TEST_DATABASE_READ_URL). The test database is created on the
// primary and reaches the standby by replication, like every write the tests make. The
// service reaches the standby through a TCP proxy, so "the standby goes away" is a cut
// connection without stopping a server other test files may share.

const standbyUrl = process.env.TEST_DATABASE_READ_URL?.trim() || null;
const skipReason =
  testDatabaseUrl === null
    ? 'skipped: embedded PGlite has no streaming replication (needs TEST_DATABASE_URL and TEST_DATABASE_READ_URL)'
    : standbyUrl === null
      ? 'skipped: no standby given in TEST_DATABASE_READ_URL (scripts/standby.sh makes one)'
      : 'TEST_DATABASE_READ_URL';
const runs = testDatabaseUrl !== null && standbyUrl !== null;

describe('the read replica tests in CI', () => {
  it.runIf(process.env.CI === 'true' && testDatabaseUrl !== null)('have a standby to run against on PostgreSQL (they must not skip)', () => {
    expect(standbyUrl, 'CI on PostgreSQL runs scripts/standby.sh and sets TEST_DATABASE_READ_URL').not.toBeNull();
  });
});

describe('parseLsn', () => {
  it('orders WAL positions as PostgreSQL does, across the high word', () => {
    expect(parseLsn('0/16B37A0')).toBe(0x16b37a0n);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(() => parseLsn('garbage')).toThrow();
  });
});

async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.runIf(runs)(`reads from a streaming standby (${skipReason})`, () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let standby: pg.Client;
  const apps: { app: TestApp; close(): Promise<void> }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const target = new URL(standbyUrl!);
    proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    standby = new pg.Client({ connectionString: standbyUrl! });
    await standby.connect();
  });

  afterEach(async () => {
    // Whatever a test did, the standby replays again and the proxy passes.
    await standby.query('select pg_wal_replay_resume()');
    await proxy.restore().catch(() => undefined);
    for (const entry of apps.splice(0)) await entry.close();
  });

  afterAll(async () => {
    await standby?.end();
    await proxy?.close();
    await database?.destroy();
  });

  /** The app over the test database, reading from the standby (through the proxy) with this READ_MAX_LAG. */
  async function appWithReplica(maxLag: string): Promise<TestApp> {
    const replicaUrl = new URL(database.url!);
    replicaUrl.host = `127.0.0.1:${proxy.port}`;
    const readReplica = await openDatabase({ url: replicaUrl.toString(), dataDir: 'memory://', onPoolError: () => {} });
    const app = await createTestApp({
      database,
      // The entitlements cache off: with it on, its misses read the primary (docs/entitlements-cache.md).
      env: { DATABASE_URL: database.url!, DATABASE_READ_URL: replicaUrl.toString(), READ_MAX_LAG: maxLag, ENTITLEMENTS_CACHE_SIZE: '0' },
      overrides: { readReplica },
    });
    apps.push({
      app,
      async close() {
        await app.close();
        await readReplica.close();
      },
    });
    await app.app.ready();
    // The test database and its migrations reach the standby by replication: wait for them.
    await eventually(
      'the standby current',
      () => routing(app).check(),
      (status) => status.state === 'current',
    );
    return app;
  }

  const routing = (t: TestApp) => t.app.readRouting!;
  const grant = (t: TestApp, userId: string) =>
    t.app.inject({
      method: 'POST',
      url: `/admin/users/${userId}/grants`,
      headers: authHeader(TEST_ADMIN_KEY),
      payload: { entitlement: 'beta', duration: 'P1M', reason: 'read replica test' },
    });
  const entitlementsOf = async (t: TestApp, userId: string) => {
    const response = await t.app.inject({ method: 'GET', url: `/entitlements/${userId}`, headers: authHeader() });
    expect(response.statusCode).toBe(200);
    return (response.json() as { entitlements: { entitlement: string }[] }).entitlements.map((entry) => entry.entitlement);
  };

  it('serves GET /entitlements from the standby while it is current: a write the paused standby has not replayed is not seen', async () => {
    // A generous limit: the paused standby stays within it for the whole test.
    const t = await appWithReplica('60s');
    const before = routing(t).reads();
    await standby.query('select pg_wal_replay_pause()');
    expect((await grant(t, 'r-user-1')).statusCode).toBe(200);

    expect(await entitlementsOf(t, 'r-user-1')).toEqual([]);
    expect(routing(t).reads().replica).toBeGreaterThan(before.replica);
    expect(routing(t).status().pool).toBe('replica');

    await standby.query('select pg_wal_replay_resume()');
    await eventually(
      'the grant replayed on the standby',
      () => entitlementsOf(t, 'r-user-1'),
      (list) => list.includes('beta'),
    );
  });

  it('sends reads to the primary once the standby is further behind than READ_MAX_LAG, and back once it catches up', async () => {
    const t = await appWithReplica('500ms');
    await standby.query('select pg_wal_replay_pause()');
    expect((await grant(t, 'r-user-2')).statusCode).toBe(200);

    const lagging = await eventually(
      'the standby lagging',
      () => routing(t).check(),
      (status) => status.state === 'lagging',
    );
    expect(lagging.pool).toBe('primary');
    expect(lagging.lagBytes).toBeGreaterThan(0);
    const before = routing(t).reads();
    expect(await entitlementsOf(t, 'r-user-2')).toEqual(['beta']);
    expect(routing(t).reads().primary).toBeGreaterThan(before.primary);
    expect(routing(t).reads().replica).toBe(before.replica);

    await standby.query('select pg_wal_replay_resume()');
    await eventually(
      'the standby current again',
      () => routing(t).check(),
      (status) => status.state === 'current' && status.pool === 'replica',
    );
    const caughtUp = routing(t).reads();
    expect(await entitlementsOf(t, 'r-user-2')).toEqual(['beta']);
    expect(routing(t).reads().replica).toBeGreaterThan(caughtUp.replica);
  });

  it('keeps answering from the primary when the standby goes away, stays ready while showing it, and goes back when it returns', async () => {
    const t = await appWithReplica('60s');
    expect((await grant(t, 'r-user-3')).statusCode).toBe(200);
    await eventually(
      'the grant on the standby',
      () => entitlementsOf(t, 'r-user-3'),
      (list) => list.includes('beta'),
    );

    await proxy.cut();
    // Before any check notices: the read that fails on the standby is answered by the primary.
    expect(await entitlementsOf(t, 'r-user-3')).toEqual(['beta']);
    const away = await routing(t).check();
    expect(away).toMatchObject({ state: 'unreachable', pool: 'primary' } satisfies Partial<ReplicaStatus>);
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', readReplica: { state: 'unreachable', pool: 'primary' } });
    const before = routing(t).reads();
    expect(await entitlementsOf(t, 'r-user-3')).toEqual(['beta']);
    expect(routing(t).reads().primary).toBeGreaterThan(before.primary);

    await proxy.restore();
    await eventually(
      'the standby back',
      () => routing(t).check(),
      (status) => status.state === 'current',
    );
    const back = routing(t).reads();
    expect(await entitlementsOf(t, 'r-user-3')).toEqual(['beta']);
    expect(routing(t).reads().replica).toBeGreaterThan(back.replica);
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('ase_db_replica_state{state="current",app="default"} 1');
    expect(metrics).toMatch(/ase_db_reads_total\{pool="replica",app="default"\} [1-9]/);
    expect(metrics).toMatch(/ase_db_replica_lag_seconds\{app="default"\} \d/);
  });

  it('answers a write route from the primary while GET /entitlements still reads the paused standby', async () => {
    const t = await appWithReplica('60s');
    await standby.query('select pg_wal_replay_pause()');
    const purchaseDate = Date.now() - 86_400_000;
    const linked = await postTransaction(t, 'r-user-4', transactionPayload({ transactionId: '2000000000004201', purchaseDate }));
    expect(linked.statusCode).toBe(200);
    expect((linked.json() as { entitlements: { entitlement: string; active: boolean }[] }).entitlements).toMatchObject([
      { entitlement: MONTHLY, active: true },
    ]);
    expect(await entitlementsOf(t, 'r-user-4')).toEqual([]);
    expect(routing(t).status().pool).toBe('replica');
  });
});
