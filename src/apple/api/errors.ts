import { CodedError } from '../../errors.js';

/**
 * Apple's numeric error codes for the App Store Server API and Retention Messaging API,
 * named after Apple's documentation. A code missing here still reaches the caller raw in
 * `AppStoreApiError.apiError`.
 */
export enum APIError {
  GENERAL_BAD_REQUEST = 4000000,
  INVALID_APP_IDENTIFIER = 4000002,
  INVALID_REQUEST_REVISION = 4000005,
  INVALID_TRANSACTION_ID = 4000006,
  INVALID_ORIGINAL_TRANSACTION_ID = 4000008,
  INVALID_EXTEND_BY_DAYS = 4000009,
  INVALID_EXTEND_REASON_CODE = 4000010,
  INVALID_REQUEST_IDENTIFIER = 4000011,
  START_DATE_TOO_FAR_IN_PAST = 4000012,
  START_DATE_AFTER_END_DATE = 4000013,
  INVALID_PAGINATION_TOKEN = 4000014,
  INVALID_START_DATE = 4000015,
  INVALID_END_DATE = 4000016,
  PAGINATION_TOKEN_EXPIRED = 4000017,
  INVALID_NOTIFICATION_TYPE = 4000018,
  MULTIPLE_FILTERS_SUPPLIED = 4000019,
  INVALID_TEST_NOTIFICATION_TOKEN = 4000020,
  INVALID_SORT = 4000021,
  INVALID_PRODUCT_TYPE = 4000022,
  INVALID_PRODUCT_ID = 4000023,
  INVALID_SUBSCRIPTION_GROUP_IDENTIFIER = 4000024,
  INVALID_EXCLUDE_REVOKED = 4000025,
  INVALID_IN_APP_OWNERSHIP_TYPE = 4000026,
  INVALID_EMPTY_STOREFRONT_COUNTRY_CODE_LIST = 4000027,
  INVALID_STOREFRONT_COUNTRY_CODE = 4000028,
  INVALID_REVOKED = 4000030,
  INVALID_STATUS = 4000031,
  INVALID_ACCOUNT_TENURE = 4000032,
  INVALID_APP_ACCOUNT_TOKEN = 4000033,
  INVALID_CONSUMPTION_STATUS = 4000034,
  INVALID_CUSTOMER_CONSENTED = 4000035,
  INVALID_DELIVERY_STATUS = 4000036,
  INVALID_LIFETIME_DOLLARS_PURCHASED = 4000037,
  INVALID_LIFETIME_DOLLARS_REFUNDED = 4000038,
  INVALID_PLATFORM = 4000039,
  INVALID_PLAY_TIME = 4000040,
  INVALID_SAMPLE_CONTENT_PROVIDED = 4000041,
  INVALID_USER_STATUS = 4000042,
  INVALID_TRANSACTION_NOT_CONSUMABLE = 4000043,
  INVALID_TRANSACTION_TYPE_NOT_SUPPORTED = 4000047,
  APP_TRANSACTION_ID_NOT_SUPPORTED_ERROR = 4000048,
  INVALID_IMAGE = 4000161,
  HEADER_TOO_LONG = 4000162,
  BODY_TOO_LONG = 4000163,
  INVALID_LOCALE = 4000164,
  ALT_TEXT_TOO_LONG = 4000175,
  INVALID_APP_ACCOUNT_TOKEN_UUID_ERROR = 4000183,
  FAMILY_TRANSACTION_NOT_SUPPORTED_ERROR = 4000185,
  TRANSACTION_ID_IS_NOT_ORIGINAL_TRANSACTION_ID_ERROR = 4000187,
  INVALID_PERFORMANCE_TEST_REQUEST = 4000211,
  INVALID_REQUEST_ID = 4000212,
  EXISTING_PERFORMANCE_TEST_RUN = 4000213,
  BAD_REQUEST_REALTIME_URL = 4000215,
  BAD_REQUEST_IMAGE_SIZE = 4000216,
  BAD_REQUEST_TOO_MANY_BULLET_POINTS = 4000218,
  BAD_REQUEST_BULLET_POINT_TEXT_TOO_LONG = 4000219,
  BAD_REQUEST_ABOVE_IMAGE_REQUIRES_AN_IMAGE = 4000224,
  SUBSCRIPTION_EXTENSION_INELIGIBLE = 4030004,
  SUBSCRIPTION_MAX_EXTENSION = 4030005,
  FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE = 4030007,
  MAXIMUM_NUMBER_OF_IMAGES_REACHED = 4030014,
  MAXIMUM_NUMBER_OF_MESSAGES_REACHED = 4030016,
  MESSAGE_NOT_APPROVED = 4030017,
  IMAGE_NOT_APPROVED = 4030018,
  IMAGE_IN_USE = 4030019,
  FORBIDDEN_NO_PASSING_TEST = 4030026,
  ACCOUNT_NOT_FOUND = 4040001,
  ACCOUNT_NOT_FOUND_RETRYABLE = 4040002,
  APP_NOT_FOUND = 4040003,
  APP_NOT_FOUND_RETRYABLE = 4040004,
  ORIGINAL_TRANSACTION_ID_NOT_FOUND = 4040005,
  ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE = 4040006,
  SERVER_NOTIFICATION_URL_NOT_FOUND = 4040007,
  TEST_NOTIFICATION_NOT_FOUND = 4040008,
  STATUS_REQUEST_NOT_FOUND = 4040009,
  TRANSACTION_ID_NOT_FOUND = 4040010,
  IMAGE_NOT_FOUND = 4040014,
  MESSAGE_NOT_FOUND = 4040015,
  PERFORMANCE_TEST_RUN_NOT_FOUND = 4040018,
  APP_TRANSACTION_DOES_NOT_EXIST_ERROR = 4040019,
  DEFAULT_MESSAGE_NOT_FOUND = 4040020,
  REALTIME_URL_NOT_FOUND = 4040021,
  IMAGE_ALREADY_EXISTS = 4090000,
  MESSAGE_ALREADY_EXISTS = 4090001,
  RATE_LIMIT_EXCEEDED = 4290000,
  GENERAL_INTERNAL = 5000000,
  GENERAL_INTERNAL_RETRYABLE = 5000001,
}

