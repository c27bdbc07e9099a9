// APPS_FILE (SPEC "Several apps"): the apps of one installation, each with what the single-app
// APPLE_* settings say. Every problem stops start-up with one line naming APPS_FILE, the app
// and the field. Secrets come only from files the entry names (never inline: the apps file is
// configuration, often kept in a repository); API keys are the exception SPEC's example makes.

import {
  type AppConfig,
  type AppleEnvironment,
  type AppStoreApiCredentials,
  type AppsFileContent,
  appleEnvironment,
  ConfigError,
  ecPrivateKey,
  KNOWN_APPLE_ENVIRONMENTS,
  type OfferSigningKey,
} from './config.js';
import { checkSecret } from './config-security.js';
import { schemaOfApp } from './db/app-schema.js';

/** Reads a file an entry names; throws with a one-line reason (load-config.ts gives it fs). */
export type ReadAppFile = (path: string) => string;

const FIELDS = [
  'id',
  'bundleId',
  'appAppleId',
  'environments',
  'issuerId',
  'keyId',
  'privateKeyFile',
  'offerKeyId',
  'offerPrivateKeyFile',
  'sharedSecretFile',
  'catalogFile',
  'apiKeys',
] as const;

/** Inline secrets, refused with the field to use instead. */
const INLINE_SECRETS: Record<string, string> = {
  privateKey: 'privateKeyFile',
  offerPrivateKey: 'offerPrivateKeyFile',
  sharedSecret: 'sharedSecretFile',
};

// Safe in a header, a metric label and a log line; short enough to store with every row.
const APP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseAppsFile(text: string, path: string, readFile: ReadAppFile): AppsFileContent {
  const fail = (problem: string): never => {
    throw new ConfigError('APPS_FILE', problem);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`is not valid JSON (${path}): ${(error as Error).message}`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.apps)) return fail(`must be an object with an "apps" array (${path})`);
  const unknownTop = Object.keys(parsed).find((key) => key !== 'apps');
  if (unknownTop !== undefined) fail(`has an unknown key "${unknownTop}" (${path}); only "apps" is allowed`);
  if (parsed.apps.length === 0) fail(`lists no app (${path})`);

  const warnings: string[] = [];
  const apps: AppConfig[] = [];
  parsed.apps.forEach((entry, index) => {
    const app = parseApp(entry, index, readFile, warnings);
    const sameId = apps.find((other) => other.id === app.id);
    if (sameId) fail(`lists the app id "${app.id}" twice`);
    // Each app's data lives in a schema named after its id (db/app-schema.ts): two ids must not share one.
    const sameSchema = apps.find((other) => schemaOfApp(other.id) === schemaOfApp(app.id));
    if (sameSchema)
      fail(
        `app "${app.id}" id keeps its data under the same name as app "${sameSchema.id}" (schema ${schemaOfApp(app.id)}); choose ids that differ in more than case, "." or "-"`,
      );
    // Apple's bundle ids are compared exactly, but two that differ only in case are a mistake.
    const sameBundle = apps.find((other) => other.bundleId.toLowerCase() === app.bundleId.toLowerCase());
    if (sameBundle) fail(`app "${app.id}" bundleId "${app.bundleId}" is already app "${sameBundle.id}"'s; each bundle id belongs to one app`);
    const sharedKey = apps.find((other) => other.apiKeys.some((key) => app.apiKeys.includes(key)));
    if (sharedKey) fail(`app "${app.id}" apiKeys shares a key with app "${sharedKey.id}"; each key acts for one app`);
    apps.push(app);
  });
  return { path, apps, warnings };
}

