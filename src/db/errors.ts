// SQLSTATE classes and socket errors that mean "the database is away, try later",
// as opposed to a query that is wrong. See PostgreSQL's Appendix A.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);
const UNAVAILABLE_SQLSTATE_CLASSES = ['08'];
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  'PGlite is closed',
  'Client was closed',
];

/**
 * True when `error` says the database cannot be reached right now: the error itself, or
 * what drizzle's query wrapper or pg's connection attempts (AggregateError) carry. Other
 * causes are not followed: a socket error beneath a failed fetch (OCSP, Apple's APIs) is
 * not the database's.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_NODE_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
  }
  if (UNAVAILABLE_MESSAGES.some((text) => error.message.includes(text))) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isFailedQuery(error) && isDatabaseUnavailable(error.cause, depth + 1);
}

/** An error PostgreSQL (or PGlite) sent back: a SQLSTATE code and a severity. */
export function isPostgresError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as unknown as { code: string }).code) &&
    typeof (error as { severity?: unknown }).severity === 'string'
  );
}

/** Drizzle's wrapper around a failed query: its message lists the query's parameters. */
export function isFailedQuery(error: unknown): error is Error & { query: string; params: unknown; cause?: unknown } {
  return error instanceof Error && typeof (error as { query?: unknown }).query === 'string' && 'params' in error;
}

/** The database's own error, bare or inside drizzle's wrapper; undefined for anything else. */
export function postgresErrorOf(error: unknown): (Error & { code: string }) | undefined {
  if (isPostgresError(error)) return error;
  if (isFailedQuery(error) && isPostgresError(error.cause)) return error.cause;
  return undefined;
}

/**
 * SQLSTATE class 22 ("data exception": a NUL in text, a number out of range, a date
 * PostgreSQL cannot hold): the value is wrong, so trying again cannot help.
 */
export function isDataException(error: unknown): boolean {
  const code = postgresErrorOf(error)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
