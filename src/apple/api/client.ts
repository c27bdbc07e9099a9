import { type Clock, systemClock } from '../../clock.js';
import type { Tracing } from '../../tracing/tracing.js';
import { createNotificationEndpoints, type NotificationEndpoints } from './notifications.js';
import { createPagingIterators, type PagingIterators } from './paging.js';
import type { EnvSend } from './request.js';
import { createSubscriptionEndpoints, type SubscriptionEndpoints } from './subscriptions.js';
import { createTokenSource } from './token.js';
import { createTransactionEndpoints, type TransactionEndpoints } from './transactions.js';
import { type ApiCallEvent, type ApiEnvironment, createTransport } from './transport.js';

export const PRODUCTION_BASE_URL = 'https://api.storekit.apple.com';
export const SANDBOX_BASE_URL = 'https://api.storekit-sandbox.apple.com';

export interface AppStoreServerApiOptions {
  issuerId: string;
  keyId: string;
  /** PEM PKCS#8 private key of the In-App Purchase key. */
  privateKey: string;
  bundleId: string;
  /** Replaces Apple's host for both environments (`APPLE_API_BASE_URL`: tests, proxies). */
  baseUrl?: string;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Per attempt, including reading the body. Default 10 s. */
  timeoutMs?: number;
  /** Attempts per call, the first included. Default 4. */
  maxAttempts?: number;
  /** Backoff window of the first retry, doubling after. Default 250 ms. */
  baseDelayMs?: number;
  /** Largest backoff window. Default 10 s. */
  maxDelayMs?: number;
  /** A longer `Retry-After` is not waited for: the error goes to the caller. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Source of backoff jitter in [0, 1). */
  random?: () => number;
  /** How retries wait; tests pass one that records instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
  /** JWT lifetime in seconds (at most 3600). Default 20 minutes. */
  tokenLifetimeSeconds?: number;
  /** Called after every attempt, for metrics; what it throws is ignored. */
  onCall?: (event: ApiCallEvent) => void;
  userAgent?: string;
  /** A span per attempt; absent: no spans. */
  tracing?: Tracing;
}

export type AppStoreServerEnvironmentApi = TransactionEndpoints &
  SubscriptionEndpoints &
  NotificationEndpoints &
  PagingIterators & { readonly environment: ApiEnvironment };

export interface AppStoreServerApi {
  forEnvironment(environment: ApiEnvironment): AppStoreServerEnvironmentApi;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createAppStoreServerApi(options: AppStoreServerApiOptions): AppStoreServerApi {
  const clock = options.clock ?? systemClock;
  const override = options.baseUrl?.replace(/\/+$/, '');
  const send = createTransport({
    baseUrls: { Production: override ?? PRODUCTION_BASE_URL, Sandbox: override ?? SANDBOX_BASE_URL },
    token: createTokenSource({
      issuerId: options.issuerId,
      keyId: options.keyId,
      privateKey: options.privateKey,
      bundleId: options.bundleId,
      clock,
      lifetimeSeconds: options.tokenLifetimeSeconds,
    }),
    // Looked up per call rather than captured, so a fetch patched later (test tooling) is used.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxAttempts: Math.max(1, options.maxAttempts ?? 4),
    baseDelayMs: options.baseDelayMs ?? 250,
    maxDelayMs: options.maxDelayMs ?? 10_000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? delay,
    onCall: options.onCall,
    ...(options.tracing ? { tracing: options.tracing } : {}),
    userAgent: options.userAgent ?? 'app-store-entitlements',
  });

  const cache = new Map<ApiEnvironment, AppStoreServerEnvironmentApi>();
  function build(environment: ApiEnvironment): AppStoreServerEnvironmentApi {
    const bound: EnvSend = (request) => send(environment, request);
    const transactions = createTransactionEndpoints(bound);
    const subscriptions = createSubscriptionEndpoints(bound);
    const notifications = createNotificationEndpoints(bound);
    const paging = createPagingIterators({ ...transactions, ...notifications });
    return {
      environment,
      ...transactions,
      ...subscriptions,
      ...notifications,
      ...paging,
    };
  }

  return {
    forEnvironment(environment) {
      if (environment !== 'Production' && environment !== 'Sandbox') {
        // Xcode and LocalTesting transactions never reach Apple's servers.
        throw new RangeError(`the App Store Server API has no ${String(environment)} environment`);
      }
      let api = cache.get(environment);
      if (!api) {
        api = build(environment);
        cache.set(environment, api);
      }
      return api;
    },
  };
}
