import { AppStoreApiError, APIError, apiErrorName } from '../apple/api/index.js';
import { AppError } from '../errors.js';

/** An admin route called while no App Store Server API credentials are configured. */
export const apiNotConfigured = () =>
  new AppError(
    400,
    'API_NOT_CONFIGURED',
    'The App Store Server API is not configured: set APPLE_ISSUER_ID, APPLE_KEY_ID and APPLE_PRIVATE_KEY (or APPLE_PRIVATE_KEY_FILE)',
  );

const NOT_FOUND_API_ERRORS: ReadonlySet<number> = new Set([
  APIError.TEST_NOTIFICATION_NOT_FOUND,
  APIError.INVALID_TEST_NOTIFICATION_TOKEN,
]);

function describeApple(error: AppStoreApiError): string {
  const parts = [error.httpStatus === null ? 'no HTTP status' : `HTTP ${error.httpStatus}`];
  if (error.apiError !== null) parts.push(`error ${error.apiError} (${apiErrorName(error.apiError) ?? 'unknown code'})`);
  return parts.join(', ');
}

/**
 * What an admin caller sees when Apple's API fails. Transient failures are 503 (try
 * again); Apple refusing our own request is 502, since the caller's request to us was
 * fine; an unknown test-notification token is 404. Apple's numeric code is in the message.
 */
export function adminApiError(error: AppStoreApiError): AppError {
  const retryAfter: Record<string, string> = error.retryAfter !== null ? { 'retry-after': String(error.retryAfter) } : {};
  if (error.retryable || error.code === 'API_UNREACHABLE' || error.code === 'API_TIMEOUT' || error.code === 'API_RATE_LIMITED') {
    const code = error.code === 'API_ERROR' ? 'APPLE_API_UNAVAILABLE' : error.code;
    return new AppError(503, code, `The App Store Server API is unavailable (${describeApple(error)}); try again later`, retryAfter);
  }
  if (error.httpStatus !== null && error.httpStatus >= 500) {
    return new AppError(503, 'APPLE_API_UNAVAILABLE', `The App Store Server API failed (${describeApple(error)}); try again later`, retryAfter);
  }
  if (error.apiError !== null && NOT_FOUND_API_ERRORS.has(error.apiError)) {
    return new AppError(404, 'TEST_NOTIFICATION_NOT_FOUND', `Apple knows no such test notification (${describeApple(error)})`);
  }
  if (error.httpStatus === 401) {
    return new AppError(
      502,
      'APPLE_API_UNAUTHORIZED',
      'The App Store Server API refused the credentials (HTTP 401): check APPLE_ISSUER_ID, APPLE_KEY_ID, APPLE_PRIVATE_KEY and APPLE_BUNDLE_ID',
    );
  }
  if (error.code === 'API_BAD_RESPONSE') {
    return new AppError(502, 'APPLE_API_BAD_RESPONSE', `The App Store Server API answered unexpectedly: ${error.message}`);
  }
  return new AppError(502, 'APPLE_API_ERROR', `The App Store Server API refused the request (${describeApple(error)})`);
}

/** Runs `fn`, turning App Store Server API failures into admin answers. */
export async function mappingApiErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AppStoreApiError) throw adminApiError(error);
    throw error;
  }
}
