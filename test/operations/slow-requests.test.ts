import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/fixtures.js';

// Real sockets against a listening server: slow clients are a transport matter that
// app.inject cannot show. Limits are set to 1 s here so the test is quick; the upper
// bounds are generous so a busy machine does not make it flaky.

interface Outcome {
  /** Milliseconds from the first byte sent until the server closed the connection. */
  closedAfterMs: number;
  response: string;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `start`, then trickles a byte every 200 ms, and reports when the server hangs up. */
function trickle(socket: Socket, start: string, byte: string, giveUpMs: number): Promise<Outcome | null> {
  return new Promise((resolve) => {
    let response = '';
    const began = Date.now();
    socket.on('data', (chunk) => (response += chunk.toString()));
    socket.on('error', () => undefined);
    const timer = setInterval(() => {
      if (!socket.destroyed && socket.writable) socket.write(byte);
    }, 200);
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      resolve(null);
    }, giveUpMs);
    socket.once('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: Date.now() - began, response });
    });
    socket.write(start);
  });
}

describe('slow clients', () => {
  const t = useTestApp({ env: { REQUEST_TIMEOUT: '1s', HEADERS_TIMEOUT: '1s', MAX_CONNECTIONS: '3' } });
  let port: number;

  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });

  it('cuts a request whose body trickles in at REQUEST_TIMEOUT, with 408', async () => {
    const socket = await open(port);
    const outcome = await trickle(
      socket,
      'POST /webhooks/apple/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"signedPayload":"',
      'a',
      10_000,
    );
    expect(outcome, 'the connection was still open after 10 s').not.toBeNull();
    expect(outcome!.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(outcome!.closedAfterMs).toBeLessThan(6_000);
    expect(outcome!.response).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts a request whose headers trickle in at HEADERS_TIMEOUT', async () => {
    const socket = await open(port);
    const outcome = await trickle(socket, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a', 10_000);
    expect(outcome, 'the connection was still open after 10 s').not.toBeNull();
    expect(outcome!.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(outcome!.closedAfterMs).toBeLessThan(6_000);
  });

  it('refuses connections past MAX_CONNECTIONS and keeps serving the ones it holds', async () => {
    const held = await Promise.all([open(port), open(port), open(port)]);
    // Give the server a moment to count them before the extra one arrives.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const extra = await open(port);
    const outcome = await trickle(extra, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '', 5_000);
    expect(outcome, 'the connection past the cap was served').not.toBeNull();
    expect(outcome!.response).toBe('');
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      held[0]!.on('data', (chunk) => {
        text += chunk.toString();
        if (text.includes('\r\n\r\n')) resolve(text);
      });
      held[0]!.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    for (const socket of held) socket.destroy();
  });
});
