import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { authHeader, TEST_ADMIN_KEY, testConfig } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';

// Issue 19 (SPEC "Several apps"): every per-app series carries an `app` label, the same
// names as before; a single-app installation's carry its one app's id, so a dashboard does
// not change when a second app is added.

/** The sum of the samples of `name` whose labels include every one of `labels` (0 when none). */
function total(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.split(',').includes(`${key}="${value}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Everything a sink can report, once. */
function reportOnce(events: Metrics['events']): void {
  events.notification({ version: 'v2', type: 'DID_RENEW', outcome: 'processed', durationMs: 20 });
  events.verificationFailed({ code: 'CHAIN_UNTRUSTED' });
  events.appStoreApiCall({ endpoint: 'getTransactionInfo', environment: 'Sandbox', status: 200, durationMs: 80, attempt: 1 });
  events.recoveryRun({ trigger: 'schedule', outcome: 'success', fetched: 3, applied: 2 });
  events.eventDelivery({ url: 'https://backend.example/hook', outcome: 'delivered', durationMs: 30 });
  events.eventsRecorded({ type: 'entitlements.updated', count: 4 });
}

const PER_APP_SERIES: [name: string, perReport: number][] = [
  ['ase_notifications_total', 1],
  ['ase_ingest_duration_seconds_count', 1],
  ['ase_verification_failures_total', 1],
  ['ase_app_store_api_calls_total', 1],
  ['ase_app_store_api_duration_seconds_count', 1],
  ['ase_recovery_runs_total', 1],
  ['ase_recovery_applied_notifications_total', 2],
  ['ase_event_deliveries_total', 1],
  ['ase_event_delivery_duration_seconds_count', 1],
  ['ase_events_recorded_total', 4],
];

describe('metrics per app', () => {
  it("labels what a single-app installation's sink reports with its app: `default` unless said", async () => {
    const plain = createMetrics({ processMetrics: false });
    reportOnce(plain.events);
    const named = createMetrics({ processMetrics: false, app: 'main' });
    reportOnce(named.events);
    const [plainText, namedText] = [await plain.scrape(), await named.scrape()];
    for (const [name, perReport] of PER_APP_SERIES) {
      expect(total(plainText, name, { app: 'default' }), name).toBe(perReport);
      expect(total(namedText, name, { app: 'main' }), name).toBe(perReport);
      expect(total(namedText, name, { app: 'default' }), name).toBe(0);
    }
  });

  it("gives each app a sink of its own whose series carry the app's id and never another app's counts", async () => {
    const metrics = createMetrics({ processMetrics: false, app: '' });
    const kids = metrics.events.forApp!('kids');
    const photos = metrics.events.forApp!('photos');
    reportOnce(kids);
    reportOnce(kids);
    reportOnce(photos);
    const text = await metrics.scrape();
    for (const [name, perReport] of PER_APP_SERIES) {
      expect(total(text, name, { app: 'kids' }), name).toBe(2 * perReport);
      expect(total(text, name, { app: 'photos' }), name).toBe(perReport);
      expect(total(text, name, { app: '' }), name).toBe(0);
    }
    // The other labels stay as they were.
    expect(text).toContain('ase_notifications_total{version="v2",type="DID_RENEW",outcome="processed",app="kids"} 2');
    // One sink per app, reachable from any other's.
    expect(metrics.events.forApp!('kids')).toBe(kids);
    expect(photos.forApp!('kids')).toBe(kids);
  });

  it('adds up each app apart when the WORKERS primary aggregates the processes', async () => {
    const a = createMetrics({ processMetrics: false, app: '' });
    const b = createMetrics({ processMetrics: false, app: '' });
    reportOnce(a.events.forApp!('kids'));
    reportOnce(b.events.forApp!('kids'));
    reportOnce(b.events.forApp!('photos'));
    const both = await AggregatorRegistry.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]).metrics();
    expect(total(both, 'ase_notifications_total', { app: 'kids' })).toBe(2);
    expect(total(both, 'ase_notifications_total', { app: 'photos' })).toBe(1);
  });
});

const shared = useDatabaseAndPki();

describe(`HTTP request metrics per app (${backendName})`, () => {
  // Three apps as parseConfig makes them of an APPS_FILE (loadConfig still refuses several at start-up; buildApp does not).
  const config = (): Config => {
    const base = testConfig();
    const first = base.apps[0]!;
    return {
      ...base,
      appsFile: 'apps.json',
      apps: [
        { ...first, id: 'main' },
        { ...first, id: 'kids', bundleId: 'com.example.kids', apiKeys: [] },
        { ...first, id: 'photos', bundleId: 'com.example.photos', apiKeys: [] },
      ],
    };
  };
  let metrics: Metrics;
  const t = useTestApp(() => {
    metrics = createMetrics({ processMetrics: false, app: '' });
    return { ...shared, overrides: { config: config(), metrics, events: metrics.events } };
  });

  it('times each request under the app it acted for, and under app="" when it acted for none', async () => {
    const admin = authHeader(TEST_ADMIN_KEY);
    for (const app of ['kids', 'kids', 'photos']) {
      const response = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: { ...admin, 'x-app-id': app } });
      expect(response.statusCode).toBe(200);
    }
    // An app key acts for its app without naming it.
    expect((await t.app.inject({ method: 'GET', url: '/entitlements/u-metrics-apps', headers: authHeader() })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const text = await metrics.scrape();
    const count = (labels: Record<string, string>) => total(text, 'ase_http_request_duration_seconds_count', labels);
    expect(count({ route: '/admin/apps', app: 'kids' })).toBe(2);
    expect(count({ route: '/admin/apps', app: 'photos' })).toBe(1);
    expect(count({ route: '/entitlements/:userId', app: 'main' })).toBe(1);
    expect(count({ route: '/healthz', app: '' })).toBe(1);
  });
});
