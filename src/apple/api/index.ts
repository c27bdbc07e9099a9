export { parseRetryAfter } from './backoff.js';
export {
  type AppStoreServerApi,
  type AppStoreServerApiOptions,
  type AppStoreServerEnvironmentApi,
  createAppStoreServerApi,
  PRODUCTION_BASE_URL,
  SANDBOX_BASE_URL,
} from './client.js';
export {
  APIError,
  AppStoreApiError,
  type AppStoreApiErrorCode,
  apiErrorName,
  RETRYABLE_API_ERRORS,
} from './errors.js';
export type * from './models.js';
export type { NotificationEndpoints } from './notifications.js';
export type { PagingIterators } from './paging.js';
export type { SubscriptionEndpoints } from './subscriptions.js';
export { TOKEN_AUDIENCE } from './token.js';
export type { TransactionEndpoints } from './transactions.js';
export type { ApiCallEvent, ApiEnvironment } from './transport.js';
