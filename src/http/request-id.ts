import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

// X-Request-Id: a caller's (a load balancer's, the app backend's) id for the request is
// kept when it is safe to log and to send back; anything else is replaced by a UUID, so a
// header can neither forge log lines nor inflate them. The id is Fastify's `request.id`,
// so every line of the request's logger carries it as `requestId`.

export const REQUEST_ID_HEADER = 'x-request-id';
export const REQUEST_ID_MAX_LENGTH = 128;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@=+/-]+$/;

/** The caller's id when it is 1–128 safe characters (letters, digits, `-_.:@=+/`); else null. */
export function acceptedRequestId(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string' || header.length === 0 || header.length > REQUEST_ID_MAX_LENGTH) return null;
  return SAFE_REQUEST_ID.test(header) ? header : null;
}

/** Fastify's `genReqId`. */
export function requestIdOf(request: IncomingMessage): string {
  return acceptedRequestId(request.headers[REQUEST_ID_HEADER]) ?? randomUUID();
}

/** Every answer carries the request's id, the caller's or the generated one. */
export function installRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
}
