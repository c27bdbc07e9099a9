import { randomUUID } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiCallOutcome, createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { authHeader, createTestApp, TEST_ADMIN_KEY, TEST_BUNDLE_ID } from '../helpers/app.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';
import { signNotification } from '../helpers/pki.js';

// Pressure checks off: a busy test machine must not turn these into 503s.

/** The value of one sample line of the exposition text, or null when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return null;
}

const shared = useDatabaseAndPki();

describe('GET /metrics', () => {
  let metrics: Metrics;
  const t = useTestApp(() => {
    metrics = createMetrics();
    return { ...shared, overrides: { metrics, events: metrics.events } };
  });
  beforeAll(async () => {
    await t.app.ready();
  });

  const scrape = async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return response.body;
  };

  it('answers in the Prometheus text format with the service and process series', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of [
      'ase_notifications_total',
      'ase_verification_failures_total',
      'ase_ingest_duration_seconds',
      'ase_http_request_duration_seconds',
      'ase_app_store_api_calls_total',
      'ase_app_store_api_duration_seconds',
      'ase_recovery_runs_total',
      'ase_db_pool_connections',
      'process_cpu_user_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(response.body).toContain(`# TYPE ${name} `);
    }
  });

  it('counts a notification posted to the webhook by version, type and outcome, and times its ingest', async () => {
    const labels = { version: 'v2', type: 'SUBSCRIBED', outcome: 'processed' };
    const before = await scrape();
    const signedPayload = signNotification(shared.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: randomUUID(),
      bundleId: TEST_BUNDLE_ID,
      environment: 'Sandbox',
    });
    const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } });
    expect(response.statusCode).toBe(200);
    const after = await scrape();
    expect((sample(after, 'ase_notifications_total', labels) ?? 0) - (sample(before, 'ase_notifications_total', labels) ?? 0)).toBe(1);
    const count = (text: string) => sample(text, 'ase_ingest_duration_seconds_count', { version: 'v2', outcome: 'processed' }) ?? 0;
    expect(count(after) - count(before)).toBe(1);
  });

  it('counts a rejected webhook as a verification failure by code', async () => {
    const before = await scrape();
    const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: 'not.a.jws' } });
    expect(response.statusCode).toBe(400);
    const after = await scrape();
    const failures = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('ase_verification_failures_total{'))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    expect(failures(after) - failures(before)).toBe(1);
  });

  it('moves every service series when the events are reported', async () => {
    metrics.events.notification({ version: 'v1', type: 'DID_RENEW', outcome: 'duplicate', durationMs: 12 });
    metrics.events.verificationFailed({ code: 'CHAIN_UNTRUSTED' });
    metrics.events.appStoreApiCall({ endpoint: 'getTransactionInfo', environment: 'Sandbox', status: 200, durationMs: 80, attempt: 1 });
    metrics.events.appStoreApiCall({ endpoint: 'getTransactionInfo', environment: 'Sandbox', status: 'network_error', durationMs: 5000, attempt: 2 });
    metrics.events.recoveryRun({ trigger: 'admin', outcome: 'success', fetched: 4, applied: 3 });
    const text = await scrape();
    expect(sample(text, 'ase_notifications_total', { version: 'v1', type: 'DID_RENEW', outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'ase_verification_failures_total', { code: 'CHAIN_UNTRUSTED' })).toBe(1);
    expect(sample(text, 'ase_app_store_api_calls_total', { endpoint: 'getTransactionInfo', outcome: 'success' })).toBe(1);
    expect(sample(text, 'ase_app_store_api_calls_total', { endpoint: 'getTransactionInfo', outcome: 'network_error' })).toBe(1);
    expect(sample(text, 'ase_app_store_api_duration_seconds_sum', { endpoint: 'getTransactionInfo', environment: 'Sandbox' })).toBeCloseTo(5.08);
    expect(sample(text, 'ase_recovery_runs_total', { trigger: 'admin', outcome: 'success' })).toBe(1);
    expect(sample(text, 'ase_recovery_applied_notifications_total')).toBe(3);
  });

  it('times HTTP requests by route template, not by raw URL', async () => {
    await t.app.inject({ method: 'GET', url: '/healthz' });
    await t.app.inject({ method: 'GET', url: '/no/such/route/123' });
    const text = await scrape();
    expect(sample(text, 'ase_http_request_duration_seconds_count', { route: '/healthz', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'ase_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('/no/such/route/123');
  });

  it('counts the entitlement cache’s misses, hits, entries and invalidations, and says it serves', async () => {
    const userId = `metrics-${randomUUID()}`;
    const read = async () => {
      const response = await t.app.inject({ method: 'GET', url: `/entitlements/${userId}`, headers: authHeader() });
      expect(response.statusCode).toBe(200);
    };
    const before = await scrape();
    const count = (text: string, name: string) => sample(text, name) ?? Number.NaN;
    await read();
    await read();
    const warm = await scrape();
    expect(count(warm, 'ase_entitlements_cache_misses_total')).toBe(count(before, 'ase_entitlements_cache_misses_total') + 1);
    expect(count(warm, 'ase_entitlements_cache_hits_total')).toBe(count(before, 'ase_entitlements_cache_hits_total') + 1);
    expect(count(warm, 'ase_entitlements_cache_entries')).toBe(t.app.entitlementsCache.stats().size);
    expect(count(warm, 'ase_entitlements_cache_entries')).toBeGreaterThanOrEqual(1);
    expect(count(warm, 'ase_entitlements_cache_serving')).toBe(1);

    const grant = await t.app.inject({
      method: 'POST',
      url: `/admin/users/${userId}/grants`,
      headers: authHeader(TEST_ADMIN_KEY),
      payload: { entitlement: 'pro', duration: 'P1M', reason: 'metrics test' },
    });
    expect(grant.statusCode, grant.body).toBe(200);
    const after = await scrape();
    expect(count(after, 'ase_entitlements_cache_invalidations_total')).toBeGreaterThan(count(warm, 'ase_entitlements_cache_invalidations_total'));
    expect(count(after, 'ase_entitlements_cache_entries')).toBe(count(warm, 'ase_entitlements_cache_entries') - 1);
  });

  it('reports the database pool on a PostgreSQL server and nothing on embedded PGlite', async () => {
    const text = await scrape();
    // One app: labelled with its id, like every other series of the app.
    const total = sample(text, 'ase_db_pool_connections', { state: 'total', app: 'default' });
    if (t.deps.database.kind === 'postgres') expect(total).toBeGreaterThanOrEqual(0);
    else expect(total).toBeNull();
  });
});

describe('metrics settings', () => {
  it('answers 404 on /metrics when METRICS_ENABLED is false', async () => {
    const t = await createTestApp({ ...shared, env: { METRICS_ENABLED: 'false' } });
    try {
      const response = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.code).toBe('NOT_FOUND');
    } finally {
      await t.close();
    }
  });

  it('keeps each registry to its own app, so two apps never mix their counts', async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.events.verificationFailed({ code: 'X' });
    expect(await a.registry.metrics()).toContain('ase_verification_failures_total{code="X",app="default"} 1');
    expect(await b.registry.metrics()).not.toContain('code="X"');
  });

  it('adds up the entitlement caches of WORKERS processes as the primary aggregates them, serving only while every one serves', async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.trackEntitlementsCache('default', () => ({ size: 3, hits: 10, misses: 4, serving: true, invalidations: 2 }));
    b.trackEntitlementsCache('default', () => ({ size: 5, hits: 1, misses: 6, serving: false, invalidations: 7 }));
    // What src/cluster.ts's primary answers: prom-client's aggregation of every worker's registry.
    const aggregate = async (...registries: Metrics[]) =>
      AggregatorRegistry.aggregate(await Promise.all(registries.map((m) => m.registry.getMetricsAsJSON()))).metrics();
    const both = await aggregate(a, b);
    expect(sample(both, 'ase_entitlements_cache_hits_total')).toBe(11);
    expect(sample(both, 'ase_entitlements_cache_misses_total')).toBe(10);
    expect(sample(both, 'ase_entitlements_cache_invalidations_total')).toBe(9);
    expect(sample(both, 'ase_entitlements_cache_entries')).toBe(8);
    expect(sample(both, 'ase_entitlements_cache_serving')).toBe(0);
    b.trackEntitlementsCache('default', () => ({ size: 5, hits: 1, misses: 6, serving: true, invalidations: 7 }));
    expect(sample(await aggregate(a, b), 'ase_entitlements_cache_serving')).toBe(1);
  });

  it("keeps each app's cache apart when the primary aggregates the WORKERS processes", async () => {
    const a = createMetrics({ app: '', processMetrics: false });
    const b = createMetrics({ app: '', processMetrics: false });
    a.trackEntitlementsCache('main', () => ({ size: 3, hits: 10, misses: 4, serving: true, invalidations: 2 }));
    a.trackEntitlementsCache('kids', () => ({ size: 1, hits: 2, misses: 1, serving: true, invalidations: 0 }));
    b.trackEntitlementsCache('main', () => ({ size: 5, hits: 1, misses: 6, serving: true, invalidations: 7 }));
    b.trackEntitlementsCache('kids', () => ({ size: 2, hits: 0, misses: 3, serving: false, invalidations: 1 }));
    const both = await AggregatorRegistry.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]).metrics();
    expect(sample(both, 'ase_entitlements_cache_hits_total', { app: 'main' })).toBe(11);
    expect(sample(both, 'ase_entitlements_cache_hits_total', { app: 'kids' })).toBe(2);
    expect(sample(both, 'ase_entitlements_cache_entries', { app: 'kids' })).toBe(3);
    expect(sample(both, 'ase_entitlements_cache_serving', { app: 'main' })).toBe(1);
    expect(sample(both, 'ase_entitlements_cache_serving', { app: 'kids' })).toBe(0);
  });

  it("labels each app's read replica, pool and delivery backlog with the app, and leaves an app without one out", async () => {
    const m = createMetrics({ app: '', processMetrics: false });
    const checkedAt = new Date('2026-12-01T12:00:00Z');
    m.trackReadReplica('main', () => ({
      status: { state: 'lagging', pool: 'primary', lagMs: 4_500, lagBytes: 2048, checkedAt, reason: 'behind' },
      reads: { primary: 7, replica: 3 },
    }));
    m.trackDatabasePool('main', () => ({ total: 4, idle: 3, waiting: 0 }));
    m.trackDatabasePool('kids', () => ({ total: 2, idle: 0, waiting: 5 }));
    m.trackOldestPendingEvent('main', async () => null);
    m.trackOldestPendingEvent('kids', async () => 12.5);
    const text = await m.registry.metrics();
    expect(sample(text, 'ase_db_replica_lag_seconds', { app: 'main' })).toBe(4.5);
    expect(sample(text, 'ase_db_replica_lag_bytes', { app: 'main' })).toBe(2048);
    expect(sample(text, 'ase_db_replica_state', { state: 'lagging', app: 'main' })).toBe(1);
    expect(sample(text, 'ase_db_reads_total', { pool: 'replica', app: 'main' })).toBe(3);
    expect(sample(text, 'ase_db_replica_lag_seconds', { app: 'kids' })).toBeNull();
    expect(sample(text, 'ase_db_replica_state', { app: 'kids' })).toBeNull();
    expect(sample(text, 'ase_db_pool_connections', { state: 'waiting', app: 'kids' })).toBe(5);
    expect(sample(text, 'ase_db_pool_connections', { state: 'total', app: 'main' })).toBe(4);
    expect(sample(text, 'ase_event_delivery_oldest_pending_seconds', { app: 'main' })).toBe(0);
    expect(sample(text, 'ase_event_delivery_oldest_pending_seconds', { app: 'kids' })).toBe(12.5);
  });

  it('reduces App Store Server API statuses to a few outcomes', () => {
    expect([200, 201, 400, 404, 429, 500, 503, 'network_error' as const].map(apiCallOutcome)).toEqual([
      'success',
      'success',
      'client_error',
      'client_error',
      'rate_limited',
      'server_error',
      'server_error',
      'network_error',
    ]);
  });
});
