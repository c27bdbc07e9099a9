// Every setting of SPEC.md, validated in one place. `parseConfig` is pure: it reads
// only the object it is given, so tests pass plain objects and only server.ts reads
// process.env. Files named by settings (`*_FILE` secrets, ENTITLEMENTS_FILE) are read
// by load-config.ts.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { DEFAULT_APP_ID } from './app-id.js';
import { ConfigError } from './config-error.js';
import { type EventsWebhookConfig, parseEventsWebhook } from './config-events.js';
import { checkSecret, parseTrustProxy, type TrustProxy } from './config-security.js';
import { parseTracing, type TracingConfig } from './config-tracing.js';

export { ConfigError } from './config-error.js';
export type { EventsWebhookConfig } from './config-events.js';
export { MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS, type TrustProxy } from './config-security.js';
export type { TracingConfig } from './config-tracing.js';

export type AppleEnvironment = 'Production' | 'Sandbox' | 'Xcode' | 'LocalTesting';
export type TransferPolicy = 'transfer' | 'keep';

export interface AppStoreApiCredentials {
  issuerId: string;
  keyId: string;
  /** PEM text (APPLE_PRIVATE_KEY, or read from APPLE_PRIVATE_KEY_FILE by load-config.ts). */
  privateKey: string;
}

/**
 * The In-App Purchase key that signs offers (promotional offer signatures, JWS offers and
 * eligibility tokens): APPLE_OFFER_KEY_ID with APPLE_OFFER_PRIVATE_KEY, else the API credentials.
 */
export interface OfferSigningKey {
  keyId: string;
  /** PEM PKCS#8 of an EC P-256 key. */
  privateKey: string;
  /** APPLE_ISSUER_ID: the JWS tokens' `iss`; null when unset (then only promotional signatures can be made). */
  issuerId: string | null;
  /** Where the key came from: its own settings, or the App Store Server API credentials. */
  source: 'offer' | 'api';
}

/**
 * One app of the installation: what SPEC's "Several apps" keeps per app. Without APPS_FILE the
 * APPLE_* settings, API_KEYS and ENTITLEMENTS_FILE describe the one app `default`.
 */
export interface AppConfig {
  /** What `X-App-Id` names; stored with every row of the app. */
  id: string;
  bundleId: string;
  appAppleId: number | null;
  environments: AppleEnvironment[];
  credentials: AppStoreApiCredentials | null;
  offerKey: OfferSigningKey | null;
  sharedSecret: string | null;
  /** The app's product catalog (JSON, SPEC "Product catalog"); null: each product id is its own entitlement. */
  catalogFile: string | null;
  /** Bearer tokens that act for this app only; the `default` app's are API_KEYS. */
  apiKeys: string[];
}

/** The id the single app of an APPLE_* installation has; APPS_FILE keeps it for that app to keep its data (README). */
export { DEFAULT_APP_ID };

/** What load-config.ts read from APPS_FILE, for parseConfig (which stays pure). */
export interface AppsFileContent {
  /** The path, for messages. */
  path: string;
  apps: AppConfig[];
  warnings: string[];
}

export interface HttpLimits {
  /** The whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** The request's headers must arrive within this (never above requestTimeoutMs). */
  headersTimeoutMs: number;
  /** Open connections accepted at once; 0 = no cap. */
  maxConnections: number;
}

