// Issue 19, operations per app: with three apps, the rate-limit buckets, the operational
// gauges and /readyz are each app's own. One app's traffic never spends another's budget,
// each app's pool, cache and delivery backlog is its own series, and one app's database
// failing makes the service unready with that app named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { TEST_ADMIN_KEY } from '../helpers/app.js';
import { createMultiAppTestApp, GLOBAL_API_KEY, type MultiAppTestApp, THREE_APPS } from '../helpers/apps.js';
import { backendName } from '../helpers/database.js';

// Three apps' databases migrated per block: on embedded PGlite, on a busy machine, that
// alone has taken more than two minutes.
const SETUP_MS = 300_000;

const [MAIN, KIDS, PHOTO] = THREE_APPS as [(typeof THREE_APPS)[number], (typeof THREE_APPS)[number], (typeof THREE_APPS)[number]];
const bearer = (key: string, appId?: string) => ({ authorization: `Bearer ${key}`, ...(appId === undefined ? {} : { 'x-app-id': appId }) });

/** The value of the sample of `name` whose labels include `labels`, or null when there is none. */
function sample(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

describe(`rate limits per app (${backendName})`, () => {
  let t: MultiAppTestApp;
  // Admin's limit follows the API's: 2 a minute for both.
  beforeAll(async () => {
    t = await createMultiAppTestApp({ env: { RATE_LIMIT_API_PER_MINUTE: '2' } });
  }, SETUP_MS);
  afterAll(async () => t?.close());

  const read = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/entitlements/rate-user', headers });

  it("keeps answering a global key for another app once it has spent one app's budget", async () => {
    expect((await read(bearer(GLOBAL_API_KEY, KIDS.id))).statusCode).toBe(200);
    expect((await read(bearer(GLOBAL_API_KEY, KIDS.id))).statusCode).toBe(200);
    const limited = await read(bearer(GLOBAL_API_KEY, KIDS.id));
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');

    expect((await read(bearer(GLOBAL_API_KEY, PHOTO.id))).statusCode).toBe(200);
    expect((await read(bearer(GLOBAL_API_KEY, MAIN.id))).statusCode).toBe(200);
    // Still spent for the first app.
    expect((await read(bearer(GLOBAL_API_KEY, KIDS.id))).statusCode).toBe(429);
  });

  it("keeps an app key to its own app's budget, whatever app its X-App-Id names", async () => {
    expect((await read(bearer(PHOTO.apiKey))).statusCode).toBe(200);
    expect((await read(bearer(PHOTO.apiKey, PHOTO.id))).statusCode).toBe(200);
    expect((await read(bearer(PHOTO.apiKey))).statusCode).toBe(429);
    // Naming another app does not open another budget: still its own app's, spent.
    expect((await read(bearer(PHOTO.apiKey, MAIN.id))).statusCode).toBe(429);
    // Another app's key is untouched.
    expect((await read(bearer(MAIN.apiKey))).statusCode).toBe(200);
  });

  it("gives an admin key a budget per app it names, apart from the app keys'", async () => {
    const list = (appId: string) => t.app.inject({ method: 'GET', url: '/admin/notifications', headers: bearer(TEST_ADMIN_KEY, appId) });
    expect((await list(MAIN.id)).statusCode).toBe(200);
    expect((await list(MAIN.id)).statusCode).toBe(200);
    expect((await list(MAIN.id)).statusCode).toBe(429);
    expect((await list(KIDS.id)).statusCode).toBe(200);
  });

  it('limits requests without a valid key per client address, whatever app they name', async () => {
    const from = (appId: string) =>
      t.app.inject({ method: 'GET', url: '/entitlements/rate-user', remoteAddress: '198.51.100.9', headers: bearer('not-a-key-at-all-0123', appId) });
    expect((await from(MAIN.id)).statusCode).toBe(401);
    expect((await from(KIDS.id)).statusCode).toBe(401);
    expect((await from(PHOTO.id)).statusCode).toBe(429);
  });
});

describe(`operational metrics per app (${backendName})`, () => {
  let t: MultiAppTestApp;
  let metrics: Metrics;
  let now = new Date('2026-12-01T12:00:00Z');
  beforeAll(async () => {
    // As server.ts builds it with several apps: what belongs to no app is labelled ''.
    metrics = createMetrics({ app: '', processMetrics: false });
    t = await createMultiAppTestApp({
      clock: () => now,
      // Never contacted: the delivery worker is not started here, so events stay pending.
      env: { EVENTS_WEBHOOK_URLS: 'http://127.0.0.1:9/events', EVENTS_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=' },
      overrides: { metrics, events: metrics.events },
    });
  }, SETUP_MS);
  afterAll(async () => t?.close());

  const scrape = async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return response.body;
  };

  it("reports each app's oldest undelivered event on its own series", async () => {
    const before = await scrape();
    for (const app of THREE_APPS) expect(sample(before, 'ase_event_delivery_oldest_pending_seconds', { app: app.id })).toBe(0);

    // A grant in one app records an event there, and nowhere else.
    const grant = await t.app.inject({
      method: 'POST',
      url: '/admin/users/metrics-user/grants',
      headers: bearer(TEST_ADMIN_KEY, KIDS.id),
      payload: { entitlement: 'pro', duration: 'P1M', reason: 'metrics per app' },
    });
    expect(grant.statusCode, grant.body).toBe(200);
    now = new Date(now.getTime() + 90_000);

    const after = await scrape();
    expect(sample(after, 'ase_event_delivery_oldest_pending_seconds', { app: KIDS.id })).toBe(90);
    expect(sample(after, 'ase_event_delivery_oldest_pending_seconds', { app: MAIN.id })).toBe(0);
    expect(sample(after, 'ase_event_delivery_oldest_pending_seconds', { app: PHOTO.id })).toBe(0);
  });

  it("counts each app's entitlement cache on its own series", async () => {
    const before = await scrape();
    const read = async () => {
      const response = await t.app.inject({ method: 'GET', url: '/entitlements/cache-user', headers: bearer(PHOTO.apiKey) });
      expect(response.statusCode).toBe(200);
    };
    await read();
    await read();
    const after = await scrape();
    const moved = (name: string, appId: string) => (sample(after, name, { app: appId }) ?? Number.NaN) - (sample(before, name, { app: appId }) ?? Number.NaN);
    expect(moved('ase_entitlements_cache_misses_total', PHOTO.id)).toBe(1);
    expect(moved('ase_entitlements_cache_hits_total', PHOTO.id)).toBe(1);
    expect(moved('ase_entitlements_cache_hits_total', MAIN.id)).toBe(0);
    expect(moved('ase_entitlements_cache_misses_total', KIDS.id)).toBe(0);
    expect(sample(after, 'ase_entitlements_cache_entries', { app: PHOTO.id })).toBe(t.app.apps.of(PHOTO.id)!.entitlementsCache.cache.stats().size);
    expect(sample(after, 'ase_entitlements_cache_entries', { app: MAIN.id })).toBe(t.app.apps.of(MAIN.id)!.entitlementsCache.cache.stats().size);
    for (const app of THREE_APPS) expect(sample(after, 'ase_entitlements_cache_serving', { app: app.id })).not.toBeNull();
  });

  it("reports each app's own database pool on PostgreSQL, and none on embedded PGlite", async () => {
    const text = await scrape();
    for (const app of THREE_APPS) {
      const total = sample(text, 'ase_db_pool_connections', { state: 'total', app: app.id });
      const pool = t.databases.get(app.id)!.database.poolStats();
      if (pool === null) expect(total).toBeNull();
      else expect(total).toBe(pool.total);
    }
  });
});

describe(`/readyz with several apps (${backendName})`, () => {
  let t: MultiAppTestApp;
  let now = new Date('2026-12-01T12:00:00Z');
  beforeAll(async () => {
    t = await createMultiAppTestApp({ clock: () => now, env: { RATE_LIMIT_PROBE_PER_MINUTE: '0' } });
  }, SETUP_MS);
  afterAll(async () => t?.close());

  it('answers 200 naming every app while every database answers', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({
      status: 'ready',
      apps: { [MAIN.id]: { status: 'ready' }, [KIDS.id]: { status: 'ready' }, [PHOTO.id]: { status: 'ready' } },
    });
  });

  it("answers 503 naming the app whose database does not answer, while the others' still do", async () => {
    await t.databases.get(KIDS.id)!.database.close();
    // Past the second the previous answer is reused for.
    now = new Date(now.getTime() + 1_100);
    const response = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode, response.body).toBe(503);
    expect(response.json()).toEqual({
      error: { code: 'DATABASE_UNAVAILABLE', message: expect.stringContaining(`"${KIDS.id}"`), apps: [KIDS.id] },
    });
    expect(response.json().error.message).not.toContain(MAIN.id);
    // The other apps still serve.
    expect((await t.app.inject({ method: 'GET', url: '/entitlements/ready-user', headers: bearer(MAIN.apiKey) })).statusCode).toBe(200);
  });
});
