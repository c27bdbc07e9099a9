// While the service drains on SIGTERM, a request that still arrives (on a connection that
// was busy when the drain began) is answered in SPEC's error shape, not Fastify's.
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`requests during shutdown (${backendName})`, () => {
  const t = useTestApp();
  let port: number;
  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    port = address.port;
  });

  it('answers 503 UNDER_PRESSURE in the {"error":{"code","message"}} shape once closing has begun', async () => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));

    // A request whose body is still on its way keeps the connection busy through close().
    const body = JSON.stringify({ signedPayload: 'not-a-jws' });
    socket.write(`POST /webhooks/apple/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.slice(0, 5));
    await sleep(200);
    const closing = t.app.close();
    await sleep(200);
    // The rest of that body, and a second request pipelined behind it.
    socket.write(body.slice(5));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await Promise.race([ended, sleep(5_000)]);
    socket.destroy();
    await closing;

    const responses = received.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    const last = responses[1] ?? '';
    expect(last).toMatch(/^HTTP\/1\.1 503/);
    const json = JSON.parse(last.slice(last.indexOf('\r\n\r\n') + 4));
    expect(json).toEqual({ error: { code: 'UNDER_PRESSURE', message: expect.stringMatching(/shutting down/) } });
  });
});
