export {
  createAppStoreServerApi,
  PRODUCTION_BASE_URL,
  SANDBOX_BASE_URL,
  type AppStoreServerApi,
  type AppStoreServerApiOptions,
  type AppStoreServerEnvironmentApi,
} from './client.js';
export {
  APIError,
  AppStoreApiError,
  RETRYABLE_API_ERRORS,
  apiErrorName,
  type AppStoreApiErrorCode,
} from './errors.js';
export type { ApiCallEvent, ApiEnvironment } from './transport.js';
export type { TransactionEndpoints } from './transactions.js';
export type { SubscriptionEndpoints } from './subscriptions.js';
export type { NotificationEndpoints } from './notifications.js';
export type { MessagingEndpoints } from './messaging.js';
export type { PagingIterators } from './paging.js';
export { TOKEN_AUDIENCE } from './token.js';
export { parseRetryAfter } from './backoff.js';
export type * from './models.js';
