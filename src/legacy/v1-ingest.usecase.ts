import type { Logger } from 'pino';
import { PRODUCT_TYPE } from '../apple/types.js';
import {
  type NormalizeV1Options,
  normalizeV1Notification,
  parseV1Notification,
  sharedSecretMatches,
  V1_NOTIFICATION_TYPES,
  type V1Normalized,
  type V1Notification,
} from '../apple/v1/index.js';
import type { VerifyReceiptClient } from '../apple/verify-receipt/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/client.js';
import { badRequest, notFound, unauthorized } from '../errors.js';
import { classifyError } from '../http/error-handler.js';
import type { ServiceEvents } from '../metrics/events.js';
import { isNotificationRecorded, recordNotification } from '../notifications/notifications.repository.js';
import type { AppStoreSync, PurchaseRef } from '../purchases/app-store-sync.usecase.js';
import { assertNotFutureDated } from '../purchases/future-dated.model.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { applyPurchaseUpdates } from '../purchases/purchases.repository.js';
import { updatesFromV1 } from './purchase-updates.model.js';

export interface V1IngestDeps {
  config: Config;
  database: DatabaseHandle;
  /** Apple's signed state of the purchases a body names, with Server API credentials (`connected`). */
  sync: AppStoreSync;
  /** Needed only without Server API credentials. */
  verifyReceipt: VerifyReceiptClient | null;
  /** Product types from the catalog, which V1 data does not carry (see v1ProductTypes). */
  productTypes: NormalizeV1Options;
  clock: Clock;
}

/**
 * Where the applied state came from: signed Server API data ('api'), Apple's verifyReceipt
 * answer ('verify_receipt'), or nothing ('body': a body that cannot be checked against
 * Apple is recorded and applies no state, see docs/v1-trust.md).
 */
export type V1StateSource = 'api' | 'verify_receipt' | 'body';

export interface V1IngestResult {
  status: 'processed' | 'duplicate';
  id: string;
  notificationType: string;
  environment: 'Production' | 'Sandbox';
  originalTransactionIds: string[];
  /** Undefined for a duplicate: nothing was fetched or applied. */
  stateSource?: V1StateSource;
}

/** A failed body's type for logs and metrics: only known types, so labels stay few. */
export function v1NotificationTypeOf(body: unknown): string | undefined {
  const type = typeof body === 'object' && body !== null ? (body as { notification_type?: unknown }).notification_type : undefined;
  return (V1_NOTIFICATION_TYPES as readonly unknown[]).includes(type) ? (type as string) : undefined;
}

/** The shared secret; 404 V1_DISABLED while APPLE_SHARED_SECRET is unset (the endpoint looks absent). */
function assertV1Enabled(config: Config): string {
  const secret = config.apple.sharedSecret;
  if (secret === null) throw notFound('V1_DISABLED', 'V1 notifications are disabled: set APPLE_SHARED_SECRET to enable them');
  return secret;
}

/**
 * Authenticates and validates a V1 body. The password is checked before anything else is
 * read, so a caller without the secret learns nothing about what a valid body looks like.
 */
export function authenticateV1(config: Config, body: unknown): V1Notification {
  const secret = assertV1Enabled(config);
  const password = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { password?: unknown }).password : undefined;
  if (!sharedSecretMatches(password, secret)) throw unauthorized('The notification password does not match APPLE_SHARED_SECRET');
  // A V1FormatError is a coded refusal of the body, answered with its own code.
  const notification: V1Notification = parseV1Notification(body);
  if (notification.bid !== config.apple.bundleId) {
    throw badRequest('WRONG_BUNDLE_ID', `The notification is for bundle "${notification.bid}", not ${config.apple.bundleId}`);
  }
  return notification;
}

function checkEnvironment(config: Config, environment: 'Production' | 'Sandbox', what: string): void {
  if (!config.apple.environments.includes(environment)) {
    throw badRequest('WRONG_ENVIRONMENT', `${what} is from ${environment}, which APPLE_ENVIRONMENTS does not accept`);
  }
}

