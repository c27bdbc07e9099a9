import { trace } from '@opentelemetry/api';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import type { TraceSampler, TracingConfig } from '../config-tracing.js';
import { createTracing, type Tracing } from './tracing.js';

// The OpenTelemetry SDK, started by server.ts only when tracing is on: the SDK and its
// exporter are imported here, dynamically, so a service without OTEL_* settings never
// loads them. No auto-instrumentation is registered: the service opens its own spans
// (tracing.ts) around requests, verification, database transactions and outbound calls,
// which costs far less than patching every module it loads.

export interface RunningTracing {
  tracing: Tracing;
  /** Exports the spans still buffered, then stops (at shutdown). */
  shutdown(): Promise<void>;
}

export async function startTracing(config: TracingConfig, serviceVersion: string): Promise<RunningTracing> {
  const { NodeSDK, resources, tracing: sdkTrace } = await import('@opentelemetry/sdk-node');
  const exporter =
    config.exporter === 'console'
      ? new sdkTrace.ConsoleSpanExporter()
      : config.protocol === 'http/json'
        ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.url!, headers: config.headers })
        : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: config.url!, headers: config.headers });

  const ratio = new sdkTrace.TraceIdRatioBasedSampler(config.samplerRatio);
  const samplers: Record<TraceSampler, NodeSDKConfiguration['sampler']> = {
    always_on: new sdkTrace.AlwaysOnSampler(),
    always_off: new sdkTrace.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdkTrace.ParentBasedSampler({ root: new sdkTrace.AlwaysOnSampler() }),
    parentbased_always_off: new sdkTrace.ParentBasedSampler({ root: new sdkTrace.AlwaysOffSampler() }),
    parentbased_traceidratio: new sdkTrace.ParentBasedSampler({ root: ratio }),
  };

  const sdk = new NodeSDK({
    // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME come from the configuration (a .env file
    // counts), not from the SDK's own read of process.env.
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': serviceVersion })),
    resourceDetectors: [resources.processDetector, resources.hostDetector],
    traceExporter: exporter,
    sampler: samplers[config.sampler],
    instrumentations: [],
    // Traces only: metrics stay on /metrics (Prometheus) and logs on stdout (pino).
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    tracing: createTracing(trace.getTracer('app-store-entitlements', serviceVersion)),
    shutdown: () => sdk.shutdown(),
  };
}
