import pino, { type Logger } from 'pino';
import { isFailedQuery, isPostgresError } from './db/errors.js';
import { traceLogFields } from './tracing/tracing.js';

// Secrets must never reach a log line, whatever object they travel in.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  'apiKeys',
  '*.apiKeys',
  'adminApiKeys',
  '*.adminApiKeys',
  'privateKey',
  '*.privateKey',
  '*.*.privateKey',
  'sharedSecret',
  '*.sharedSecret',
  'signedPayload',
  '*.signedPayload',
];

// Fields of a database error that carry the query's values rather than its shape.
const VALUE_FIELDS = new Set(['params', 'parameters', 'detail', 'where', 'internalQuery', 'stack', 'cause', 'errors', 'message']);
const MAX_CAUSES = 4;

/** PostgreSQL quotes the offending value back in its message ('invalid input syntax ...: "x"'). */
function withoutValues(message: string): string {
  return message.replace(/"(?:[^"\\]|\\.)*"/g, '"[redacted]"');
}

function messageOf(error: Error): string {
  // Drizzle's message is the query and then `params: ...`; the query alone is kept.
  // (PGlite's own errors carry query and params too, but a message of PostgreSQL's.)
  if (isPostgresError(error)) return withoutValues(error.message);
  if (isFailedQuery(error)) return `Failed query: ${error.query}`;
  return error.message;
}

/**
 * pino's `err` serializer, minus what a database error says about the data: drizzle's
 * parameter list, PostgreSQL's detail and quoted values. The query's SQL text, the
 * SQLSTATE and the stack frames stay, for whoever must find the failing statement.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const message = messageOf(error);
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  const out: Record<string, unknown> = { type: error.name, message, stack: [`${error.name}: ${message}`, ...frames].join('\n') };
  const databaseError = isFailedQuery(error) || isPostgresError(error);
  for (const [key, value] of Object.entries(error)) {
    if (VALUE_FIELDS.has(key) || (databaseError && typeof value === 'object' && value !== null)) continue;
    out[key] = value;
  }
  if (depth < MAX_CAUSES && error.cause !== undefined) out.cause = serializeError(error.cause, depth + 1);
  if (depth < MAX_CAUSES && error instanceof AggregateError) out.errors = error.errors.map((inner) => serializeError(inner, depth + 1));
  return out;
}

export interface LoggerOptions {
  /** Tracing is on: each line written inside a span carries its `trace_id` and `span_id`. */
  traceIds?: boolean;
}

export function createLogger(level: string, destination?: pino.DestinationStream, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level,
      // Only with tracing on: without it there is never an active span to look up.
      ...(options.traceIds ? { mixin: traceLogFields } : {}),
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
      base: { service: 'app-store-entitlements' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