/** Codes Apple documents as "try again later": the request itself was fine. */
export const RETRYABLE_API_ERRORS: ReadonlySet<number> = new Set([
  APIError.ACCOUNT_NOT_FOUND_RETRYABLE,
  APIError.APP_NOT_FOUND_RETRYABLE,
  APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE,
  APIError.RATE_LIMIT_EXCEEDED,
  APIError.GENERAL_INTERNAL_RETRYABLE,
]);

export type AppStoreApiErrorCode =
  /** Apple answered with an error status (see `httpStatus` and `apiError`). */
  | 'API_ERROR'
  /** Apple answered 429 (or `RATE_LIMIT_EXCEEDED`) and retries did not get through. */
  | 'API_RATE_LIMITED'
  /** No HTTP answer at all: DNS, connection refused or reset, TLS. */
  | 'API_UNREACHABLE'
  /** No complete answer within the per-request timeout. */
  | 'API_TIMEOUT'
  /** A 2xx answer whose body is not the JSON object the endpoint returns. */
  | 'API_BAD_RESPONSE';

export interface AppStoreApiErrorDetails {
  httpStatus?: number | null;
  apiError?: number | null;
  retryAfter?: number | null;
  retryable?: boolean;
  endpoint?: string;
  cause?: unknown;
}

export class AppStoreApiError extends CodedError {
  override readonly name = 'AppStoreApiError';
  declare readonly code: AppStoreApiErrorCode;
  readonly httpStatus: number | null;
  /** Apple's `errorCode`; compare with `APIError`. Unknown codes are kept as they came. */
  readonly apiError: number | null;
  /** Seconds Apple asked us to wait (`Retry-After`), when it said so. */
  readonly retryAfter: number | null;
  /** Which endpoint failed, e.g. `getTransactionInfo`. */
  readonly endpoint: string | null;

  constructor(code: AppStoreApiErrorCode, message: string, details: AppStoreApiErrorDetails = {}) {
    // `retryable`: the transport may try again at once (see transport.ts); whether a caller may
    // try later is wider (a timeout, any 5xx): see isTransientApiFailure.
    super(code, message, { cause: details.cause, retryable: details.retryable ?? false });
    this.httpStatus = details.httpStatus ?? null;
    this.apiError = details.apiError ?? null;
    this.retryAfter = details.retryAfter ?? null;
    this.endpoint = details.endpoint ?? null;
  }
}

/** Apple's name for a numeric code, or null when the code is newer than this list. */
export function apiErrorName(apiError: number): string | null {
  const name: unknown = (APIError as Record<number, unknown>)[apiError];
  return typeof name === 'string' ? name : null;
}
