import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { percentile } from './open-loop.js';

// An open-loop GET generator light enough to offer thousands of requests per second from
// the machine under test: requests fall due at evenly spaced instants, each goes out on an
// idle keep-alive connection of a fixed pool (HTTP/1.1 written and read by hand, one
// request per connection at a time), and latency runs from the instant a request was due,
// so time spent waiting for a free connection counts (no coordinated omission). Node's
// http client costs several times more CPU per request, which here would be taken from
// the service being measured.

export interface OpenLoopGetOptions {
  baseUrl: string;
  /** The path of the i-th request. */
  path(index: number): string;
  headers: Record<string, string>;
  ratePerSecond: number;
  seconds: number;
  /** Keep-alive connections; enough that they are never all busy at the offered rate. */
  connections: number;
}

export interface OpenLoopGetResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  latency: { p50: number; p90: number; p99: number; max: number };
}

interface Connection {
  socket: net.Socket;
  buffer: Buffer;
  current: { dueAt: number } | null;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export async function runOpenLoopGet(options: OpenLoopGetOptions): Promise<OpenLoopGetResult> {
  const url = new URL(options.baseUrl);
  const headerLines = Object.entries(options.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const total = Math.round(options.ratePerSecond * options.seconds);
  const intervalMs = 1000 / options.ratePerSecond;
  const latencies: number[] = [];
  const idle: Connection[] = [];
  const waiting: number[] = []; // indices due but without a free connection
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let settled = 0;
  let start = 0;
  let done: () => void = () => {};

  const dueAt = (index: number) => start + index * intervalMs;

  const settle = (connection: Connection, status: number | null) => {
    const request = connection.current!;
    connection.current = null;
    latencies.push(performance.now() - request.dueAt);
    if (status === null) errors += 1;
    else if (status >= 200 && status < 300) ok += 1;
    else non2xx += 1;
    settled += 1;
    if (settled === total) done();
  };

  const send = (connection: Connection, index: number) => {
    connection.current = { dueAt: dueAt(index) };
    connection.socket.write(`GET ${options.path(index)} HTTP/1.1\r\nhost: ${url.host}\r\n${headerLines}\r\n`);
  };

  const release = (connection: Connection) => {
    const next = waiting.shift();
    if (next === undefined) idle.push(connection);
    else send(connection, next);
  };

  // Reads one complete response (status line, headers with content-length, body) off the buffer.
  const onData = (connection: Connection, chunk: Buffer) => {
    connection.buffer = connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk]);
    const headerEnd = connection.buffer.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = connection.buffer.subarray(0, headerEnd).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const end = headerEnd + HEADER_END.length + length;
    if (connection.buffer.length < end) return;
    connection.buffer = connection.buffer.subarray(end);
    settle(connection, Number(head.slice(9, 12)));
    release(connection);
  };

  const connections = await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<Connection>((resolve, reject) => {
          const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
          const connection: Connection = { socket, buffer: Buffer.alloc(0), current: null };
          socket.once('connect', () => resolve(connection));
          socket.once('error', reject);
          socket.on('data', (chunk: Buffer) => onData(connection, chunk));
        }),
    ),
  );
  for (const connection of connections) {
    connection.socket.removeAllListeners('error');
    connection.socket.on('error', () => undefined);
    connection.socket.on('close', () => {
      // A connection the server closed: its request failed, and it takes no more.
      if (connection.current !== null) settle(connection, null);
      const at = idle.indexOf(connection);
      if (at >= 0) idle.splice(at, 1);
    });
    idle.push(connection);
  }

  start = performance.now();
  const finished = new Promise<void>((resolve) => (done = resolve));
  // A 1 ms tick sends every request that has come due; each keeps its own due instant.
  const tick = () => {
    const now = performance.now();
    while (sent < total && dueAt(sent) <= now) {
      const connection = idle.pop();
      if (connection === undefined) waiting.push(sent);
      else send(connection, sent);
      sent += 1;
    }
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
  // Answers still missing well after the last request fell due (every connection closed,
  // say) count as errors rather than hanging the benchmark.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.seconds * 1000 + 30_000)))]);
  clearTimeout(timer);
  errors += total - settled;
  const seconds = (performance.now() - start) / 1000;
  for (const connection of connections) connection.socket.destroy();

  latencies.sort((a, b) => a - b);
  return {
    sent,
    ok,
    non2xx,
    errors,
    seconds,
    latency: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0,
    },
  };
}
