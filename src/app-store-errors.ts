import { APIError, type AppStoreApiError, apiErrorName } from './apple/api/index.js';
import { type CodedError, InvalidInputError, UnavailableError, UpstreamError } from './errors.js';

// App Store Server API failures as the service's own coded errors, for the use cases that
// call Apple. The HTTP status of each kind is chosen by the error handler alone.

/**
 * A request that needs the App Store Server API on a deployment without its credentials.
 * Invalid input, not unavailable: nothing is broken, this deployment simply cannot serve
 * the request, and the service never answers 5xx to a request it cannot serve.
 */
export const apiNotConfigured = (): CodedError =>
  new InvalidInputError(
    'API_NOT_CONFIGURED',
    'The App Store Server API is not configured: set APPLE_ISSUER_ID, APPLE_KEY_ID and APPLE_PRIVATE_KEY (or APPLE_PRIVATE_KEY_FILE)',
  );

/** A failure that may pass on a later try: Apple away, slow, rate limiting, or failing on its side. */
export function isTransientApiFailure(error: AppStoreApiError): boolean {
  return (
    error.retryable ||
    error.code === 'API_UNREACHABLE' ||
    error.code === 'API_TIMEOUT' ||
    error.code === 'API_RATE_LIMITED' ||
    (error.httpStatus !== null && error.httpStatus >= 500)
  );
}

function describeApple(error: AppStoreApiError): string {
  const parts = [error.httpStatus === null ? 'no HTTP status' : `HTTP ${error.httpStatus}`];
  if (error.apiError !== null) parts.push(`error ${error.apiError} (${apiErrorName(error.apiError) ?? 'unknown code'})`);
  return parts.join(', ');
}

function withCause(mapped: CodedError, error: AppStoreApiError): CodedError {
  // Kept for the error log line; the client sees only the message.
  mapped.cause = error;
  return mapped;
}

/**
 * Apple's answers that say the purchase or transaction asked about does not exist (or its
 * id is not one). Any other 400/404 is about our own request or configuration (an unknown
 * app or bundle id, a malformed call): that is 502, never the caller's "not found".
 */
export const PURCHASE_NOT_FOUND_ERRORS: ReadonlySet<number> = new Set([
  APIError.INVALID_TRANSACTION_ID,
  APIError.INVALID_ORIGINAL_TRANSACTION_ID,
  APIError.ACCOUNT_NOT_FOUND,
  APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND,
  APIError.TRANSACTION_ID_NOT_FOUND,
]);

export interface AppStoreApiErrorOptions {
  /** The answer when Apple says the thing asked about does not exist (HTTP 400 or 404 with one of `notFoundErrors`). */
  notFound?: () => CodedError;
  /** Apple's error codes that mean "does not exist" for this call; default PURCHASE_NOT_FOUND_ERRORS. */
  notFoundErrors?: ReadonlySet<number>;
}

/**
 * Apple saying, for good, that the thing asked about does not exist. A "_RETRYABLE" not
 * found is transient (Apple may not know it yet), so it is not one.
 */
export function isNotFoundAnswer(error: AppStoreApiError, codes: ReadonlySet<number> = PURCHASE_NOT_FOUND_ERRORS): boolean {
  if (isTransientApiFailure(error) || (error.httpStatus !== 400 && error.httpStatus !== 404)) return false;
  // A bare 404 without Apple's error body is kept as "not found", as it always was.
  return error.apiError === null ? error.httpStatus === 404 : codes.has(error.apiError);
}

/**
 * What a caller sees when the App Store Server API fails. Transient failures are
 * unavailable (try again, after Retry-After when Apple gave one); Apple refusing our own
 * request is an upstream error, since the caller's request to us was fine. Call sites
 * choose what "not found" means.
 */
export function appStoreApiError(error: AppStoreApiError, options: AppStoreApiErrorOptions = {}): CodedError {
  if (isTransientApiFailure(error)) {
    const headers: Record<string, string> = error.retryAfter !== null ? { 'retry-after': String(error.retryAfter) } : {};
    return withCause(
      new UnavailableError('APP_STORE_UNAVAILABLE', `The App Store Server API is unavailable (${describeApple(error)}); try again later`, { headers }),
      error,
    );
  }
  if (options.notFound && isNotFoundAnswer(error, options.notFoundErrors)) {
    return withCause(options.notFound(), error);
  }
  if (error.httpStatus === 401) {
    return withCause(
      new UpstreamError(
        'APP_STORE_UNAUTHORIZED',
        'The App Store Server API refused the credentials (HTTP 401): check APPLE_ISSUER_ID, APPLE_KEY_ID, APPLE_PRIVATE_KEY and APPLE_BUNDLE_ID',
      ),
      error,
    );
  }
  if (error.code === 'API_BAD_RESPONSE') {
    return withCause(new UpstreamError('APP_STORE_BAD_RESPONSE', `The App Store Server API answered unexpectedly: ${error.message}`), error);
  }
  return withCause(new UpstreamError('APP_STORE_ERROR', `The App Store Server API refused the request (${describeApple(error)})`), error);
}
