import { type Attributes, type Context, context, type Link, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';

// The service's one view of OpenTelemetry. Modules receive a `Tracing` like a clock: the
// no-op one (tracing off, the default everywhere) calls the work and nothing else, so a
// service without OTEL_* settings pays one function call per span and loads no SDK
// (tracing-sdk.ts is imported only when tracing is on). Span and attribute names are
// listed in docs/operating.md ("Tracing").

export type SpanAttributes = Attributes;

/** Where a span came from; what the work inside it may add. */
export interface SpanHandle {
  setAttributes(attributes: SpanAttributes): void;
}

/** A span started by hand (the HTTP request's), ended by its owner. */
export interface StartedSpan extends SpanHandle {
  /** Runs `work` with this span as the active one: spans started inside are its children. */
  run<T>(work: () => T): T;
  /** Marks the span failed with the error (its code as `error.type`). */
  fail(error: unknown): void;
  /** Idempotent. */
  end(): void;
}

/** The active trace position, captured to resume it later (work grouped with other callers'). */
export type TraceContext = Context;

export interface SpanOptions {
  kind?: 'internal' | 'server' | 'client';
  attributes?: SpanAttributes;
  /** The parent instead of the active span (work done later on behalf of a captured caller). */
  parent?: TraceContext | undefined;
  /** Other callers the work serves (a batch): linked, not parents. */
  links?: readonly (TraceContext | undefined)[];
}

export interface Tracing {
  readonly enabled: boolean;
  /** Runs `work` in a child span of the active one; a thrown error marks the span failed and goes on. */
  span<T>(name: string, options: SpanOptions, work: (span: SpanHandle) => Promise<T>): Promise<T>;
  /** A span started now and ended by the caller. */
  start(name: string, options?: SpanOptions): StartedSpan;
  /** Sets attributes on the active span, if any. */
  annotate(attributes: SpanAttributes): void;
  /** The active context, to pass as `parent` or `links` later; undefined when tracing is off. */
  capture(): TraceContext | undefined;
}

const noopHandle: StartedSpan = {
  setAttributes() {},
  run: (work) => work(),
  fail() {},
  end() {},
};

export const noopTracing: Tracing = {
  enabled: false,
  span: (_name, _options, work) => work(noopHandle),
  start: () => noopHandle,
  annotate() {},
  capture: () => undefined,
};

const KINDS = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, client: SpanKind.CLIENT } as const;

/** `error.type`: a coded error's stable code, else the error's class name. */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown';
}

function markFailed(span: Span, error: unknown): void {
  span.setAttribute('error.type', errorType(error));
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, ...(error instanceof Error ? { message: error.message } : {}) });
}

/**
 * Tracing over an OpenTelemetry tracer. Parent and child follow OpenTelemetry's active
 * context, so a context manager must be registered (tracing-sdk.ts does; tests register
 * AsyncLocalStorageContextManager themselves).
 */
export function createTracing(tracer: Tracer): Tracing {
  const startSpan = (name: string, options: SpanOptions = {}): { span: Span; context: Context } => {
    const parent = options.parent ?? context.active();
    const links: Link[] = [];
    for (const linked of options.links ?? []) {
      const spanContext = linked === undefined ? undefined : trace.getSpanContext(linked);
      if (spanContext !== undefined) links.push({ context: spanContext });
    }
    const span = tracer.startSpan(
      name,
      { kind: KINDS[options.kind ?? 'internal'], ...(options.attributes ? { attributes: options.attributes } : {}), ...(links.length > 0 ? { links } : {}) },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  };

  return {
    enabled: true,
    async span(name, options, work) {
      const { span, context: active } = startSpan(name, options);
      try {
        return await context.with(active, () => work(span));
      } catch (error) {
        markFailed(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
    start(name, options) {
      const { span, context: active } = startSpan(name, options);
      let ended = false;
      return {
        setAttributes: (attributes) => span.setAttributes(attributes),
        run: (work) => context.with(active, work),
        fail: (error) => markFailed(span, error),
        end() {
          if (ended) return;
          ended = true;
          span.end();
        },
      };
    },
    annotate(attributes) {
      trace.getActiveSpan()?.setAttributes(attributes);
    },
    capture: () => context.active(),
  };
}

/** pino's `mixin`: the active span's ids on every log line written inside it (OpenTelemetry's field names). */
export function traceLogFields(): Record<string, string> {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext === undefined) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId, trace_flags: `0${spanContext.traceFlags.toString(16)}` };
}
