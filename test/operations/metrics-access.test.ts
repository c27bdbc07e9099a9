import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { buildMetricsApp } from '../../src/metrics/metrics.routes.js';
import { createTestApp, testConfig } from '../helpers/app.js';
import { TEST_API_KEY } from '../helpers/constants.js';
import { useDatabaseAndPki } from '../helpers/fixtures.js';

// /metrics shows business counts (refunds, subscriptions): METRICS_TOKEN guards it and
// METRICS_PORT moves it off the port the internet reaches.

const TOKEN = 'metrics-token-0123456789abcdef';

const shared = useDatabaseAndPki();

describe('METRICS_TOKEN', () => {
  it('answers 401 in the error shape without the bearer token, or with a wrong one, and 200 with it', async () => {
    const t = await createTestApp({ ...shared, env: { METRICS_TOKEN: TOKEN } });
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: TOKEN }]) {
        const response = await t.app.inject({ method: 'GET', url: '/metrics', headers });
        expect(response.statusCode).toBe(401);
        expect(response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
        expect(response.body).not.toContain('ase_');
      }
      const ok = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('ase_notifications_total');
    } finally {
      await t.close();
    }
  });

  it('does not take an API key in place of the metrics token', async () => {
    const t = await createTestApp({ ...shared, env: { METRICS_TOKEN: TOKEN } });
    try {
      const response = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TEST_API_KEY}` } });
      expect(response.statusCode).toBe(401);
    } finally {
      await t.close();
    }
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on a listener of its own, with the token, and not on the service port', async () => {
    const metrics = createMetrics();
    const t = await createTestApp({
      ...shared,
      env: { METRICS_PORT: '9464', METRICS_TOKEN: TOKEN },
      overrides: { metrics, events: metrics.events },
    });
    const config = testConfig({ METRICS_PORT: '9464', METRICS_TOKEN: TOKEN });
    const metricsApp = await buildMetricsApp({ metrics, config, logger: pino({ level: 'silent' }) });
    try {
      const onServicePort = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(onServicePort.statusCode).toBe(404);
      // The service port's requests are still timed, and show on the metrics listener.
      await t.app.inject({ method: 'GET', url: '/healthz' });

      await metricsApp.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(metricsApp.server.address() as AddressInfo).port}/metrics`;
      const denied = await fetch(url);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
      const scraped = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('ase_http_request_duration_seconds_count{route="/healthz"');
      const elsewhere = await fetch(url.replace('/metrics', '/entitlements/u1'));
      expect(elsewhere.status).toBe(404);
    } finally {
      await metricsApp.close();
      await t.close();
    }
  });
});
