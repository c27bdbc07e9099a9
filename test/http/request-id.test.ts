import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { acceptedRequestId, REQUEST_ID_MAX_LENGTH } from '../../src/http/request-id.js';
import { authHeader } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('acceptedRequestId', () => {
  it('keeps an id of safe characters up to the length bound', () => {
    expect(acceptedRequestId('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    expect(acceptedRequestId('Root=1-5759e988-bd862e3fe1be46a994272793')).toBe('Root=1-5759e988-bd862e3fe1be46a994272793');
    expect(acceptedRequestId('a'.repeat(REQUEST_ID_MAX_LENGTH))).toBe('a'.repeat(REQUEST_ID_MAX_LENGTH));
  });

  it('refuses an empty, over-long, repeated or unsafe id', () => {
    expect(acceptedRequestId(undefined)).toBeNull();
    expect(acceptedRequestId('')).toBeNull();
    expect(acceptedRequestId('a'.repeat(REQUEST_ID_MAX_LENGTH + 1))).toBeNull();
    expect(acceptedRequestId(['a', 'b'])).toBeNull();
    for (const unsafe of ['a b', 'a\nb', 'a"b', '<script>', 'é', 'a,b', 'a;b']) expect(acceptedRequestId(unsafe)).toBeNull();
  });
});

describe(`X-Request-Id (${backendName})`, () => {
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const t = useTestApp({ overrides: { logger: pino({ level: 'info' }, sink) } });

  it("echoes the caller's id", async () => {
    const response = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'lb-7f3a.42' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-request-id']).toBe('lb-7f3a.42');
  });

  it('generates a UUID when the caller sends none, a new one each time', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/healthz' });
    const second = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(first.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
  });

  it('replaces an unsafe or over-long id by a generated one', async () => {
    for (const sent of ['x'.repeat(REQUEST_ID_MAX_LENGTH + 1), 'a b<c>', '%0d%0a']) {
      const response = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': sent } });
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-request-id']).toMatch(UUID);
    }
  });

  it('answers errors with the id too, and logs them under it', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: '/entitlements/u-1',
      headers: { 'x-request-id': 'err-req-1', ...authHeader('wrong-key-wrong-key-wrong-key') },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['x-request-id']).toBe('err-req-1');
    expect(logLines.some((line) => line.requestId === 'err-req-1')).toBe(true);
  });
});
