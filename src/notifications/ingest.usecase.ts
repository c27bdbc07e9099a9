import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { SignedDataVerifier, UnverifiedPayload, VerifiedNotification } from '../apple/types.js';
import type { Clock } from '../clock.js';
import { CodedError, isRetryable } from '../errors.js';
import type { ServiceEvents } from '../metrics/events.js';
import { assertNotFutureDated } from '../purchases/future-dated.model.js';
import type { ApplyResult } from '../purchases/purchase-update.js';
import { noopTracing, type Tracing } from '../tracing/tracing.js';
import type { IngestBatcher } from './ingest-batcher.js';
import { type MappedNotification, mapNotification, type NotificationSource, notificationRecord } from './notification-mapping.js';

/** pino's Logger and Fastify's request logger both fit. */
export type IngestLogger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;

export interface IngestDeps {
  verifier: SignedDataVerifier;
  clock: Clock;
  logger: IngestLogger;
  events: ServiceEvents;
  /** The one write path: concurrent notifications are written together (group commit). */
  batcher: IngestBatcher;
  /** A `notification.ingest` span around each notification; absent: no spans. */
  tracing?: Tracing;
}

export interface IngestInput {
  signedPayload: string;
  source: NotificationSource;
  /** Its payload as the webhook read it to choose the app; the verifier reuses that decode. */
  unverified?: UnverifiedPayload;
}

export interface IngestResult {
  status: 'processed' | 'duplicate';
  notificationUUID: string;
  notificationType: string;
  subtype: string | null;
  originalTransactionId: string | null;
  /** 'applied' / 'recorded' for a first delivery (the handling table decides), 'duplicate' for a repeat. */
  outcome: 'applied' | 'recorded' | 'duplicate';
  /** What the purchase writer changed; absent for a duplicate. */
  applied?: ApplyResult;
}

export interface IngestUsecase {
  /** `logger`: the request's, so the lines carry its id; default the service's. */
  ingest(input: IngestInput, logger?: IngestLogger): Promise<IngestResult>;
}

/** The V2 ingest over its dependencies: the webhook and recovery both go through it. */
export function createIngestUsecase(deps: IngestDeps): IngestUsecase {
  return {
    ingest: (input, logger) => ingestNotification(logger === undefined ? deps : { ...deps, logger }, input),
  };
}

/**
 * Verifies a V2 notification and records and applies it exactly once, in the batcher's
 * database transaction. Throws the verifier's error on a rejected payload (nothing
 * written), and the database's error when it is unavailable (nothing written either: the
 * transaction rolls back, and Apple's retry applies it later).
 */
export function ingestNotification(deps: IngestDeps, input: IngestInput): Promise<IngestResult> {
  const tracing = deps.tracing ?? noopTracing;
  if (!tracing.enabled) return ingestNow(deps, input, tracing);
  return tracing.span('notification.ingest', { attributes: { 'appstore.notification.source': input.source } }, () => ingestNow(deps, input, tracing));
}

async function ingestNow(deps: IngestDeps, input: IngestInput, tracing: Tracing): Promise<IngestResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;

  let mapped: MappedNotification;
  try {
    const verified: VerifiedNotification = await deps.verifier.verifyNotification(input.signedPayload, input.unverified);
    mapped = mapNotification(verified);
    if (tracing.enabled) annotateNotification(tracing, mapped, verified);
    assertNotFutureDated([mapped.update], deps.clock(), [['the notification signedDate', mapped.signedDate]]);
  } catch (error) {
    // Verification and record errors are coded errors; the error handler answers them.
    const rejection = error;
    const code = rejection instanceof CodedError ? rejection.code : null;
    if (code !== null) deps.events.verificationFailed({ code });
    // A retryable refusal (OCSP unreachable) is a failure to decide, not a verdict on the payload.
    const outcome = isRetryable(rejection) ? 'failed' : 'rejected';
    deps.events.notification({ version: 'v2', type: 'unknown', outcome, durationMs: elapsed() });
    deps.logger.info({ source: input.source, outcome, code, ms: elapsed() }, 'notification not accepted');
    throw rejection;
  }

  const logFields = {
    notificationType: mapped.notificationType,
    subtype: mapped.subtype,
    notificationUUID: mapped.notificationUUID,
    originalTransactionId: mapped.originalTransactionId,
    source: input.source,
  };
  const result = (outcome: IngestResult['outcome'], applied?: ApplyResult): IngestResult => ({
    status: outcome === 'duplicate' ? 'duplicate' : 'processed',
    notificationUUID: mapped.notificationUUID,
    notificationType: mapped.notificationType,
    subtype: mapped.subtype,
    originalTransactionId: mapped.originalTransactionId,
    outcome,
    ...(applied ? { applied } : {}),
  });
  const finish = (outcome: IngestResult['outcome'], applied?: ApplyResult): IngestResult => {
    const durationMs = elapsed();
    deps.events.notification({
      version: 'v2',
      type: mapped.notificationType,
      outcome: outcome === 'duplicate' ? 'duplicate' : 'processed',
      durationMs,
    });
    deps.logger.info({ ...logFields, outcome, ms: durationMs }, 'notification');
    return result(outcome, applied);
  };

  try {
    // The batch's insert-if-absent answers duplicates; a pre-check would cost a round trip for every notification.
    const written = await deps.batcher.submit({
      record: notificationRecord(mapped, input.signedPayload, input.source, deps.clock()),
      update: mapped.update,
      // The batch's span continues this notification's trace (and links the others it carries).
      trace: tracing.capture(),
    });
    if (tracing.enabled) tracing.annotate({ 'appstore.notification.outcome': written.kind === 'duplicate' ? 'duplicate' : mapped.outcome });
    return written.kind === 'duplicate' ? finish('duplicate') : finish(mapped.outcome, written.applied);
  } catch (error) {
    const durationMs = elapsed();
    deps.events.notification({ version: 'v2', type: mapped.notificationType, outcome: 'failed', durationMs });
    deps.logger.warn({ ...logFields, outcome: 'failed', ms: durationMs, err: error }, 'notification not stored');
    throw error;
  }
}

/** The notification's id, type and app on the active span (`notification.ingest`). */
function annotateNotification(tracing: Tracing, mapped: MappedNotification, verified: VerifiedNotification): void {
  const bundleId = verified.payload.data?.bundleId;
  tracing.annotate({
    'appstore.notification_uuid': mapped.notificationUUID,
    'appstore.notification_type': mapped.notificationType,
    ...(mapped.subtype !== null ? { 'appstore.notification_subtype': mapped.subtype } : {}),
    ...(typeof bundleId === 'string' ? { 'appstore.bundle_id': bundleId } : {}),
    ...(mapped.environment !== null ? { 'appstore.environment': mapped.environment } : {}),
  });
}
