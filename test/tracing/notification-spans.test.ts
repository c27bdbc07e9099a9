import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { core, tracing as sdkTrace } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSignedDataVerifier } from '../../src/apple/verifier/index.js';
import { createLogger } from '../../src/logger.js';
import { createTracing } from '../../src/tracing/tracing.js';
import { createTestApp, TEST_BUNDLE_ID, type TestApp, testConfig } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { createOcspResponder, type OcspResponder } from '../helpers/ocsp-responder.js';
import { createTestPki } from '../helpers/pki.js';
import { scenario, T0 } from '../notifications/support.js';

type Span = sdkTrace.ReadableSpan;

// The spans of one notification, through the real app and database, exported to memory.
// Parent and child follow OpenTelemetry's active context, which the SDK's context manager
// carries in production; this file registers the same one.
describe(`tracing of one notification (${backendName})`, () => {
  const exporter = new sdkTrace.InMemorySpanExporter();
  const provider = new sdkTrace.BasicTracerProvider({ spanProcessors: [new sdkTrace.SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  const logLines: Array<Record<string, unknown>> = [];
  let responder: OcspResponder;
  let t: TestApp;

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
    responder = await createOcspResponder();
    const pki = await createTestPki({ ocspUrl: responder.url });
    await responder.register(pki);
    const tracing = createTracing(provider.getTracer('test'));
    const config = testConfig();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    t = await createTestApp({
      pki,
      overrides: {
        tracing,
        logger: createLogger('info', sink, { traceIds: true }),
        // Online checks: a chain the cache does not know is checked by OCSP, an outbound call.
        verifier: createSignedDataVerifier({
          rootCertificates: [pki.rootDer],
          bundleId: config.apple.bundleId,
          appAppleId: config.apple.appAppleId!,
          environments: config.apple.environments,
          onlineChecks: true,
          ocspTimeoutMs: 5_000,
          tracing,
        }),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await responder?.close();
    context.disable();
    propagation.disable();
  });

  beforeEach(() => {
    exporter.reset();
    logLines.length = 0;
  });

  const named = (spans: Span[], name: string): Span[] => spans.filter((span) => span.name === name);
  const only = (spans: Span[], name: string): Span => {
    const found = named(spans, name);
    expect(found.map((span) => span.name)).toEqual([name]);
    return found[0]!;
  };
  const parentOf = (span: Span) => span.parentSpanContext?.spanId;
  const idOf = (span: Span) => span.spanContext().spanId;

  /** The spans once the request's own has ended (Fastify ends it after the answer is sent). */
  async function spansOfRequest(): Promise<Span[]> {
    await vi.waitFor(() => expect(named(exporter.getFinishedSpans(), 'POST /webhooks/apple/v2')).toHaveLength(1));
    return exporter.getFinishedSpans();
  }

  function post(signedPayload: string, headers: Record<string, string> = {}) {
    return t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', headers, payload: { signedPayload } });
  }

  it('records the request, its ingest, verification with OCSP calls and the database batch as one tree', async () => {
    const uuid = randomUUID();
    const s = scenario(t.pki, { start: T0 });
    const response = await post(s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', uuid, signedDate: Date.now() - 60_000, period: 0, status: 1 }), {
      'x-request-id': 'trace-test-1',
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-request-id']).toBe('trace-test-1');

    const spans = await spansOfRequest();
    const request = only(spans, 'POST /webhooks/apple/v2');
    expect(request.kind).toBe(1); // SERVER
    expect(parentOf(request)).toBeUndefined();
    expect(request.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/webhooks/apple/v2',
      'http.response.status_code': 200,
      'request.id': 'trace-test-1',
    });

    const ingest = only(spans, 'notification.ingest');
    expect(parentOf(ingest)).toBe(idOf(request));
    expect(ingest.attributes).toMatchObject({
      'appstore.notification_uuid': uuid,
      'appstore.bundle_id': TEST_BUNDLE_ID,
      'appstore.notification_type': 'SUBSCRIBED',
      'appstore.notification_subtype': 'INITIAL_BUY',
      'appstore.notification.outcome': 'applied',
    });

    const verify = only(spans, 'verify.notification');
    expect(parentOf(verify)).toBe(idOf(ingest));
    // The notification's chain and its nested transaction's: the first sighting misses, the second hits.
    expect(verify.attributes).toMatchObject({
      'appstore.chain_cache': 'miss',
      'appstore.chain_cache.misses': 1,
      'appstore.notification_uuid': uuid,
      'appstore.bundle_id': TEST_BUNDLE_ID,
    });

    const ocsp = named(spans, 'ocsp.request');
    expect(ocsp.map((span) => span.attributes['appstore.certificate']).sort()).toEqual(['intermediate', 'leaf']);
    for (const span of ocsp) {
      expect(parentOf(span)).toBe(idOf(verify));
      expect(span.kind).toBe(2); // CLIENT
    }

    const batch = only(spans, 'notification.write_batch');
    expect(parentOf(batch)).toBe(idOf(ingest));
    expect(batch.attributes['appstore.notification_uuids']).toEqual([uuid]);
    const transaction = only(spans, 'db.transaction');
    expect(parentOf(transaction)).toBe(idOf(batch));
    expect(transaction.attributes['db.system.name']).toBe('postgresql');

    // One trace, nothing failed.
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([request.spanContext().traceId]));
    expect(spans.filter((span) => span.status.code === 2).map((span) => span.name)).toEqual([]);

    // The notification's log line carries the trace and the request id.
    const line = logLines.find((entry) => entry.msg === 'notification' && entry.notificationUUID === uuid);
    expect(line).toMatchObject({ trace_id: request.spanContext().traceId, requestId: 'trace-test-1' });
  });

  it('says the chain cache hit, with no OCSP call, for a chain it has seen', async () => {
    const s = scenario(t.pki, { start: T0 });
    const response = await post(s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: Date.now() - 60_000, period: 0, status: 1 }));
    expect(response.statusCode).toBe(200);
    const spans = await spansOfRequest();
    expect(only(spans, 'verify.notification').attributes).toMatchObject({ 'appstore.chain_cache': 'hit', 'appstore.chain_cache.misses': 0 });
    expect(named(spans, 'ocsp.request')).toEqual([]);
  });

  it("continues the caller's trace from a traceparent header", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const s = scenario(t.pki, { start: T0 });
    await post(s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: Date.now() - 60_000, period: 0, status: 1 }), {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    const request = only(await spansOfRequest(), 'POST /webhooks/apple/v2');
    expect(request.spanContext().traceId).toBe(traceId);
    expect(parentOf(request)).toBe('00f067aa0ba902b7');
  });

  it('marks a rejected notification on its spans with the error code', async () => {
    const response = await post('not.a.jws');
    expect(response.statusCode).toBe(400);
    const spans = await spansOfRequest();
    const request = only(spans, 'POST /webhooks/apple/v2');
    expect(request.attributes['http.response.status_code']).toBe(400);
    const ingest = only(spans, 'notification.ingest');
    expect(ingest.status.code).toBe(2); // ERROR
    expect(typeof ingest.attributes['error.type']).toBe('string');
    expect(named(spans, 'notification.write_batch')).toEqual([]);
  });
});
