import net from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

// An open-loop load generator: requests fall due at evenly spaced instants whatever the
// server does, as independent senders such as Apple's delivery or an app's users do.
// autocannon's `overallRate` instead gives each connection a per-second budget that it
// spends back to back at the start of every second, so "1,000/s" arrives as a burst
// followed by silence. Each request goes out on an idle keep-alive connection of a fixed
// pool (HTTP/1.1 written and read by hand, one request per connection at a time: Node's
// http client costs several times more CPU per request, which on this machine would be
// taken from the service being measured). Latency runs from the instant a request was
// due, so time spent waiting for a free connection counts (no coordinated omission).
// Time the generator itself spends stalled (its own collections, the machine's other
// processes) counts too; its event loop's delay is reported beside the latencies, so that a
// tail can be told apart from the server's.

export interface OpenLoopRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** A JSON body (sent with content-type application/json). */
  body?: string;
}

export interface OpenLoopOptions {
  baseUrl: string;
  /** Number of requests; the i-th is `request(i)`. */
  count: number;
  request(index: number): OpenLoopRequest;
  ratePerSecond: number;
  /** Keep-alive connections; enough that they are never all busy at the offered rate. */
  connections: number;
  /** Receives every answer (status null: the connection failed). */
  onAnswer?(index: number, status: number | null, body: string): void;
}

export interface OpenLoopResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** From the first request's due instant to the last answer. */
  seconds: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  /** How late the generator's own event loop ran over the run, in ms beyond its 1 ms sampling interval. */
  generatorDelay: { p99: number; max: number };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** An event-loop delay sample (ns, as node:perf_hooks records it: the interval itself included) as ms beyond the interval. */
export function lateness(sampleNs: number, resolutionMs: number): number {
  return Math.max(0, sampleNs / 1e6 - resolutionMs);
}

interface Connection {
  socket: net.Socket;
  buffer: Buffer;
  current: { index: number; dueAt: number } | null;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(options.baseUrl);
  const total = options.count;
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
  let lastAnswered = 0;
  let done: () => void = () => {};

  const dueAt = (index: number) => start + index * intervalMs;

  const settle = (connection: Connection, status: number | null, body: string) => {
    const { index, dueAt: due } = connection.current!;
    connection.current = null;
    lastAnswered = performance.now();
    latencies.push(lastAnswered - due);
    if (status === null) errors += 1;
    else if (status >= 200 && status < 300) ok += 1;
    else non2xx += 1;
    options.onAnswer?.(index, status, body);
    settled += 1;
    if (settled === total) done();
  };

  const send = (connection: Connection, index: number) => {
    connection.current = { index, dueAt: dueAt(index) };
    const request = options.request(index);
    let head = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    for (const [name, value] of Object.entries(request.headers ?? {})) head += `${name}: ${value}\r\n`;
    if (request.body === undefined) {
      connection.socket.write(`${head}\r\n`);
    } else {
      head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(request.body)}\r\n\r\n`;
      connection.socket.write(head + request.body);
    }
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
    const body = options.onAnswer ? connection.buffer.subarray(headerEnd + HEADER_END.length, end).toString('utf8') : '';
    connection.buffer = connection.buffer.subarray(end);
    if (connection.current === null) {
      // An answer to no request of ours (a server's own 408 on a kept-alive connection, say): said, not counted.
      console.error(`open loop: an answer to no request, ${head.split('\r\n')[0]}`);
      return;
    }
    settle(connection, Number(head.slice(9, 12)), body);
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
      if (connection.current !== null) settle(connection, null, '');
      const at = idle.indexOf(connection);
      if (at >= 0) idle.splice(at, 1);
    });
    idle.push(connection);
  }

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
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
  const patience = total * intervalMs + 60_000;
  await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, patience)))]);
  clearTimeout(timer);
  errors += total - settled;
  delay.disable();
  for (const connection of connections) connection.socket.destroy();

  latencies.sort((a, b) => a - b);
  return {
    sent,
    ok,
    non2xx,
    errors,
    seconds: (lastAnswered - start) / 1000,
    latency: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0,
    },
    generatorDelay: { p99: lateness(delay.percentile(99), 1), max: lateness(delay.max, 1) },
  };
}
