import { verify as cryptoVerify } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { noopTracing, type SpanHandle, type Tracing } from '../../tracing/tracing.js';
import type {
  AppTransaction,
  JWSRenewalInfoDecodedPayload,
  JWSTransactionDecodedPayload,
  SignedDataVerifier,
  UnverifiedPayload,
  VerifiedNotification,
} from '../types.js';
import { CLOCK_SKEW_MS, checkValidityAt, createTrustedRoots, type ParsedCertificate, type VerifiedChain, verifyChainStructure } from './chain.js';
import { VerificationError } from './errors.js';
import { type AppIdentity, type ClaimedIdentity, checkIdentity, notificationIdentity } from './identity.js';
import { decodePayload, type JwsHeader, parseHeader, splitCompactJws } from './jws.js';
import { createLruCache } from './lru-cache.js';
import { checkOcsp } from './ocsp.js';
import { asAppTransaction, asNotification, asRenewalInfo, asTransaction, isObject, isTimestamp, type JsonObject } from './payload.js';
import { createSignatureWorker } from './signature-worker.js';

/** Whom a verifier speaks for: every signed payload must name this app and one of these environments. */
export interface VerifierIdentity {
  bundleId: string;
  /** Required to accept Production payloads. */
  appAppleId?: number;
  environments: readonly string[];
}

export interface SignedDataVerifierOptions extends VerifierIdentity, VerifierFamilyOptions {}

/** Everything but the app: one family verifies for several apps with one chain cache, one OCSP cache and one signature worker. */
export interface VerifierFamilyOptions {
  /** Trusted roots, DER. */
  rootCertificates: readonly Uint8Array[];
  /** OCSP and validity now (true), or validity at the payload's signedDate (false). */
  onlineChecks: boolean;
  clock?: Clock;
  fetch?: typeof fetch;
  ocspTimeoutMs?: number;
  chainCache?: { maxEntries?: number; ttlMs?: number };
  /**
   * Where ECDSA checks run: `inline` (default) on the calling thread; `worker` on a
   * worker thread of the verifier's own (checks asked for together travel together, see
   * signature-worker.ts), which keeps them off a busy event loop; `thread-pool` on libuv's
   * pool, one wake-up per check.
   */
  signatureChecks?: 'inline' | 'worker' | 'thread-pool';
  /** A span per verification (`verify.*`), with how many of its chains the cache knew; OCSP requests are its children. */
  tracing?: Tracing;
}

/** How one verification's JWS chains fared in the chain cache (a span's attributes). */
interface ChainTally {
  hits: number;
  misses: number;
}

const DEFAULT_CHAIN_CACHE_ENTRIES = 64;
const DEFAULT_CHAIN_CACHE_TTL_MS = 60 * 60 * 1000;
const DEFAULT_OCSP_TIMEOUT_MS = 5_000;
const RECENT_HEADERS = 4;

interface DecodedJws {
  payload: JsonObject;
  /**
   * A transient online-check failure (OCSP unreachable), thrown by `settle` only after
   * the payload's identity is checked: "another app" needs no network, and answering it
   * with a 503 would have Apple resend, for days, a notification that can never apply.
   */
  deferred?: VerificationError;
}

function settle(decoded: DecodedJws): void {
  if (decoded.deferred) throw decoded.deferred;
}

export function createSignedDataVerifier(options: SignedDataVerifierOptions): SignedDataVerifier {
  return createVerifierFamily(options).forApp(options);
}

export interface VerifierFamily {
  /** A verifier for one app; every verifier of the family shares the caches and the signature worker. */
  forApp(identity: VerifierIdentity): SignedDataVerifier;
  /** Notifications for any of `apps`, each checked against the app its signed bundleId names. */
  forApps(apps: ReadonlyArray<VerifierIdentity & { id: string }>): AppRoutingVerifier;
}

/** Verifies a notification for whichever app of the installation it names, and says which. */
export interface AppRoutingVerifier {
  verifyNotification(signedPayload: string, unverified?: UnverifiedPayload): Promise<VerifiedNotification & { appId: string }>;
}

function identityOf(app: VerifierIdentity): AppIdentity {
  if (app.environments.length === 0) throw new Error('at least one accepted environment is required');
  if (!app.bundleId) throw new Error('bundleId is required');
  return {
    bundleId: app.bundleId,
    environments: app.environments,
    ...(app.appAppleId === undefined ? {} : { appAppleId: app.appAppleId }),
  };
}

