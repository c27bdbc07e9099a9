import { beforeAll, describe, expect, it } from 'vitest';
import { defaultPressureLimits } from '../../src/http/pressure.js';
import { authHeader, type TestApp } from '../helpers/app.js';
import { useTestApp } from '../helpers/fixtures.js';

/** Polls until under-pressure has taken a sample over the threshold (it samples on a timer). */
async function untilUnderPressure(t: TestApp): Promise<void> {
  const app = t.app as unknown as { isUnderPressure(): boolean };
  for (let i = 0; i < 200 && !app.isUnderPressure(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(app.isUnderPressure()).toBe(true);
}

describe('load shedding', () => {
  // A heap ceiling of one byte: every sample after the first is "under pressure".
  const t = useTestApp({ overrides: { pressure: { maxHeapUsedBytes: 1, maxEventLoopDelayMs: 0, sampleIntervalMs: 10, retryAfterSeconds: 7 } } });

  beforeAll(async () => {
    t.app.get('/probe/api', async () => ({ ok: true }));
    await t.app.ready();
    await untilUnderPressure(t);
  });

  it('answers 503 UNDER_PRESSURE in the error shape with Retry-After', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: { code: 'UNDER_PRESSURE', message: expect.any(String) } });
    expect(response.headers['retry-after']).toBe('7');
  });

  it('sheds webhooks too, which Apple retries', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: 'x' } });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('UNDER_PRESSURE');
  });

  it('keeps answering liveness and the metrics scrape, so an overloaded process is not restarted and an operator sees why', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });

  it('answers readiness 503 UNDER_PRESSURE, so the balancer sends traffic elsewhere for a while', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('UNDER_PRESSURE');
  });

  it('does not add a status route of its own', () => {
    expect(t.app.hasRoute({ method: 'GET', url: '/status' })).toBe(false);
  });
});

describe('load-shedding defaults', () => {
  it('trip at one second of event-loop delay and below the heap limit, and retry after a few seconds', () => {
    const limits = defaultPressureLimits();
    expect(limits.maxEventLoopDelayMs).toBe(1_000);
    expect(limits.maxHeapUsedBytes).toBeGreaterThan(0);
    expect(limits.maxRssBytes).toBeGreaterThan(limits.maxHeapUsedBytes / 4);
    expect(limits.retryAfterSeconds).toBeGreaterThan(0);
  });
});
