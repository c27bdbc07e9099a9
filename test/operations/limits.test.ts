import { beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../../src/app.js';
import { createTestApp } from '../helpers/app.js';
import { useTestApp } from '../helpers/fixtures.js';

describe('request limits', () => {
  const t = useTestApp();
  beforeAll(async () => {
    await t.app.ready();
  });

  it('keeps request bodies to a few hundred KB', () => {
    expect(BODY_LIMIT_BYTES).toBeGreaterThanOrEqual(64 * 1024);
    expect(BODY_LIMIT_BYTES).toBeLessThanOrEqual(512 * 1024);
  });

  it('answers 413 BODY_TOO_LARGE in the error shape to an oversized webhook body', async () => {
    const payload = JSON.stringify({ signedPayload: 'a'.repeat(BODY_LIMIT_BYTES) });
    const response = await t.app.inject({
      method: 'POST',
      url: '/webhooks/apple/v2',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ error: { code: 'BODY_TOO_LARGE', message: expect.any(String) } });
  });

  it('bounds how long a client may take to send a request', () => {
    expect(t.app.server.requestTimeout).toBeGreaterThan(0);
    expect(t.app.server.requestTimeout).toBeLessThanOrEqual(60_000);
    // Longer than the usual 60 s idle timeout of load balancers, so they close idle connections first.
    expect(t.app.server.keepAliveTimeout).toBeGreaterThan(60_000);
  });

  it('uses the client address from X-Forwarded-For only when TRUST_PROXY is on', async () => {
    const clientAddress = async (env: Record<string, string>) => {
      const other = await createTestApp({ database: t.database, pki: t.pki, env });
      try {
        other.app.get('/probe/ip', async (request) => ({ ip: request.ip }));
        const response = await other.app.inject({
          method: 'GET',
          url: '/probe/ip',
          remoteAddress: '10.0.0.9',
          headers: { 'x-forwarded-for': '198.51.100.1' },
        });
        return (response.json() as { ip: string }).ip;
      } finally {
        await other.close();
      }
    };
    expect(await clientAddress({ TRUST_PROXY: '1' })).toBe('198.51.100.1');
    expect(await clientAddress({ TRUST_PROXY: '10.0.0.0/8' })).toBe('198.51.100.1');
    expect(await clientAddress({ TRUST_PROXY: '192.168.0.0/16' })).toBe('10.0.0.9');
    expect(await clientAddress({})).toBe('10.0.0.9');
  });
});
