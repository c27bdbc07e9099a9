import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { apiNotConfigured, appStoreApiError, isTransientApiFailure, PURCHASE_NOT_FOUND_ERRORS } from '../app-store-errors.js';
import { APIError, type ApiEnvironment, AppStoreApiError, type AppStoreServerApi, apiErrorName } from '../apple/api/index.js';
import type { Clock } from '../clock.js';
import type { AppleEnvironment } from '../config.js';
import type { Database } from '../db/client.js';
import { type CodedError, conflict, notFound } from '../errors.js';
import { environmentOfPurchase, recordExtension } from './extensions.repository.js';
import { testNotificationEnvironment } from './test-notification.usecase.js';

// Renewal-date extensions through the App Store Server API. The service asks and records the
// request; it changes no stored subscription: Apple's RENEWAL_EXTENDED notification carries the
// new expiresDate (signed), and the ingest applies it like any other notification.

export const NOT_YET_APPLIED = "the new expiry is applied when Apple's RENEWAL_EXTENDED notification arrives";

/** Apple refusing an extension for the subscription's own sake: nothing wrong with the request. */
const EXTENSION_REFUSALS: ReadonlySet<number> = new Set([
  APIError.SUBSCRIPTION_EXTENSION_INELIGIBLE,
  APIError.SUBSCRIPTION_MAX_EXTENSION,
  APIError.FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE,
]);

/**
 * For a mass extension and its status, Apple's "not found" answers (any 404 but an unknown
 * app, which is our configuration) and its invalid-id codes name the caller's product or request.
 */
const notFoundBy =
  (codes: readonly number[]) =>
  (error: AppStoreApiError): boolean =>
    !isTransientApiFailure(error) &&
    ((error.httpStatus === 404 && error.apiError !== APIError.APP_NOT_FOUND && error.apiError !== APIError.APP_NOT_FOUND_RETRYABLE) ||
      (error.apiError !== null && codes.includes(error.apiError)));

async function callingApple<T>(
  fn: () => Promise<T>,
  unknown: { notFound: () => CodedError; codes: ReadonlySet<number> } | { notFound: () => CodedError; is: (error: AppStoreApiError) => boolean },
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof AppStoreApiError)) throw error;
    if (error.apiError !== null && EXTENSION_REFUSALS.has(error.apiError)) {
      throw conflict('EXTENSION_NOT_ALLOWED', `Apple refuses to extend: error ${error.apiError} (${apiErrorName(error.apiError)})`);
    }
    if ('is' in unknown) {
      if (unknown.is(error)) throw Object.assign(unknown.notFound(), { cause: error });
      throw appStoreApiError(error);
    }
    throw appStoreApiError(error, { notFound: unknown.notFound, notFoundErrors: unknown.codes });
  }
}

const isoOf = (millis: number | undefined) => (typeof millis === 'number' && Number.isFinite(millis) ? new Date(millis).toISOString() : null);

export interface ExtensionInput {
  days: number;
  /** Apple's extendReasonCode, 0..3. */
  reason: number;
  environment?: ApiEnvironment;
  /** The admin key's id (never the key). */
  requestedBy: string;
}

export interface SingleExtension {
  requestId: string;
  originalTransactionId: string;
  environment: ApiEnvironment;
  /** Apple's `success`. */
  accepted: boolean;
  /** Apple's `effectiveDate`: when the extension takes effect. */
  effectiveDate: string | null;
  applied: false;
  note: string;
}

export interface MassExtension {
  requestId: string;
  productId: string;
  environment: ApiEnvironment;
  applied: false;
  note: string;
}

export interface MassExtensionProgress {
  requestId: string;
  productId: string;
  environment: ApiEnvironment;
  complete: boolean;
  completeDate: string | null;
  succeededCount: number | null;
  failedCount: number | null;
}

export interface ExtensionsUsecase {
  extendOne(originalTransactionId: string, input: ExtensionInput): Promise<SingleExtension>;
  extendAll(productId: string, input: ExtensionInput & { storefronts?: string[] }): Promise<MassExtension>;
  progress(productId: string, requestId: string, environment?: ApiEnvironment): Promise<MassExtensionProgress>;
}

