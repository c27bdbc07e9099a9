import { describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/client.js';
import { createTestApp } from '../helpers/app.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';

// Probes stay cheap and cannot be used to flood: a generous per-address limit, and a
// database answer that /readyz reuses for a second.

const shared = useDatabaseAndPki();

describe('probe rate limit', () => {
  const t = useTestApp(() => ({ ...shared, env: { RATE_LIMIT_PROBE_PER_MINUTE: '4' } }));

  it('limits /healthz, /readyz and /metrics per client address, each address on its own budget', async () => {
    const probe = (url: string, remoteAddress: string) => t.app.inject({ method: 'GET', url, remoteAddress });
    for (const url of ['/healthz', '/readyz', '/metrics', '/healthz']) expect((await probe(url, '203.0.113.1')).statusCode).toBe(200);
    const limited = await probe('/readyz', '203.0.113.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect((await probe('/healthz', '203.0.113.2')).statusCode).toBe(200);
  });

  it('is generous by default: a probe every second from one address never comes near it', async () => {
    const other = await createTestApp({ ...shared });
    try {
      expect(other.deps.config.rateLimit.probePerMinute).toBeGreaterThanOrEqual(600);
      for (let i = 0; i < 70; i++) expect((await other.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('/readyz', () => {
  it('asks the database at most once a second, however many probes arrive', async () => {
    let pings = 0;
    const counting: DatabaseHandle = {
      ...shared.database.handle,
      async ping() {
        pings++;
        await shared.database.handle.ping();
      },
    };
    let now = new Date('2026-12-01T12:00:00Z');
    const t = await createTestApp({
      ...shared,
      clock: () => now,
      env: { RATE_LIMIT_PROBE_PER_MINUTE: '0' },
      overrides: { database: counting },
    });
    try {
      const flood = await Promise.all(Array.from({ length: 50 }, () => t.app.inject({ method: 'GET', url: '/readyz' })));
      expect(flood.every((response) => response.statusCode === 200)).toBe(true);
      // One app: the answer names none (test/apps/operations-per-app.test.ts has several).
      expect(flood[0]!.json()).toEqual({ status: 'ready' });
      for (let i = 0; i < 20; i++) expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      expect(pings).toBe(1);
      now = new Date(now.getTime() + 1_100);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      expect(pings).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('reuses a failed answer for that second too, so a flood during an outage does not pile up database attempts', async () => {
    let pings = 0;
    const down: DatabaseHandle = {
      ...shared.database.handle,
      async ping() {
        pings++;
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
    };
    let now = new Date('2026-12-01T12:00:00Z');
    const t = await createTestApp({ ...shared, clock: () => now, env: { RATE_LIMIT_PROBE_PER_MINUTE: '0' }, overrides: { database: down } });
    try {
      for (let i = 0; i < 10; i++) {
        const response = await t.app.inject({ method: 'GET', url: '/readyz' });
        expect(response.statusCode).toBe(503);
        expect(response.json()).toEqual({ error: { code: 'DATABASE_UNAVAILABLE', message: 'The database does not answer' } });
      }
      expect(pings).toBe(1);
      now = new Date(now.getTime() + 1_100);
      await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(pings).toBe(2);
    } finally {
      await t.close();
    }
  });
});
