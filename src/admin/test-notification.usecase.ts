import { apiNotConfigured, appStoreApiError } from '../app-store-errors.js';
import { APIError, type ApiEnvironment, AppStoreApiError, type AppStoreServerApi, apiErrorName, type SendAttemptItem } from '../apple/api/index.js';
import type { SignedDataVerifier } from '../apple/types.js';
import type { AppleEnvironment } from '../config.js';
import { badRequest, notFound } from '../errors.js';
import { historyEnvironments } from './recovery.usecase.js';

// Only these codes mean the token is unknown; any other 400 from Apple is our request's fault (502).
const TEST_NOTIFICATION_NOT_FOUND: ReadonlySet<number> = new Set([APIError.TEST_NOTIFICATION_NOT_FOUND, APIError.INVALID_TEST_NOTIFICATION_TOKEN]);

/** Runs `fn`, turning App Store Server API failures into admin answers (404 for an unknown token). */
async function mappingApiErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof AppStoreApiError)) throw error;
    const apiError = error.apiError;
    if (apiError === null || !TEST_NOTIFICATION_NOT_FOUND.has(apiError)) throw appStoreApiError(error);
    const unknownToken = () => notFound('TEST_NOTIFICATION_NOT_FOUND', `Apple knows no such test notification (error ${apiError}, ${apiErrorName(apiError)})`);
    throw appStoreApiError(error, { notFound: unknownToken, notFoundErrors: TEST_NOTIFICATION_NOT_FOUND });
  }
}

export interface TestNotificationDeps {
  api: AppStoreServerApi;
  environments: readonly AppleEnvironment[];
  verifier: SignedDataVerifier;
}

/** The environment asked for, else Production when accepted, else Sandbox; 400 when not accepted. */
export function testNotificationEnvironment(accepted: readonly AppleEnvironment[], requested: ApiEnvironment | undefined): ApiEnvironment {
  const usable = historyEnvironments(accepted);
  if (requested !== undefined) {
    if (!usable.includes(requested)) {
      throw badRequest('ENVIRONMENT_NOT_ACCEPTED', `${requested} is not among APPLE_ENVIRONMENTS (${accepted.join(', ')})`);
    }
    return requested;
  }
  const chosen = usable[0];
  if (chosen === undefined) {
    throw badRequest('ENVIRONMENT_NOT_ACCEPTED', 'APPLE_ENVIRONMENTS accepts neither Production nor Sandbox, which alone reach Apple');
  }
  return chosen;
}

export interface RequestedTestNotification {
  testNotificationToken: string;
  environment: ApiEnvironment;
}

/** Asks Apple to send a TEST notification to the URL configured in App Store Connect. */
export async function requestTestNotification(deps: TestNotificationDeps, requested?: ApiEnvironment): Promise<RequestedTestNotification> {
  const environment = testNotificationEnvironment(deps.environments, requested);
  const answer = await mappingApiErrors(() => deps.api.forEnvironment(environment).requestTestNotification());
  if (typeof answer.testNotificationToken !== 'string' || answer.testNotificationToken === '') {
    throw appStoreApiError(
      new AppStoreApiError('API_BAD_RESPONSE', 'requestTestNotification: answer has no testNotificationToken', { endpoint: 'requestTestNotification' }),
    );
  }
  return { testNotificationToken: answer.testNotificationToken, environment };
}

export interface TestNotificationStatus {
  environment: ApiEnvironment;
  signedPayload?: string;
  /** Apple's delivery attempts, as Apple returns them. */
  sendAttempts: SendAttemptItem[];
  /** From the verified payload; absent when there is none. */
  notificationType?: string;
  notificationUUID?: string;
  /** The verifier's code when the payload is present but does not verify (wrong app, untrusted chain…). */
  verificationError?: string;
}

/** Apple's record of a test notification's delivery, with its payload decoded when it verifies. */
export async function getTestNotificationStatus(deps: TestNotificationDeps, token: string, requested?: ApiEnvironment): Promise<TestNotificationStatus> {
  const environment = testNotificationEnvironment(deps.environments, requested);
  const answer = await mappingApiErrors(() => deps.api.forEnvironment(environment).getTestNotificationStatus(token));
  const status: TestNotificationStatus = { environment, sendAttempts: answer.sendAttempts ?? [] };
  if (typeof answer.signedPayload === 'string' && answer.signedPayload !== '') {
    status.signedPayload = answer.signedPayload;
    try {
      const { payload } = await deps.verifier.verifyNotification(answer.signedPayload);
      status.notificationType = payload.notificationType;
      status.notificationUUID = payload.notificationUUID;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      status.verificationError = typeof code === 'string' ? code : 'VERIFICATION_FAILED';
    }
  }
  return status;
}

export interface TestNotificationsUsecase {
  request(environment?: ApiEnvironment): Promise<RequestedTestNotification>;
  status(token: string, environment?: ApiEnvironment): Promise<TestNotificationStatus>;
}

/** Test notifications over the Server API; each call is 400 API_NOT_CONFIGURED without credentials. */
export function createTestNotificationsUsecase(deps: Omit<TestNotificationDeps, 'api'> & { api: AppStoreServerApi | null }): TestNotificationsUsecase {
  const configured = (): TestNotificationDeps => {
    if (deps.api === null) throw apiNotConfigured();
    return { api: deps.api, environments: deps.environments, verifier: deps.verifier };
  };
  return {
    request: async (environment) => requestTestNotification(configured(), environment),
    status: async (token, environment) => getTestNotificationStatus(configured(), token, environment),
  };
}