export interface Config {
  port: number;
  host: string;
  /** WORKERS: processes serving PORT on this machine; 0 = one per core (embedded PGlite: always 1). */
  workers: number;
  logLevel: string;
  databaseUrl: string | null;
  /** A streaming replica of DATABASE_URL for read routes (DATABASE_READ_URL); null: reads go to the primary. */
  databaseReadUrl: string | null;
  /** Replica lag above which reads go to the primary (READ_MAX_LAG). */
  readMaxLagMs: number;
  dataDir: string;
  migrateOnStart: boolean;
  apple: {
    bundleId: string;
    appAppleId: number | null;
    environments: AppleEnvironment[];
    /** null: the bundled Apple Root CA - G3. */
    rootCertPaths: string[] | null;
    onlineChecks: boolean;
    credentials: AppStoreApiCredentials | null;
    apiBaseUrl: string | null;
    sharedSecret: string | null;
    verifyReceiptUrl: string | null;
    /** null: neither APPLE_OFFER_* nor API credentials are set, so offers cannot be signed. */
    offerKey: OfferSigningKey | null;
  };
  /**
   * Every app of the installation, at least one; the first is the one `apple`, `apiKeys` and
   * `entitlementsFile` describe, which the code that is not per app yet serves.
   */
  apps: AppConfig[];
  /** APPS_FILE, or null for one app from the APPLE_* settings. */
  appsFile: string | null;
  apiKeys: string[];
  adminApiKeys: string[];
  entitlementsFile: string | null;
  transferPolicy: TransferPolicy;
  /** 0 disables the periodic recovery job. */
  recoveryIntervalMs: number;
  /** EVENTS_RETENTION: how long events stay in the feed. */
  eventsRetentionMs: number;
  /** ENTITLEMENTS_CACHE_SIZE (beyond SPEC): users whose answers are kept in process; 0 = no cache. */
  entitlementsCacheSize: number;
  /** ENTITLEMENTS_READ_POOL_SIZE (beyond SPEC): PostgreSQL connections, per database, that plan the entitlement read generically. */
  entitlementsReadPoolSize: number;
  rateLimit: {
    webhookPerMinute: number;
    apiPerMinute: number;
    /** Per client IP on /healthz, /readyz and /metrics; 0 = no limit. */
    probePerMinute: number;
  };
  redisUrl: string | null;
  trustProxy: TrustProxy;
  metricsEnabled: boolean;
  /** When set, `/metrics` requires `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /** When set, `/metrics` is served on its own listener on this port, and not on `port`. */
  metricsPort: number | null;
  http: HttpLimits;
  /** EVENTS_WEBHOOK_URLS and its signing key; null: events are not delivered (the feed still has them). */
  eventsWebhook: EventsWebhookConfig | null;
  /** OpenTelemetry traces (the standard OTEL_* variables); null: tracing off. */
  tracing: TracingConfig | null;
  /** Settings that were accepted but deserve a line in the start-up log. */
  warnings: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

const APPLE_ENVIRONMENTS: readonly AppleEnvironment[] = ['Production', 'Sandbox', 'Xcode', 'LocalTesting'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

function required(env: Env, name: string): string {
  const raw = value(env, name);
  if (raw === undefined) throw new ConfigError(name, 'is required but not set');
  return raw;
}

function list(env: Env, name: string): string[] {
  // Newlines separate too: a secret file (API_KEYS_FILE) may hold one key a line.
  return (value(env, name) ?? '')
    .split(/[,\r\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const parsed = Number(raw);
  if (parsed < min || parsed > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return parsed;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1h`, `30m`, `45s`, `500ms`, `2d`; a bare number is seconds; `0` is zero. */
export function parseDuration(raw: string): number | null {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) return null;
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
}

function duration(env: Env, name: string, fallback: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const parsed = parseDuration(raw);
  if (parsed === null) throw new ConfigError(name, `must be a duration such as 1h, 30m or 0, got "${raw}"`);
  return parsed;
}

/** Above zero: a replica is never exactly current, so a limit of 0 would send every read to the primary. */
function readMaxLag(env: Env): number {
  const lag = duration(env, 'READ_MAX_LAG', 1_000);
  if (lag < 1 || lag > 3_600_000) throw new ConfigError('READ_MAX_LAG', `must be between 1ms and 1h, got "${value(env, 'READ_MAX_LAG')}"`);
  return lag;
}

/** At least an hour: a feed reader must have time to read what it was told of. */
function eventsRetention(env: Env): number {
  const retention = duration(env, 'EVENTS_RETENTION', 30 * 86_400_000);
  if (retention < 3_600_000) throw new ConfigError('EVENTS_RETENTION', `must be at least 1h, got "${value(env, 'EVENTS_RETENTION')}"`);
  return retention;
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = value(env, name);
  if (raw === undefined) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must be a ${protocols.join(' or ')} URL`);
  }
  return raw;
}

/** An environment's name as Apple spells it, matched without regard to case; null when unknown. */
export function appleEnvironment(item: string): AppleEnvironment | null {
  return APPLE_ENVIRONMENTS.find((known) => known.toLowerCase() === item.toLowerCase()) ?? null;
}

export const KNOWN_APPLE_ENVIRONMENTS = APPLE_ENVIRONMENTS;

function environments(env: Env): AppleEnvironment[] {
  const raw = list(env, 'APPLE_ENVIRONMENTS');
  if (raw.length === 0) {
    if (value(env, 'APPLE_ENVIRONMENTS') !== undefined) {
      throw new ConfigError('APPLE_ENVIRONMENTS', 'must list at least one environment');
    }
    return ['Production', 'Sandbox'];
  }
  const result: AppleEnvironment[] = [];
  for (const item of raw) {
    const match = appleEnvironment(item);
    if (!match) {
      throw new ConfigError('APPLE_ENVIRONMENTS', `has unknown environment "${item}" (allowed: ${APPLE_ENVIRONMENTS.join(', ')})`);
    }
    if (!result.includes(match)) result.push(match);
  }
  return result;
}

function credentials(env: Env): AppStoreApiCredentials | null {
  const issuerId = value(env, 'APPLE_ISSUER_ID');
  const keyId = value(env, 'APPLE_KEY_ID');
  const privateKey = value(env, 'APPLE_PRIVATE_KEY');
  if (issuerId === undefined && keyId === undefined && privateKey === undefined) return null;
  // An offer key's JWS tokens name the team's issuer id, which may be set without the API key.
  if (keyId === undefined && privateKey === undefined && value(env, 'APPLE_OFFER_KEY_ID') !== undefined) return null;
  if (issuerId === undefined) throw new ConfigError('APPLE_ISSUER_ID', 'is required when App Store Server API credentials are set');
  if (keyId === undefined) throw new ConfigError('APPLE_KEY_ID', 'is required when App Store Server API credentials are set');
  if (privateKey === undefined) {
    throw new ConfigError('APPLE_PRIVATE_KEY', 'or APPLE_PRIVATE_KEY_FILE is required when App Store Server API credentials are set');
  }
  if (!privateKey.includes('-----BEGIN')) {
    throw new ConfigError('APPLE_PRIVATE_KEY', 'must be the PEM text of the .p8 key (-----BEGIN PRIVATE KEY-----)');
  }
  // .env files and container settings often carry the PEM with literal \n.
  return { issuerId, keyId, privateKey: privateKey.replace(/\\n/g, '\n') };
}

/** The PEM of an EC P-256 private key, checked now so a malformed one stops start-up naming its variable. */
export function ecPrivateKey(name: string, pem: string): string {
  const text = pem.replace(/\\n/g, '\n');
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new ConfigError(name, 'must be the PEM text of an EC P-256 private key (the .p8 file: -----BEGIN PRIVATE KEY-----)');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(name, 'must be an EC P-256 private key (the .p8 file App Store Connect hands out)');
  }
  return text;
}

function offerKey(env: Env, api: AppStoreApiCredentials | null): OfferSigningKey | null {
  const keyId = value(env, 'APPLE_OFFER_KEY_ID');
  const privateKey = value(env, 'APPLE_OFFER_PRIVATE_KEY');
  const issuerId = value(env, 'APPLE_ISSUER_ID') ?? null;
  if (keyId === undefined && privateKey === undefined) {
    return api === null ? null : { keyId: api.keyId, privateKey: api.privateKey, issuerId: api.issuerId, source: 'api' };
  }
  if (keyId === undefined) throw new ConfigError('APPLE_OFFER_KEY_ID', 'is required when APPLE_OFFER_PRIVATE_KEY is set');
  if (privateKey === undefined) throw new ConfigError('APPLE_OFFER_PRIVATE_KEY', 'or APPLE_OFFER_PRIVATE_KEY_FILE is required when APPLE_OFFER_KEY_ID is set');
  return { keyId, privateKey: ecPrivateKey('APPLE_OFFER_PRIVATE_KEY', privateKey), issuerId, source: 'offer' };
}

function secretList(env: Env, name: string): string[] {
  const keys = list(env, name);
  for (const key of keys) checkSecret(name, key);
  return keys;
}

function secret(env: Env, name: string): string | null {
  const raw = value(env, name);
  if (raw === undefined) return null;
  checkSecret(name, raw);
  return raw;
}

function timeout(env: Env, name: string, fallback: number): number {
  const ms = duration(env, name, fallback);
  if (ms < 1_000 || ms > 600_000) throw new ConfigError(name, `must be between 1s and 10m, got "${value(env, name)}"`);
  return ms;
}

function httpLimits(env: Env): HttpLimits {
  const requestTimeoutMs = timeout(env, 'REQUEST_TIMEOUT', 30_000);
  return {
    requestTimeoutMs,
    headersTimeoutMs: Math.min(timeout(env, 'HEADERS_TIMEOUT', 10_000), requestTimeoutMs),
    maxConnections: integer(env, 'MAX_CONNECTIONS', 1_000, 0, 1_000_000),
  };
}

/** The settings APPS_FILE replaces: each app's entry carries them. */
export const PER_APP_SETTINGS: readonly string[] = [
  'APPLE_BUNDLE_ID',
  'APPLE_APP_APPLE_ID',
  'APPLE_ENVIRONMENTS',
  'APPLE_ISSUER_ID',
  'APPLE_KEY_ID',
  'APPLE_PRIVATE_KEY',
  'APPLE_OFFER_KEY_ID',
  'APPLE_OFFER_PRIVATE_KEY',
  'APPLE_SHARED_SECRET',
  'ENTITLEMENTS_FILE',
];

/** The one app of an installation without APPS_FILE, from the APPLE_* settings. */
function singleApp(env: Env, apiKeys: string[], warnings: string[]): AppConfig {
  const bundleId = required(env, 'APPLE_BUNDLE_ID');
  let accepted = environments(env);
  const appAppleIdRaw = value(env, 'APPLE_APP_APPLE_ID');
  let appAppleId: number | null = null;
  if (appAppleIdRaw !== undefined) {
    if (!/^\d+$/.test(appAppleIdRaw)) throw new ConfigError('APPLE_APP_APPLE_ID', `must be the app's numeric Apple id, got "${appAppleIdRaw}"`);
    appAppleId = Number(appAppleIdRaw);
  } else if (value(env, 'APPLE_ENVIRONMENTS') !== undefined && accepted.includes('Production')) {
    throw new ConfigError('APPLE_APP_APPLE_ID', 'is required while APPLE_ENVIRONMENTS accepts Production');
  } else if (accepted.includes('Production')) {
    // Only APPLE_BUNDLE_ID and API_KEYS are required, so the default environments cannot
    // demand the app id: without it Production payloads cannot be checked, and are refused.
    accepted = accepted.filter((environment) => environment !== 'Production');
    warnings.push('APPLE_APP_APPLE_ID is not set: only Sandbox is accepted until it is (Production payloads must match the app id)');
  }
  const apiCredentials = credentials(env);
  return {
    id: DEFAULT_APP_ID,
    bundleId,
    appAppleId,
    environments: accepted,
    credentials: apiCredentials,
    offerKey: offerKey(env, apiCredentials),
    sharedSecret: value(env, 'APPLE_SHARED_SECRET') ?? null,
    catalogFile: value(env, 'ENTITLEMENTS_FILE') ?? null,
    apiKeys,
  };
}

/**
 * `appsFile`: APPS_FILE as load-config.ts read it (the apps, their secrets read from their
 * files); without it the APPLE_* settings describe one app.
 */
export function parseConfig(env: Env, appsFile: AppsFileContent | null = null): Config {
  if (appsFile === null) required(env, 'APPLE_BUNDLE_ID');
  const apiKeys = secretList(env, 'API_KEYS');
  if (apiKeys.length === 0 && appsFile === null) throw new ConfigError('API_KEYS', 'is required but not set (comma-separated bearer tokens)');
  const adminApiKeys = secretList(env, 'ADMIN_API_KEYS');
  // Auth tries admin keys first: a key in both lists would give an app backend the admin API.
  if (adminApiKeys.some((key) => apiKeys.includes(key))) {
    throw new ConfigError('ADMIN_API_KEYS', 'shares a key with API_KEYS; admin keys must be keys of their own');
  }

  const warnings: string[] = [];
  let apps: AppConfig[];
  if (appsFile === null) {
    apps = [singleApp(env, apiKeys, warnings)];
  } else {
    // Two sources for one setting would leave an operator guessing which one counts.
    const stray = PER_APP_SETTINGS.find((name) => value(env, name) !== undefined || value(env, `${name}_FILE`) !== undefined);
    if (stray !== undefined) throw new ConfigError(stray, "is set together with APPS_FILE; with APPS_FILE it belongs in the app's entry");
    if (appsFile.apps.length === 0) throw new ConfigError('APPS_FILE', 'lists no app');
    for (const app of appsFile.apps) {
      const shared = app.apiKeys.find((key) => adminApiKeys.includes(key) || apiKeys.includes(key));
      if (shared !== undefined) {
        throw new ConfigError(
          'APPS_FILE',
          `app "${app.id}" apiKeys shares a key with ${adminApiKeys.includes(shared) ? 'ADMIN_API_KEYS' : 'API_KEYS'}; an app key must be a key of its own`,
        );
      }
    }
    apps = appsFile.apps;
    warnings.push(...appsFile.warnings);
  }
  const first = apps[0]!;

  const logLevel = (value(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  const transferPolicy = (value(env, 'TRANSFER_POLICY') ?? 'transfer').toLowerCase();
  if (transferPolicy !== 'transfer' && transferPolicy !== 'keep') {
    throw new ConfigError('TRANSFER_POLICY', `must be transfer or keep, got "${transferPolicy}"`);
  }

  const rootCertPaths = list(env, 'APPLE_ROOT_CERTS');

  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const databaseReadUrl = url(env, 'DATABASE_READ_URL', ['postgres:', 'postgresql:']);
  if (databaseReadUrl !== null && databaseUrl === null) {
    throw new ConfigError('DATABASE_READ_URL', 'needs DATABASE_URL: the embedded database has no replicas');
  }

  const port = integer(env, 'PORT', 3000, 0, 65_535);
  const metricsEnabled = boolean(env, 'METRICS_ENABLED', true);
  const metricsPortRaw = value(env, 'METRICS_PORT');
  const metricsPort = metricsPortRaw === undefined ? null : integer(env, 'METRICS_PORT', 0, 1, 65_535);
  if (metricsPort !== null && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}): it is a listener of its own`);
  }
  if (metricsPort !== null && !metricsEnabled) warnings.push('METRICS_PORT is set but METRICS_ENABLED=false: no metrics listener is opened');

  return {
    port,
    host: value(env, 'HOST') ?? '0.0.0.0',
    workers: integer(env, 'WORKERS', 1, 0, 256),
    logLevel,
    databaseUrl,
    databaseReadUrl,
    readMaxLagMs: readMaxLag(env),
    dataDir: value(env, 'DATA_DIR') ?? './data',
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', true),
    apple: {
      bundleId: first.bundleId,
      appAppleId: first.appAppleId,
      environments: first.environments,
      rootCertPaths: rootCertPaths.length > 0 ? rootCertPaths : null,
      onlineChecks: boolean(env, 'APPLE_ONLINE_CHECKS', true),
      credentials: first.credentials,
      apiBaseUrl: url(env, 'APPLE_API_BASE_URL', ['http:', 'https:']),
      sharedSecret: first.sharedSecret,
      verifyReceiptUrl: url(env, 'APPLE_VERIFY_RECEIPT_URL', ['http:', 'https:']),
      offerKey: first.offerKey,
    },
    apps,
    appsFile: appsFile?.path ?? null,
    // API_KEYS, and with APPS_FILE each app's keys too (X-App-Id naming comes with per-app access).
    apiKeys: appsFile === null ? apiKeys : [...apiKeys, ...apps.flatMap((app) => app.apiKeys)],
    adminApiKeys,
    entitlementsFile: first.catalogFile,
    transferPolicy,
    recoveryIntervalMs: duration(env, 'RECOVERY_INTERVAL', 3_600_000),
    eventsRetentionMs: eventsRetention(env),
    entitlementsCacheSize: integer(env, 'ENTITLEMENTS_CACHE_SIZE', 50_000, 0, 10_000_000),
    entitlementsReadPoolSize: integer(env, 'ENTITLEMENTS_READ_POOL_SIZE', 2, 1, 100),
    rateLimit: {
      webhookPerMinute: integer(env, 'RATE_LIMIT_WEBHOOK_PER_MINUTE', 6_000, 0, 10_000_000),
      apiPerMinute: integer(env, 'RATE_LIMIT_API_PER_MINUTE', 60_000, 0, 10_000_000),
      // Generous: orchestrators probe every few seconds; this only stops a flood.
      probePerMinute: integer(env, 'RATE_LIMIT_PROBE_PER_MINUTE', 1_200, 0, 10_000_000),
    },
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    trustProxy: parseTrustProxy(value(env, 'TRUST_PROXY')),
    metricsEnabled,
    metricsToken: secret(env, 'METRICS_TOKEN'),
    metricsPort,
    http: httpLimits(env),
    eventsWebhook: parseEventsWebhook(value(env, 'EVENTS_WEBHOOK_URLS'), value(env, 'EVENTS_WEBHOOK_SECRET')),
    tracing: parseTracing(env),
    warnings,
  };
}
