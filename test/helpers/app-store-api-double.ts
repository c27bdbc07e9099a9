// A stand-in for Apple's App Store Server API on loopback. It checks every bearer token
// the way Apple does (ES256 signature, kid, iss, aud, bid, exp at most an hour after iat)
// and answers 401 otherwise, records every request, and replies with whatever the test
// scripted per route. Unscripted routes answer 200 `{}`.

import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { decodeProtectedHeader, exportPKCS8, generateKeyPair, type JWTPayload, jwtVerify } from 'jose';
import { TEST_BUNDLE_ID } from './constants.js';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, as sent (percent-encoded). */
  path: string;
  /** Every value of every query parameter, in order. */
  query: Record<string, string[]>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, raw bytes for other content types, undefined without a body. */
  body: unknown;
  token: string;
  claims: JWTPayload;
}

export interface RejectedRequest {
  method: string;
  path: string;
  reason: string;
}

export interface ScriptedResponse {
  status?: number;
  /** Serialised as JSON unless a string (sent as is). Omit for an empty body. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (to provoke client timeouts). */
  delayMs?: number;
}

type Responder = ScriptedResponse | ((request: RecordedRequest) => ScriptedResponse);

export interface AppStoreApiDoubleOptions {
  issuerId?: string;
  keyId?: string;
  bundleId?: string;
  /** What the double considers "now" when checking `exp`. */
  clock?: () => Date;
}

export interface AppStoreApiDouble {
  /** Base URL to pass as the client's `baseUrl`. */
  url: string;
  /** Credentials the double accepts; spread them into `createAppStoreServerApi`. */
  credentials: { issuerId: string; keyId: string; privateKey: string; bundleId: string };
  requests: RecordedRequest[];
  /** Requests answered 401 because their token failed a check. */
  rejected: RejectedRequest[];
  /**
   * Scripts answers for `METHOD /path` (path without query). Answers are used in order;
   * the last one keeps answering once the others are used up.
   */
  reply(method: string, path: string, ...responses: Responder[]): void;
  /** Forgets every scripted answer. */
  reset(): void;
  close(): Promise<void>;
}

const AUDIENCE = 'appstoreconnect-v1';
const MAX_TOKEN_LIFETIME_SECONDS = 3600;

function parseQuery(url: string): Record<string, string[]> {
  const query: Record<string, string[]> = {};
  const search = new URL(url, 'http://double.invalid').searchParams;
  for (const [name, value] of search) query[name] = [...(query[name] ?? []), value];
  return query;
}

function waitUnlessClosed(ms: number, reply: FastifyReply): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    // A client that gave up closes the socket; stop waiting so close() is quick.
    reply.raw.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function createAppStoreApiDouble(options: AppStoreApiDoubleOptions = {}): Promise<AppStoreApiDouble> {
  const issuerId = options.issuerId ?? '57246542-96fe-1a63-e053-0824d011072a';
  const keyId = options.keyId ?? 'TESTKEY123';
  const bundleId = options.bundleId ?? TEST_BUNDLE_ID;
  const clock = options.clock ?? (() => new Date());
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const privateKeyPem = await exportPKCS8(privateKey);

  const requests: RecordedRequest[] = [];
  const rejected: RejectedRequest[] = [];
  const scripts = new Map<string, Responder[]>();

  async function authenticate(request: FastifyRequest): Promise<{ token: string; claims: JWTPayload }> {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (!match?.[1]) throw new Error('no bearer token');
    const token = match[1];
    const protectedHeader = decodeProtectedHeader(token);
    if (protectedHeader.kid !== keyId) throw new Error(`kid ${String(protectedHeader.kid)} is not ${keyId}`);
    const { payload } = await jwtVerify(token, publicKey, {
      algorithms: ['ES256'],
      typ: 'JWT',
      issuer: issuerId,
      audience: AUDIENCE,
      requiredClaims: ['iat', 'exp', 'bid'],
      currentDate: clock(),
    });
    if (payload.bid !== bundleId) throw new Error(`bid ${String(payload.bid)} is not ${bundleId}`);
    if ((payload.exp ?? 0) - (payload.iat ?? 0) > MAX_TOKEN_LIFETIME_SECONDS) throw new Error('token lives over an hour');
    return { token, claims: payload };
  }

  const app = Fastify({ logger: false, forceCloseConnections: true });

  app.route({
    method: ['GET', 'POST', 'PUT'],
    url: '/*',
    handler: async (request, reply) => {
      const path = request.url.split('?')[0] ?? '';
      let auth: { token: string; claims: JWTPayload };
      try {
        auth = await authenticate(request);
      } catch (error) {
        rejected.push({ method: request.method, path, reason: error instanceof Error ? error.message : String(error) });
        return reply.code(401).send();
      }
      const recorded: RecordedRequest = {
        method: request.method,
        path,
        query: parseQuery(request.url),
        headers: request.headers,
        body: request.body ?? undefined,
        ...auth,
      };
      requests.push(recorded);

      const queue = scripts.get(`${request.method} ${path}`);
      const responder = queue && queue.length > 1 ? queue.shift() : queue?.[0];
      const scripted = typeof responder === 'function' ? responder(recorded) : (responder ?? { body: {} });
      if (scripted.delayMs) await waitUnlessClosed(scripted.delayMs, reply);
      reply.code(scripted.status ?? 200).headers(scripted.headers ?? {});
      if (scripted.body === undefined) return reply.send();
      if (typeof scripted.body === 'string') return reply.send(scripted.body);
      return reply.type('application/json').send(JSON.stringify(scripted.body));
    },
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('double did not bind a TCP port');

  return {
    url: `http://127.0.0.1:${address.port}`,
    credentials: { issuerId, keyId, privateKey: privateKeyPem, bundleId },
    requests,
    rejected,
    reply(method, path, ...responses) {
      if (responses.length === 0) throw new Error('reply() needs at least one response');
      scripts.set(`${method.toUpperCase()} ${path}`, responses);
    },
    reset: () => scripts.clear(),
    close: () => app.close(),
  };
}