export function createVerifierFamily(options: VerifierFamilyOptions): VerifierFamily {
  if (options.rootCertificates.length === 0) throw new Error('at least one trusted root certificate is required');

  const trustedRoots = createTrustedRoots(options.rootCertificates);
  const signatureWorker = options.signatureChecks === 'worker' ? createSignatureWorker() : null;
  const clock = options.clock ?? (() => new Date());
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const tracing = options.tracing ?? noopTracing;
  const ocspTimeoutMs = options.ocspTimeoutMs ?? DEFAULT_OCSP_TIMEOUT_MS;
  const cacheTtlMs = options.chainCache?.ttlMs ?? DEFAULT_CHAIN_CACHE_TTL_MS;
  const chainCache = createLruCache<VerifiedChain>(options.chainCache?.maxEntries ?? DEFAULT_CHAIN_CACHE_ENTRIES);
  // Good OCSP answers, keyed by the certificate's base64 DER, valid until nextUpdate.
  const ocspCache = createLruCache<true>((options.chainCache?.maxEntries ?? DEFAULT_CHAIN_CACHE_ENTRIES) * 2);
  const ocspInFlight = new Map<string, Promise<number>>();
  // The last few headers that passed the checks. A notification and its nested JWS
  // usually repeat one header of several kilobytes; comparing strings with === costs
  // less than decoding and parsing it again, or hashing it for a Map.
  const recentHeaders: { segment: string; header: JwsHeader }[] = [];
  const memoisedHeader = (segment: string): JwsHeader => {
    for (const recent of recentHeaders) if (recent.segment === segment) return recent.header;
    const header = parseHeader(segment);
    recentHeaders.unshift({ segment, header });
    if (recentHeaders.length > RECENT_HEADERS) recentHeaders.pop();
    return header;
  };

  async function ocspGoodUntil(certificate: ParsedCertificate, issuer: ParsedCertificate, nowMs: number) {
    const key = certificate.der.toString('base64');
    const cached = ocspCache.get(key, nowMs);
    if (cached) return Number.POSITIVE_INFINITY;
    let pending = ocspInFlight.get(key);
    if (!pending) {
      // Concurrent first sightings of one certificate share a single request.
      pending = checkOcsp({ certificate, issuer, nowMs, fetch: fetchImpl, timeoutMs: ocspTimeoutMs, tracing })
        .then(({ validUntilMs }) => {
          ocspCache.set(key, true, validUntilMs);
          return validUntilMs;
        })
        .finally(() => ocspInFlight.delete(key));
      ocspInFlight.set(key, pending);
    }
    return pending;
  }

  /** Online checks for a chain not in the cache; resolves to when its verdict expires. */
  async function checkChainNow(chain: VerifiedChain, nowMs: number): Promise<number> {
    checkValidityAt(chain, nowMs, 'now');
    // Both answers are awaited so that no request is left in flight, and a permanent
    // verdict (revoked) wins over a transient one (unreachable).
    const answers = await Promise.allSettled([ocspGoodUntil(chain.intermediate, chain.root, nowMs), ocspGoodUntil(chain.leaf, chain.intermediate, nowMs)]);
    const failures = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
    const permanent = failures.find((f) => !(f instanceof VerificationError) || !f.retryable);
    if (failures.length > 0) throw permanent ?? failures[0];
    const until = answers.map((a) => (a.status === 'fulfilled' ? a.value : nowMs));
    return Math.min(nowMs + cacheTtlMs, chain.notAfterMs + CLOCK_SKEW_MS, ...until);
  }

  /**
   * Signature, chain and time; the steady state is one ECDSA verification. `unverified`:
   * the caller's early read of the payload, used in place of decoding it again only if
   * read from this very string, so it is the decode of the bytes the signature covers.
   */
  async function verifySigned(jws: string, tally: ChainTally, unverified?: UnverifiedPayload): Promise<DecodedJws> {
    const parts = splitCompactJws(jws, memoisedHeader);
    const nowMs = clock().getTime();
    const cacheKey = parts.chainKey;
    let chain = chainCache.get(cacheKey, nowMs);
    const cached = chain !== undefined && chain.rootBase64 === parts.x5c[2];
    if (cached) tally.hits += 1;
    else tally.misses += 1;
    if (!cached) chain = verifyChainStructure(parts.x5c, trustedRoots);
    const verified = chain as VerifiedChain;

    const signingInput = Buffer.from(parts.signingInput, 'latin1');
    const key = { key: verified.leafKey, dsaEncoding: 'ieee-p1363' as const };
    const signatureOk =
      signatureWorker !== null
        ? await signatureWorker.verify(verified.leafKey, signingInput, parts.signature)
        : options.signatureChecks === 'thread-pool'
          ? await new Promise<boolean>((resolve, reject) => {
              // With a callback, node runs the check on the libuv thread pool.
              cryptoVerify('sha256', signingInput, key, parts.signature, (error, ok) => (error ? reject(error) : resolve(ok)));
            })
          : cryptoVerify('sha256', signingInput, key, parts.signature);
    if (!signatureOk) throw new VerificationError('INVALID_SIGNATURE', 'the JWS signature does not verify with the leaf key');

    const payload =
      unverified !== undefined && unverified.jws === jws && isObject(unverified.payload) ? unverified.payload : decodePayload(parts.payloadSegment);
    if (options.onlineChecks) {
      if (cached) checkValidityAt(verified, nowMs, 'now');
      else {
        try {
          chainCache.set(cacheKey, verified, await checkChainNow(verified, nowMs));
        } catch (error) {
          if (error instanceof VerificationError && error.retryable) return { payload, deferred: error };
          throw error;
        }
      }
    } else {
      const signedDate = payload.signedDate;
      if (!isTimestamp(signedDate)) {
        throw new VerificationError('MALFORMED_PAYLOAD', 'signedDate must be a millisecond timestamp to check certificate validity');
      }
      // The structural verdict does not depend on time, so it is cached before the
      // date check: the same chain may be valid for a payload signed on another day.
      if (!cached) chainCache.set(cacheKey, verified, nowMs + cacheTtlMs);
      checkValidityAt(verified, signedDate, 'signedDate');
    }
    return { payload };
  }

  function forApp(app: VerifierIdentity): SignedDataVerifier {
    const identity = identityOf(app);

    async function verifyTransactionTraced(tally: ChainTally, _span: SpanHandle, jws: string): Promise<JWSTransactionDecodedPayload> {
      const decoded = await verifySigned(jws, tally);
      const transaction = asTransaction(decoded.payload);
      checkIdentity(identity, transaction, 'transaction', false);
      settle(decoded);
      return transaction;
    }

    async function verifyRenewalInfoTraced(tally: ChainTally, _span: SpanHandle, jws: string): Promise<JWSRenewalInfoDecodedPayload> {
      const decoded = await verifySigned(jws, tally);
      const renewalInfo = asRenewalInfo(decoded.payload);
      checkIdentity(identity, renewalInfo, 'renewal info', false);
      settle(decoded);
      return renewalInfo;
    }

    async function verifyAppTransactionTraced(tally: ChainTally, _span: SpanHandle, jws: string): Promise<AppTransaction> {
      const decoded = await verifySigned(jws, tally);
      const appTransaction = asAppTransaction(decoded.payload);
      checkIdentity(identity, appTransactionIdentity(appTransaction), 'app transaction', true);
      settle(decoded);
      return appTransaction;
    }

    const verifyNotificationTraced = (tally: ChainTally, span: SpanHandle, signedPayload: string, unverified?: UnverifiedPayload) =>
      verifyNotificationAs(() => identity, signedPayload, unverified, tally, span);

    return {
      verifyNotification: traced('notification', verifyNotificationTraced),
      verifyTransaction: traced('transaction', verifyTransactionTraced),
      verifyRenewalInfo: traced('renewal_info', verifyRenewalInfoTraced),
      verifyAppTransaction: traced('app_transaction', verifyAppTransactionTraced),
    };
  }

  /** A notification, checked against the identity `identityFor` gives for what it claims (it throws for no app). */
  async function verifyNotificationAs(
    identityFor: (claimed: ClaimedIdentity) => AppIdentity,
    signedPayload: string,
    unverified: UnverifiedPayload | undefined,
    tally: ChainTally,
    span: SpanHandle,
  ): Promise<VerifiedNotification> {
    const decoded = await verifySigned(signedPayload, tally, unverified);
    const payload = asNotification(decoded.payload);
    const claimed = notificationIdentity(payload);
    if (tracing.enabled) span.setAttributes(notificationAttributes(payload.notificationUUID, claimed.bundleId));
    const identity = identityFor(claimed);
    checkIdentity(identity, claimed, 'notification', true);
    settle(decoded);
    const result: VerifiedNotification = { payload };

    const signedTransactionInfo = payload.data?.signedTransactionInfo;
    if (signedTransactionInfo !== undefined) {
      const nested = await verifySigned(signedTransactionInfo, tally);
      const transaction = asTransaction(nested.payload);
      agree('transaction', transaction.bundleId, claimed.bundleId, transaction.environment, claimed.environment);
      checkIdentity(identity, transaction, 'transaction', false);
      settle(nested);
      result.transaction = transaction;
    }
    const signedRenewalInfo = payload.data?.signedRenewalInfo;
    if (signedRenewalInfo !== undefined) {
      const nested = await verifySigned(signedRenewalInfo, tally);
      const renewalInfo = asRenewalInfo(nested.payload);
      agree('renewal info', undefined, undefined, renewalInfo.environment, claimed.environment);
      if (result.transaction && result.transaction.originalTransactionId !== renewalInfo.originalTransactionId) {
        throw new VerificationError(
          'NESTED_MISMATCH',
          `renewal info originalTransactionId ${renewalInfo.originalTransactionId} differs from the transaction's ${result.transaction.originalTransactionId}`,
        );
      }
      checkIdentity(identity, renewalInfo, 'renewal info', false);
      settle(nested);
      result.renewalInfo = renewalInfo;
    }
    const signedAppTransactionInfo = payload.appData?.signedAppTransactionInfo;
    if (signedAppTransactionInfo !== undefined) {
      const decodedApp = await verifySigned(signedAppTransactionInfo, tally);
      const appTransaction = asAppTransaction(decodedApp.payload);
      const nested = appTransactionIdentity(appTransaction);
      agree('app transaction', nested.bundleId, claimed.bundleId, nested.environment, claimed.environment);
      checkIdentity(identity, nested, 'app transaction', true);
      settle(decodedApp);
      result.appTransaction = appTransaction;
    }
    return result;
  }

  /**
   * One verifier for several apps (SPEC "Several apps"): a notification is checked against
   * the app its signed `bundleId` names (its nested data must agree) and answered with that
   * app's id; a bundle no app has is WRONG_BUNDLE_ID.
   */
  function forApps(apps: ReadonlyArray<VerifierIdentity & { id: string }>): AppRoutingVerifier {
    const byBundle = new Map(apps.map((app) => [app.bundleId, { id: app.id, identity: identityOf(app) }]));
    const verifyRouted = async (
      tally: ChainTally,
      span: SpanHandle,
      signedPayload: string,
      unverified?: UnverifiedPayload,
    ): Promise<VerifiedNotification & { appId: string }> => {
      const chosen: { appId?: string } = {};
      const result = await verifyNotificationAs(
        (claimed) => {
          const app = typeof claimed.bundleId === 'string' ? byBundle.get(claimed.bundleId) : undefined;
          if (app === undefined) {
            throw new VerificationError('WRONG_BUNDLE_ID', `notification bundleId ${JSON.stringify(claimed.bundleId)} is no app's of this installation`);
          }
          chosen.appId = app.id;
          return app.identity;
        },
        signedPayload,
        unverified,
        tally,
        span,
      );
      return { ...result, appId: chosen.appId! };
    };
    return { verifyNotification: traced('notification', verifyRouted) };
  }

  /** `work` in a `verify.<what>` span that says whether the chains were in the cache. */
  function traced<A extends unknown[], T>(what: string, work: (tally: ChainTally, span: SpanHandle, ...input: A) => Promise<T>): (...input: A) => Promise<T> {
    if (!tracing.enabled) return (...input) => work({ hits: 0, misses: 0 }, noSpan, ...input);
    return (...input) =>
      tracing.span(`verify.${what}`, {}, async (span) => {
        const tally: ChainTally = { hits: 0, misses: 0 };
        try {
          return await work(tally, span, ...input);
        } finally {
          span.setAttributes({
            'appstore.chain_cache': tally.misses === 0 ? 'hit' : 'miss',
            'appstore.chain_cache.hits': tally.hits,
            'appstore.chain_cache.misses': tally.misses,
          });
        }
      });
  }

  return { forApp, forApps };
}