/**
 * The purchases a body names, each with a transaction id to look it up by: a subscription
 * by its original transaction id (which Apple accepts), anything else by its own.
 */
export function purchaseRefsOf(normalized: V1Normalized): PurchaseRef[] {
  const refs = new Map<string, PurchaseRef>();
  for (const transaction of normalized.transactions) {
    const subscription = transaction.type === PRODUCT_TYPE.autoRenewable;
    const known = refs.get(transaction.originalTransactionId);
    if (known === undefined || (subscription && !known.subscription)) {
      refs.set(transaction.originalTransactionId, {
        originalTransactionId: transaction.originalTransactionId,
        transactionId: subscription ? transaction.originalTransactionId : transaction.transactionId,
        subscription,
      });
    }
  }
  // Named only by renewal info or the body's top level: V1 sends those for subscriptions.
  for (const id of normalized.originalTransactionIds) {
    if (!refs.has(id)) refs.set(id, { originalTransactionId: id, transactionId: id, subscription: true });
  }
  return [...refs.values()].sort((a, b) => (a.originalTransactionId < b.originalTransactionId ? -1 : 1));
}

/**
 * Trust (docs/v1-trust.md): V1 bodies are unsigned, so with Server API credentials the body
 * is only a trigger and Apple's signed answer is applied. Without them, Apple's verifyReceipt
 * answer for the body's `latest_receipt` is applied, marked 'v1' so it never replaces or
 * outranks signed data. A body that cannot be checked (no receipt, or no verifyReceipt
 * client) applies nothing: the shared secret proves only that the sender knows it, and it
 * is often shipped inside apps, so what such a body says is not taken as Apple's word.
 */
async function stateFor(
  deps: V1IngestDeps,
  notification: V1Notification,
  normalized: V1Normalized,
): Promise<{ updates: PurchaseUpdate[]; source: V1StateSource }> {
  if (deps.sync.connected) {
    return { updates: await deps.sync.updatesOf(normalized.environment, purchaseRefsOf(normalized)), source: 'api' };
  }
  const receipt = notification.unified_receipt.latest_receipt;
  if (typeof receipt !== 'string' || receipt === '' || deps.verifyReceipt === null) {
    return { updates: [], source: 'body' };
  }
  const answer = await deps.verifyReceipt.verify(receipt);
  const answeredBundle = (answer.body.receipt as { bundle_id?: unknown } | undefined)?.bundle_id;
  if (typeof answeredBundle === 'string' && answeredBundle !== deps.config.apple.bundleId) {
    throw badRequest('WRONG_BUNDLE_ID', `The notification's receipt is for bundle "${answeredBundle}", not ${deps.config.apple.bundleId}`);
  }
  checkEnvironment(deps.config, answer.environment, "The notification's receipt");
  const verifiedBody: V1Notification = {
    ...notification,
    environment: answer.environment === 'Production' ? 'PROD' : 'Sandbox',
    unified_receipt: {
      status: 0,
      environment: answer.environment,
      latest_receipt_info: answer.latestReceiptInfo,
      pending_renewal_info: answer.pendingRenewalInfo,
    },
  };
  const verified = normalizeV1Notification(verifiedBody, deps.productTypes);
  return { updates: updatesFromV1(verified), source: 'verify_receipt' };
}

const num = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

function storedPayload(body: unknown): string {
  const { password: _password, ...rest } = body as Record<string, unknown>;
  return JSON.stringify(rest);
}

/**
 * Ingests one V1 notification: authenticate, validate, skip a redelivery, fetch or verify
 * the purchase state, then record the notification and apply its state in one database
 * transaction, so a failure leaves nothing behind and Apple's resend starts clean.
 */
