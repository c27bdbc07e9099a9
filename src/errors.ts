import { isDatabaseUnavailable, isDataException } from './db/errors.js';

export interface CodedErrorOptions {
  /** True when the same request may succeed later (something away or busy, not the input). */
  retryable?: boolean;
  /** Safe to send to the client with the answer, e.g. Retry-After. */
  headers?: Record<string, string>;
  /** Extra fields of the error body next to `code` and `message` (e.g. the refused `transactions` of a restore). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * Every error the service raises on purpose: a stable `code` to branch on, whether trying
 * again may help, and a message safe to show. No HTTP status: the error handler alone maps
 * errors to statuses (src/http/error-handler.ts), so modules below it know nothing of HTTP.
 */
export class CodedError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: CodedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
  }
}

// The kinds of refusal the service answers with. A coded error of no kind (Apple's
// verification, receipt and V1 errors) is a refusal of the input, or transient when retryable.

/** The request carries something the service refuses for good. */
export class InvalidInputError extends CodedError {}
/** No valid credentials. */
export class UnauthorizedError extends CodedError {}
/** Valid credentials that may not do this. */
export class ForbiddenError extends CodedError {}
export class NotFoundError extends CodedError {}
/** The request contradicts what is stored. */
export class ConflictError extends CodedError {}
/** Too many requests from this caller; `headers` says when to come back. */
export class TooManyRequestsError extends CodedError {
  constructor(code: string, message: string, options: Omit<CodedErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: true });
  }
}
/** The App Store refused or garbled our own request: the caller's request was fine. */
export class UpstreamError extends CodedError {}
/** Something the service needs is away or busy; the same request may pass later. */
export class UnavailableError extends CodedError {
  constructor(code: string, message: string, options: Omit<CodedErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: true });
  }
}

export const badRequest = (code: string, message: string) => new InvalidInputError(code, message);
export const unauthorized = (message = 'A valid bearer token is required') => new UnauthorizedError('UNAUTHORIZED', message);
export const forbidden = (code: string, message: string) => new ForbiddenError(code, message);
export const notFound = (code: string, message: string) => new NotFoundError(code, message);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new ConflictError(code, message, details === undefined ? {} : { details });
export const unavailable = (code: string, message: string) => new UnavailableError(code, message);

/**
 * Whether the same work may succeed later: a coded error says so itself; anything else
 * only when the database is away (a driver's error carries no `retryable`).
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof CodedError ? error.retryable : isDatabaseUnavailable(error);
}

/**
 * Whether the error refuses the request itself (a 4xx: sending it again changes nothing),
 * as against a failure of the service or of something it needs (a 5xx, worth a retry).
 */
export function isRefusal(error: unknown): boolean {
  if (error instanceof CodedError) return !error.retryable && !(error instanceof UpstreamError);
  return isDataException(error);
}

/** The stable code a log line gives for any error. */
export function codeOf(error: unknown): string {
  if (error instanceof CodedError) return error.code;
  if (isDataException(error)) return 'INVALID_INPUT';
  return isDatabaseUnavailable(error) ? 'DATABASE_UNAVAILABLE' : 'INTERNAL_ERROR';
}