function parseApp(entry: unknown, index: number, readFile: ReadAppFile, warnings: string[]): AppConfig {
  if (!isObject(entry)) throw new ConfigError('APPS_FILE', `apps[${index}] must be an object`);
  const rawId = entry.id;
  if (typeof rawId !== 'string' || !APP_ID.test(rawId)) {
    throw new ConfigError('APPS_FILE', `apps[${index}] id must be letters, digits, ".", "_" or "-" (at most 64), got ${JSON.stringify(rawId)}`);
  }
  const id = rawId;
  const fail = (field: string, problem: string): never => {
    throw new ConfigError('APPS_FILE', `app "${id}" ${field} ${problem}`);
  };

  for (const key of Object.keys(entry)) {
    const fileField = INLINE_SECRETS[key];
    if (fileField !== undefined) fail(key, `must come from a file: name it with ${fileField}`);
    if (!(FIELDS as readonly string[]).includes(key)) fail(key, `is not a field of an app (allowed: ${FIELDS.join(', ')})`);
  }

  const text = (field: string): string | null => {
    const raw = entry[field];
    if (raw === undefined || raw === null) return null;
    if (typeof raw !== 'string' || raw.trim() === '') return fail(field, 'must be a non-empty string');
    return raw.trim();
  };
  const file = (field: string): string | null => {
    const path = text(field);
    if (path === null) return null;
    let content: string;
    try {
      content = readFile(path);
    } catch (error) {
      return fail(field, `names a file that cannot be read: ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const trimmed = content.replace(/(\r?\n)+$/, '');
    if (trimmed.trim() === '') return fail(field, `names an empty file: ${path}`);
    return trimmed;
  };

  const bundleId = text('bundleId') ?? fail('bundleId', 'is required');

  let appAppleId: number | null = null;
  const rawAppleId = entry.appAppleId;
  if (rawAppleId !== undefined && rawAppleId !== null) {
    const digits = typeof rawAppleId === 'number' ? String(rawAppleId) : rawAppleId;
    if (typeof digits !== 'string' || !/^\d+$/.test(digits) || !Number.isSafeInteger(Number(digits))) {
      fail('appAppleId', `must be the app's numeric Apple id, got ${JSON.stringify(rawAppleId)}`);
    }
    appAppleId = Number(digits);
  }

  let environments: AppleEnvironment[];
  if (entry.environments === undefined) {
    environments = ['Production', 'Sandbox'];
    if (appAppleId === null) {
      environments = ['Sandbox'];
      warnings.push(`APPS_FILE app "${id}" has no appAppleId: only Sandbox is accepted for it until it has (Production payloads must match the app id)`);
    }
  } else {
    if (!Array.isArray(entry.environments) || entry.environments.length === 0) fail('environments', 'must list at least one environment');
    environments = [];
    for (const item of entry.environments as unknown[]) {
      const match = typeof item === 'string' ? appleEnvironment(item) : null;
      if (match === null) fail('environments', `has unknown environment ${JSON.stringify(item)} (allowed: ${KNOWN_APPLE_ENVIRONMENTS.join(', ')})`);
      if (!environments.includes(match!)) environments.push(match!);
    }
    if (environments.includes('Production') && appAppleId === null) fail('appAppleId', 'is required while environments accepts Production');
  }

  const issuerId = text('issuerId');
  const keyId = text('keyId');
  const privateKeyFile = text('privateKeyFile');
  let credentials: AppStoreApiCredentials | null = null;
  if (keyId !== null || privateKeyFile !== null) {
    if (issuerId === null) fail('issuerId', 'is required when App Store Server API credentials are set');
    if (keyId === null) fail('keyId', 'is required when App Store Server API credentials are set');
    if (privateKeyFile === null) fail('privateKeyFile', 'is required when App Store Server API credentials are set');
    const pem = file('privateKeyFile')!;
    if (!pem.includes('-----BEGIN')) fail('privateKeyFile', 'must hold the PEM text of the .p8 key (-----BEGIN PRIVATE KEY-----)');
    credentials = { issuerId: issuerId!, keyId: keyId!, privateKey: pem };
  } else if (issuerId !== null && text('offerKeyId') === null) {
    fail('issuerId', 'is set without keyId and privateKeyFile (or an offer key)');
  }

  const offerKeyId = text('offerKeyId');
  let offerKey: OfferSigningKey | null = credentials === null ? null : { ...credentials, source: 'api' };
  if (offerKeyId !== null || text('offerPrivateKeyFile') !== null) {
    if (offerKeyId === null) fail('offerKeyId', 'is required when offerPrivateKeyFile is set');
    const pem = file('offerPrivateKeyFile') ?? fail('offerPrivateKeyFile', 'is required when offerKeyId is set');
    let checked: string;
    try {
      checked = ecPrivateKey('offerPrivateKeyFile', pem);
    } catch (error) {
      const message = (error as Error).message.replace(/^offerPrivateKeyFile /, '');
      return fail('offerPrivateKeyFile', message);
    }
    offerKey = { keyId: offerKeyId!, privateKey: checked, issuerId, source: 'offer' };
  }

  const apiKeys: string[] = [];
  if (entry.apiKeys !== undefined) {
    if (!Array.isArray(entry.apiKeys)) fail('apiKeys', 'must be an array of bearer tokens');
    for (const key of entry.apiKeys as unknown[]) {
      if (typeof key !== 'string') return fail('apiKeys', 'must be an array of bearer tokens');
      try {
        checkSecret('apiKeys', key);
      } catch (error) {
        return fail('apiKeys', (error as Error).message.replace(/^apiKeys /, ''));
      }
      if (!apiKeys.includes(key)) apiKeys.push(key);
    }
  }

  const catalogFile = text('catalogFile');
  return {
    id,
    bundleId,
    appAppleId,
    environments,
    credentials,
    offerKey,
    sharedSecret: file('sharedSecretFile'),
    catalogFile,
    apiKeys,
  };
}