export async function ingestV1Notification(deps: V1IngestDeps, body: unknown): Promise<V1IngestResult> {
  const notification = authenticateV1(deps.config, body);
  const normalized = normalizeV1Notification(notification, deps.productTypes);
  checkEnvironment(deps.config, normalized.environment, 'The notification');
  // Before anyone is asked: a body dated in the future is refused whatever Apple would say.
  assertNotFutureDated(updatesFromV1(normalized), deps.clock(), [
    ['auto_renew_status_change_date', num(notification.auto_renew_status_change_date_ms)],
    ['cancellation_date', num(notification.cancellation_date_ms)],
  ]);

  const id = `v1:${normalized.dedupKey}`;
  const result: V1IngestResult = {
    status: 'duplicate',
    id,
    notificationType: notification.notification_type,
    environment: normalized.environment,
    originalTransactionIds: normalized.originalTransactionIds,
  };
  // Checked before the network calls so a resend costs one query; the insert below decides races.
  if (await isNotificationRecorded(deps.database.db, id)) return result;

  const { updates, source } = await stateFor(deps, notification, normalized);
  assertNotFutureDated(updates, deps.clock());
  const firstTransaction = notification.unified_receipt.latest_receipt_info[0];
  const recorded = await deps.database.db.transaction(async (tx) => {
    const fresh = await recordNotification(tx, {
      id,
      version: 'v1',
      notificationType: notification.notification_type,
      // V1 types have no subtype; the V2 equivalent is derived again on replay.
      subtype: null,
      environment: normalized.environment,
      originalTransactionId: notification.original_transaction_id ?? normalized.originalTransactionIds[0] ?? null,
      transactionId: firstTransaction?.transaction_id ?? null,
      signedDate: normalized.signedDate > 0 ? new Date(normalized.signedDate) : null,
      payload: storedPayload(body),
      source: 'webhook',
      outcome: updates.length > 0 ? 'applied' : 'recorded',
    });
    if (!fresh) return false;
    await applyPurchaseUpdates(tx, updates, { now: deps.clock() });
    return true;
  });
  if (!recorded) return result;
  return { ...result, status: 'processed', stateSource: source };
}

/** pino's Logger and Fastify's request logger both fit. */
export type V1IngestLogger = Pick<Logger, 'info' | 'warn'>;

export interface V1IngestUsecaseDeps extends V1IngestDeps {
  events: ServiceEvents;
  logger: V1IngestLogger;
}

export interface V1IngestUsecase {
  /** Throws 404 V1_DISABLED while APPLE_SHARED_SECRET is unset: checked before the body is read. */
  assertEnabled(): void;
  /** Ingests one body, counted and logged like V2's; `logger`: the request's, default the service's. */
  ingest(body: unknown, logger?: V1IngestLogger): Promise<V1IngestResult>;
}

export function createV1IngestUsecase(deps: V1IngestUsecaseDeps): V1IngestUsecase {
  return {
    assertEnabled: () => void assertV1Enabled(deps.config),
    async ingest(body, logger = deps.logger) {
      const started = deps.clock().getTime();
      try {
        const result = await ingestV1Notification(deps, body);
        const durationMs = deps.clock().getTime() - started;
        deps.events.notification({ version: 'v1', type: result.notificationType, outcome: result.status, durationMs });
        logger.info(
          {
            notification: {
              version: 'v1',
              id: result.id,
              type: result.notificationType,
              environment: result.environment,
              originalTransactionIds: result.originalTransactionIds,
              stateSource: result.stateSource ?? null,
              outcome: result.status,
              durationMs,
            },
          },
          `v1 notification ${result.status}`,
        );
        return result;
      } catch (error) {
        const durationMs = deps.clock().getTime() - started;
        const { statusCode, code } = classifyError(error);
        const outcome = statusCode >= 500 ? 'failed' : 'rejected';
        // An unauthenticated body's type is attacker-chosen: only counted when the password matched.
        const type = statusCode === 401 ? 'unauthenticated' : (v1NotificationTypeOf(body) ?? 'unknown');
        deps.events.notification({ version: 'v1', type, outcome, durationMs });
        logger.warn({ notification: { version: 'v1', type, outcome, code, statusCode, durationMs } }, `v1 notification ${outcome}`);
        throw error;
      }
    },
  };
}
