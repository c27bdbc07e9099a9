import http from 'node:http';
import { performance } from 'node:perf_hooks';

// An open-loop load generator: requests leave at evenly spaced instants whatever the
// server does, as independent senders such as Apple's delivery do. autocannon's
// `overallRate` instead gives each connection a per-second budget that it spends back to
// back at the start of every second, so "1,000/s" arrives as a burst of 1,000 requests
// followed by silence. Latency is measured from the instant a request was due, so a
// sender held up by the server counts the wait (no coordinated omission).

export interface OpenLoopRequest {
  path: string;
  body: string;
}

export interface OpenLoopAnswer {
  status: number | null;
  body: string;
  latencyMs: number;
}

export interface OpenLoopResult {
  answers: OpenLoopAnswer[];
  seconds: number;
  latency: { p50: number; p99: number; max: number };
  errors: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runOpenLoop(baseUrl: string, requests: OpenLoopRequest[], ratePerSecond: number): Promise<OpenLoopResult> {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const answers: OpenLoopAnswer[] = new Array(requests.length);
  const intervalMs = 1000 / ratePerSecond;
  let errors = 0;
  let sent = 0;
  let settled = 0;
  const start = performance.now();
  let lastAnswered = start;

  await new Promise<void>((resolve) => {
    const send = (index: number, dueAt: number) => {
      const request = requests[index]!;
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: request.path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(request.body) },
          timeout: 30_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => finish(index, dueAt, res.statusCode ?? null, body));
        },
      );
      req.on('error', () => {
        errors += 1;
        finish(index, dueAt, null, '');
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(request.body);
    };
    const finish = (index: number, dueAt: number, status: number | null, body: string) => {
      if (answers[index]) return;
      lastAnswered = performance.now();
      answers[index] = { status, body, latencyMs: lastAnswered - dueAt };
      settled += 1;
      if (settled === requests.length) resolve();
    };
    // A 1 ms tick sends every request that has come due; each keeps its own due instant.
    const tick = () => {
      const now = performance.now();
      while (sent < requests.length && start + sent * intervalMs <= now) {
        send(sent, start + sent * intervalMs);
        sent += 1;
      }
      if (sent < requests.length) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();

  const latencies = answers.map((a) => a.latencyMs).sort((a, b) => a - b);
  return {
    answers,
    seconds: (lastAnswered - start) / 1000,
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
    errors,
  };
}
