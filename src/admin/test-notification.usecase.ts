import type { AppStoreServerApi, ApiEnvironment, SendAttemptItem } from '../apple/api/index.js';
import type { SignedDataVerifier } from '../apple/types.js';
import type { AppleEnvironment } from '../config.js';
import { AppError, badRequest } from '../errors.js';
import { mappingApiErrors } from './api-errors.js';
import { historyEnvironments } from './recovery.usecase.js';

export interface TestNotificationDeps {
  api: AppStoreServerApi;
  environments: readonly AppleEnvironment[];
  verifier: SignedDataVerifier;
}

/** The environment asked for, else Production when accepted, else Sandbox; 400 when not accepted. */
export function testNotificationEnvironment(
  accepted: readonly AppleEnvironment[],
  requested: ApiEnvironment | undefined,
): ApiEnvironment {
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
export async function requestTestNotification(
  deps: TestNotificationDeps,
  requested?: ApiEnvironment,
): Promise<RequestedTestNotification> {
  const environment = testNotificationEnvironment(deps.environments, requested);
  const answer = await mappingApiErrors(() => deps.api.forEnvironment(environment).requestTestNotification());
  if (typeof answer.testNotificationToken !== 'string' || answer.testNotificationToken === '') {
    throw new AppError(502, 'APPLE_API_BAD_RESPONSE', 'Apple answered without a testNotificationToken');
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
export async function getTestNotificationStatus(
  deps: TestNotificationDeps,
  token: string,
  requested?: ApiEnvironment,
): Promise<TestNotificationStatus> {
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
