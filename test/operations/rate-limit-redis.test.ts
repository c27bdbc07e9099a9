import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { requireApiKey } from '../../src/http/auth.js';
import { createRateLimitRedis } from '../../src/http/rate-limit.js';
import { authHeader, createTestApp, type TestApp } from '../helpers/app.js';
import { useDatabaseAndPki } from '../helpers/fixtures.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const redisReachable = await redisAnswers(REDIS_URL);
const silent = pino({ level: 'silent' });

const shared = useDatabaseAndPki();

/** An app whose API key is new to Redis, so counts left by an earlier run cannot interfere. */
async function replica(apiKey: string, redis: Redis): Promise<TestApp> {
  const t = await createTestApp({
    ...shared,
    env: { API_KEYS: apiKey, RATE_LIMIT_API_PER_MINUTE: '3' },
    overrides: { redis },
  });
  t.app.register(async (scope) => {
    scope.addHook('onRequest', requireApiKey(scope.keys.app));
    scope.get('/probe/api', async () => ({ ok: true }));
  });
  await t.app.ready();
  return t;
}

describe.skipIf(!redisReachable)(`rate limits shared through Redis (skipped when ${REDIS_URL} does not answer)`, () => {
  it('counts requests to two replicas against one limit', async () => {
    const apiKey = `key-${randomBytes(8).toString('hex')}`;
    const [redisA, redisB] = [createRateLimitRedis(REDIS_URL, silent), createRateLimitRedis(REDIS_URL, silent)];
    await Promise.all([redisA, redisB].map((redis) => new Promise((resolve) => redis.once('ready', resolve))));
    const a = await replica(apiKey, redisA);
    const b = await replica(apiKey, redisB);
    try {
      const get = (t: TestApp) => t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader(apiKey) });
      expect((await get(a)).statusCode).toBe(200);
      expect((await get(b)).statusCode).toBe(200);
      expect((await get(a)).statusCode).toBe(200);
      const limited = await get(b);
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
      const keys = await redisA.keys(`ase-rate-limit:*`);
      // The API buckets (`api:<app>:key:<id>`); other runs' keys are new ones, left to expire.
      const buckets = keys.filter((key) => key.includes(':key:'));
      if (buckets.length > 0) await redisA.del(...buckets);
      redisA.disconnect();
      redisB.disconnect();
    }
  });
});

describe('rate limits while Redis is away', () => {
  it('let requests through rather than fail them', async () => {
    // Nothing listens on port 1: every Redis command fails at once.
    const redis = createRateLimitRedis('redis://127.0.0.1:1', silent);
    const t = await replica(`key-${randomBytes(8).toString('hex')}`, redis);
    try {
      const key = t.deps.config.apiKeys[0]!;
      for (let i = 0; i < 5; i++) {
        const response = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader(key) });
        expect(response.statusCode).toBe(200);
      }
    } finally {
      await t.close();
      redis.disconnect();
    }
  });
});
