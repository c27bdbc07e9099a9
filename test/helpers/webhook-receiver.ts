import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed body. */
  json: { type: string; timestamp: string; data: Record<string, unknown> };
}

/**
 * How the receiver answers one request: a status, a redirect, a status only after a delay or
 * once `release` resolves, or never (until closed).
 */
export type Answer = number | { redirect: string } | { status: number; afterMs: number } | { status: number; release: Promise<void> } | 'hang';

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Answers for the next requests, in order; after them, `fallback`. */
  answers: Answer[];
  fallback: Answer;
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on a loopback port of its own (or `port`, to come back where a closed
 * one listened), as an app backend would run one.
 */
export async function startWebhookReceiver(path = '/hooks/ase', port = 0): Promise<WebhookReceiver> {
  const hanging = new Set<ServerResponse>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const receiver: Omit<WebhookReceiver, 'url' | 'close' | 'waitFor'> = { requests: [], answers: [], fallback: 200 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      receiver.requests.push({ headers: request.headers, body, json: JSON.parse(body) as ReceivedRequest['json'] });
      for (const waiter of [...waiters]) {
        if (receiver.requests.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      const answer = receiver.answers.shift() ?? receiver.fallback;
      if (answer === 'hang') {
        hanging.add(response);
        return;
      }
      if (typeof answer === 'object' && 'redirect' in answer) {
        response.writeHead(302, { location: answer.redirect }).end();
        return;
      }
      if (typeof answer === 'object') {
        // Held, then answered: once `release` resolves, or late, after `afterMs` (the sender
        // may have given up by then; the answer goes to a socket it may have cut).
        hanging.add(response);
        let late: NodeJS.Timeout | undefined;
        const release = 'release' in answer ? answer.release : new Promise<void>((resolve) => (late = setTimeout(resolve, answer.afterMs)));
        response.on('close', () => clearTimeout(late));
        void release.then(() => {
          hanging.delete(response);
          if (!response.destroyed) response.writeHead(answer.status, { 'content-type': 'text/plain' }).end('ok');
        });
        return;
      }
      response.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${bound}${path}`,
    waitFor(count: number) {
      if (receiver.requests.length >= count) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
