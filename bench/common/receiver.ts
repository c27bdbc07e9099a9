// A fast webhook receiver for the benchmarks: reads each body, answers 204 at once and
// counts each `webhook-id` once. In the benchmark's own process (startReceiver) or in a
// process of its own (startReceiverProcess, so that its CPU neither slows the load
// generator nor hides in it, and can be measured apart).
import { type ChildProcess, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Receiver {
  url: string;
  unique(): number;
  requests(): number;
  /** Resolves with [first request, last new id] (performance.now()) once `count` distinct ids arrived. */
  done(count: number): Promise<[number, number]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const seen = new Set<string>();
  let requests = 0;
  let first = 0;
  let last = 0;
  let waiter: { count: number; resolve: (span: [number, number]) => void } | null = null;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests += 1;
      if (first === 0) first = performance.now();
      const id = String(request.headers['webhook-id']);
      if (!seen.has(id)) {
        seen.add(id);
        last = performance.now();
      }
      response.writeHead(204).end();
      if (waiter && seen.size >= waiter.count) waiter.resolve([first, last]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    unique: () => seen.size,
    requests: () => requests,
    done: (count) =>
      new Promise((resolve) => {
        waiter = { count, resolve };
        if (seen.size >= count) resolve([first, last]);
      }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A receiver in a child process: its counts are asked for over IPC. */
export interface ReceiverProcess {
  url: string;
  pid: number;
  counts(): Promise<{ unique: number; requests: number }>;
  close(): Promise<void>;
}

type Reply = { url: string } | { unique: number; requests: number };

export async function startReceiverProcess(): Promise<ReceiverProcess> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const tsxLoader = pathToFileURL(path.join(here, '../../node_modules/tsx/dist/loader.mjs')).href;
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: ['--import', tsxLoader],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () => new Promise<Reply>((resolve) => child.once('message', (message) => resolve(message as Reply)));
  const { url } = (await next()) as { url: string };
  return {
    url,
    pid: child.pid!,
    async counts() {
      const reply = next();
      child.send('counts');
      return (await reply) as { unique: number; requests: number };
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv.includes('--serve') && process.send) {
  const receiver = await startReceiver();
  process.on('message', () => process.send!({ unique: receiver.unique(), requests: receiver.requests() }));
  process.on('SIGTERM', () => void receiver.close().then(() => process.exit(0)));
  process.send({ url: receiver.url });
}
