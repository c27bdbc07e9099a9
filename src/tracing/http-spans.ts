import { context, propagation } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StartedSpan, Tracing } from './tracing.js';

// One SERVER span per HTTP request, from the first hook to the response's end. A caller's
// `traceparent` (W3C Trace Context) makes it the parent. Fastify runs hooks and handler as
// separate callbacks, so each route's handler is wrapped to run inside the request's span:
// what the handler starts (verification, database, outbound calls) becomes its children.
// Installed by buildApp only when tracing is on.

declare module 'fastify' {
  interface FastifyRequest {
    traceSpan?: StartedSpan;
  }
}

function finish(request: FastifyRequest, reply: FastifyReply): void {
  const span = request.traceSpan;
  if (span === undefined) return;
  span.setAttributes({ 'http.response.status_code': reply.statusCode });
  if (reply.statusCode >= 500) span.fail(new Error(`HTTP ${reply.statusCode}`));
  span.end();
}

export function installHttpSpans(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const parent = propagation.extract(context.active(), request.headers);
    request.traceSpan = tracing.start(route === undefined ? request.method : `${request.method} ${route}`, {
      kind: 'server',
      parent,
      attributes: {
        'http.request.method': request.method,
        'url.path': request.url.split('?', 1)[0]!,
        ...(route === undefined ? {} : { 'http.route': route }),
        'request.id': request.id,
      },
    });
    done();
  });
  app.addHook('onRoute', (routeOptions) => {
    const handler = routeOptions.handler;
    routeOptions.handler = function tracedHandler(this: unknown, request, reply) {
      const span = request.traceSpan;
      return span === undefined ? handler.call(this as never, request, reply) : span.run(() => handler.call(this as never, request, reply));
    };
  });
  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply);
    done();
  });
  // A client that went away before the answer: the span still ends.
  app.addHook('onRequestAbort', (request, done) => {
    request.traceSpan?.setAttributes({ 'http.request.aborted': true });
    request.traceSpan?.end();
    done();
  });
}
