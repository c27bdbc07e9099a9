import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgents, sendWebhook } from '../../src/events/webhook-sender.js';

// One attempt of a delivery: each receiver's URL is parsed on its first attempt and reused.
describe('the webhook sender', () => {
  const received: { path: string | undefined; authorization: string | undefined }[] = [];
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      received.push({ path: request.url, authorization: request.headers.authorization });
      request.resume();
      request.on('end', () => response.writeHead(request.url?.startsWith('/gone') ? 410 : 204).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("parses a URL once per worker's agents and sends every attempt to its path, with its credentials", async () => {
    const agents = createAgents();
    const url = `http://us%40er:p%3Ass@127.0.0.1:${port}/hooks/a?tenant=1`;
    try {
      const first = await sendWebhook({ url, headers: {}, body: '{}', timeoutMs: 2_000, agents });
      const target = agents.targets.get(url);
      const second = await sendWebhook({ url, headers: {}, body: '{}', timeoutMs: 2_000, agents });
      expect([first.status, second.status]).toEqual([204, 204]);
      expect(agents.targets.size).toBe(1);
      expect(agents.targets.get(url)).toBe(target);
      const basic = `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`;
      expect(received.slice(-2)).toEqual([
        { path: '/hooks/a?tenant=1', authorization: basic },
        { path: '/hooks/a?tenant=1', authorization: basic },
      ]);
    } finally {
      agents.http.destroy();
    }
  });

  it('keeps each URL apart', async () => {
    const agents = createAgents();
    try {
      const ok = await sendWebhook({ url: `http://127.0.0.1:${port}/hooks/b`, headers: {}, body: '{}', timeoutMs: 2_000, agents });
      const gone = await sendWebhook({ url: `http://127.0.0.1:${port}/gone`, headers: {}, body: '{}', timeoutMs: 2_000, agents });
      expect(ok).toMatchObject({ ok: true, status: 204, error: null });
      expect(gone).toMatchObject({ ok: false, status: 410, error: 'HTTP 410' });
      expect(received.slice(-2).map((request) => request.path)).toEqual(['/hooks/b', '/gone']);
      expect([...agents.targets.keys()]).toEqual([`http://127.0.0.1:${port}/hooks/b`, `http://127.0.0.1:${port}/gone`]);
    } finally {
      agents.http.destroy();
    }
  });

  it('still parses the URL of an attempt without agents', async () => {
    const result = await sendWebhook({ url: `http://127.0.0.1:${port}/hooks/c`, headers: {}, body: '{}', timeoutMs: 2_000 });
    expect(result.status).toBe(204);
    expect(received.at(-1)?.path).toBe('/hooks/c');
  });
});