export interface ExtensionsDeps {
  /** null without App Store Server API credentials: every call is 400 API_NOT_CONFIGURED. */
  api: AppStoreServerApi | null;
  db: Database;
  environments: readonly AppleEnvironment[];
  clock: Clock;
  logger: Logger;
  newRequestId?: () => string;
}

export function createExtensionsUsecase(deps: ExtensionsDeps): ExtensionsUsecase {
  const newRequestId = deps.newRequestId ?? randomUUID;
  const configured = (): AppStoreServerApi => {
    if (deps.api === null) throw apiNotConfigured();
    return deps.api;
  };

  return {
    async extendOne(originalTransactionId, input) {
      const api = configured();
      let requested = input.environment;
      if (requested === undefined) {
        // The purchase's own environment when the service has seen it.
        const stored = await environmentOfPurchase(deps.db, originalTransactionId);
        if ((stored === 'Production' || stored === 'Sandbox') && deps.environments.includes(stored)) requested = stored;
      }
      const environment = testNotificationEnvironment(deps.environments, requested);
      const requestId = newRequestId();
      const answer = await callingApple(
        () =>
          api
            .forEnvironment(environment)
            .extendSubscriptionRenewalDate(originalTransactionId, { extendByDays: input.days, extendReasonCode: input.reason, requestIdentifier: requestId }),
        {
          notFound: () => notFound('TRANSACTION_NOT_FOUND', `The App Store knows no subscription ${originalTransactionId} in ${environment}`),
          codes: PURCHASE_NOT_FOUND_ERRORS,
        },
      );
      deps.logger.info({ requestId, originalTransactionId, days: input.days, by: input.requestedBy, answer }, 'renewal extension requested');
      await recordExtension(deps.db, {
        requestId,
        kind: 'single',
        target: originalTransactionId,
        days: input.days,
        reason: input.reason,
        environment,
        requestedBy: input.requestedBy,
        createdAt: deps.clock(),
        answer,
      });
      return {
        requestId,
        originalTransactionId,
        environment,
        accepted: answer.success === true,
        effectiveDate: isoOf(answer.effectiveDate),
        applied: false,
        note: NOT_YET_APPLIED,
      };
    },

    async extendAll(productId, input) {
      const api = configured();
      const environment = testNotificationEnvironment(deps.environments, input.environment);
      const requestId = newRequestId();
      const answer = await callingApple(
        () =>
          api.forEnvironment(environment).extendRenewalDateForAllActiveSubscribers({
            productId,
            extendByDays: input.days,
            extendReasonCode: input.reason,
            requestIdentifier: requestId,
            ...(input.storefronts !== undefined ? { storefrontCountryCodes: input.storefronts } : {}),
          }),
        { notFound: () => notFound('PRODUCT_NOT_FOUND', `The App Store knows no product ${productId}`), is: notFoundBy([APIError.INVALID_PRODUCT_ID]) },
      );
      deps.logger.info({ requestId, productId, days: input.days, by: input.requestedBy }, 'mass renewal extension requested');
      await recordExtension(deps.db, {
        requestId,
        kind: 'mass',
        target: productId,
        storefronts: input.storefronts ?? null,
        days: input.days,
        reason: input.reason,
        environment,
        requestedBy: input.requestedBy,
        createdAt: deps.clock(),
        answer,
      });
      return { requestId, productId, environment, applied: false, note: NOT_YET_APPLIED };
    },

    async progress(productId, requestId, requestedEnvironment) {
      const api = configured();
      const environment = testNotificationEnvironment(deps.environments, requestedEnvironment);
      const answer = await callingApple(() => api.forEnvironment(environment).getStatusOfSubscriptionRenewalDateExtensions(requestId, productId), {
        notFound: () => notFound('EXTENSION_REQUEST_NOT_FOUND', `Apple knows no extension request ${requestId} for ${productId} in ${environment}`),
        is: notFoundBy([APIError.INVALID_REQUEST_IDENTIFIER, APIError.INVALID_PRODUCT_ID]),
      });
      return {
        requestId,
        productId,
        environment,
        complete: answer.complete === true,
        completeDate: isoOf(answer.completeDate),
        succeededCount: answer.succeededCount ?? null,
        failedCount: answer.failedCount ?? null,
      };
    },
  };
}