const noSpan: SpanHandle = { setAttributes() {} };

/** The notification's id and app, on spans (only the types the attribute API takes). */
function notificationAttributes(notificationUUID: unknown, bundleId: unknown): Record<string, string> {
  return {
    ...(typeof notificationUUID === 'string' ? { 'appstore.notification_uuid': notificationUUID } : {}),
    ...(typeof bundleId === 'string' ? { 'appstore.bundle_id': bundleId } : {}),
  };
}

function appTransactionIdentity(appTransaction: AppTransaction) {
  return {
    bundleId: appTransaction.bundleId,
    appAppleId: appTransaction.appAppleId,
    environment: appTransaction.environment ?? appTransaction.receiptType,
  };
}

/** A nested JWS must speak for the same app and environment as its notification. */
function agree(what: string, bundleId: unknown, outerBundleId: unknown, environment: unknown, outerEnvironment: unknown) {
  if (bundleId !== undefined && bundleId !== outerBundleId) {
    throw new VerificationError(
      'NESTED_MISMATCH',
      `${what} bundleId ${JSON.stringify(bundleId)} differs from the notification's ${JSON.stringify(outerBundleId)}`,
    );
  }
  if (environment !== outerEnvironment) {
    throw new VerificationError(
      'NESTED_MISMATCH',
      `${what} environment ${JSON.stringify(environment)} differs from the notification's ${JSON.stringify(outerEnvironment)}`,
    );
  }
}
