import type { FastifyInstance } from 'fastify';
import { errorBody } from './error-handler.js';

// Seconds a client should wait before trying again: by then another instance, or this
// one restarted, answers.
const RETRY_AFTER_SECONDS = 10;

/**
 * Replaces Fastify's `return503OnClosing` (whose body is Fastify's own shape) during a
 * drain: requests still arriving on connections that were busy when close() began are
 * answered 503 UNDER_PRESSURE, one of SPEC's 503 codes, in SPEC's error shape. Install
 * before every other onRequest hook, so nothing else runs for them.
 */
export function installShutdownGuard(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // A callback hook, not an async one: on every request, no promise for the usual "not closing".
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    void reply
      .status(503)
      .headers({ 'retry-after': String(RETRY_AFTER_SECONDS), connection: 'close' })
      .send(errorBody('UNDER_PRESSURE', 'The service is shutting down; try again shortly'));
  });
}
