import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { type AppsFileContent, type Config, ConfigError, parseConfig } from './config.js';
import { parseAppsFile } from './config-apps.js';
import { type EntitlementMap, identityEntitlementMap, parseEntitlementsFile } from './entitlements/entitlement-map.js';

/** Settings from `.env` (when present) under those of the real environment. */
export function environmentWithDotEnv(env: NodeJS.ProcessEnv, dotEnvPath = '.env'): Record<string, string | undefined> {
  if (!existsSync(dotEnvPath)) return { ...env };
  const fromFile = parseEnv(readFileSync(dotEnvPath, 'utf8'));
  return { ...fromFile, ...env };
}

/**
 * Every secret setting (SPEC: "every secret setting has one") may come from a file named by
 * `<NAME>_FILE`, as Docker and Kubernetes secrets are mounted. URLs count: they carry passwords.
 * Settings that do not exist yet are listed so the mechanism covers them when they come.
 */
export const SECRET_SETTINGS: readonly string[] = [
  'API_KEYS',
  'ADMIN_API_KEYS',
  'APPLE_SHARED_SECRET',
  'APPLE_PRIVATE_KEY',
  'APPLE_OFFER_PRIVATE_KEY',
  'EVENTS_WEBHOOK_SECRET',
  'METRICS_TOKEN',
  'DATABASE_URL',
  'DATABASE_READ_URL',
  'REDIS_URL',
  // They carry a hosted tracing backend's API key.
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
];

const isSet = (raw: string | undefined) => raw !== undefined && raw.trim() !== '';

/**
 * `<NAME>_FILE` read into `<NAME>` (without the file's trailing newline) and removed, so
 * reading twice changes nothing. Both set, an unreadable or an empty file: a ConfigError.
 */
export function readSecretFiles(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_SETTINGS) {
    const fileVariable = `${name}_FILE`;
    const file = result[fileVariable];
    if (!isSet(file)) continue;
    if (isSet(result[name])) throw new ConfigError(name, `and ${fileVariable} are both set; set only one`);
    const content = readSetting(fileVariable, file!.trim()).replace(/(\r?\n)+$/, '');
    if (content.trim() === '') throw new ConfigError(fileVariable, `names an empty file: ${file!.trim()}`);
    result[name] = content;
    delete result[fileVariable];
  }
  return result;
}

export interface LoadedConfig {
  config: Config;
  /** The first app's catalog (the one app without APPS_FILE). */
  entitlementMap: EntitlementMap;
  /** Each app's catalog, by app id. */
  catalogs: ReadonlyMap<string, EntitlementMap>;
}

function readSetting(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `names a file that cannot be read: ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** parseConfig, then the files that settings name; every failure is a ConfigError naming its variable. */
export function loadConfig(env: Record<string, string | undefined>): LoadedConfig {
  const config = parseWithSecretFiles(env);
  for (const path of config.apple.rootCertPaths ?? []) {
    if (!existsSync(path)) throw new ConfigError('APPLE_ROOT_CERTS', `names a file that does not exist: ${path}`);
  }
  const catalogs = new Map<string, EntitlementMap>();
  for (const app of config.apps) {
    // Without APPS_FILE the catalog is ENTITLEMENTS_FILE, and its errors name it.
    const variable = config.appsFile === null ? 'ENTITLEMENTS_FILE' : 'APPS_FILE';
    const field = config.appsFile === null ? '' : `app "${app.id}" catalogFile `;
    let catalog = identityEntitlementMap;
    if (app.catalogFile) {
      const text = readCatalog(variable, field, app.catalogFile);
      try {
        catalog = parseEntitlementsFile(text, app.catalogFile);
      } catch (error) {
        throw new ConfigError(variable, `${field}is invalid: ${(error as Error).message}`);
      }
    }
    catalogs.set(app.id, catalog);
  }
  return { config, entitlementMap: catalogs.get(config.apps[0]!.id)!, catalogs };
}

function readCatalog(variable: string, field: string, path: string): string {
  if (field === '') return readSetting(variable, path);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `${field}names a file that cannot be read: ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** APPS_FILE read and parsed, the files its entries name read too; null when unset. */
function readAppsFile(env: Record<string, string | undefined>): AppsFileContent | null {
  const path = env.APPS_FILE?.trim();
  if (path === undefined || path === '') return null;
  return parseAppsFile(readSetting('APPS_FILE', path), path, (file) => readFileSync(file, 'utf8'));
}

/** parseConfig over the environment with its `*_FILE` secrets read; errors say which file a value came from. */
function parseWithSecretFiles(env: Record<string, string | undefined>): Config {
  const read = new Set<string>();
  for (const name of SECRET_SETTINGS) if (isSet(env[`${name}_FILE`])) read.add(name);
  try {
    return parseConfig(readSecretFiles(env), readAppsFile(env));
  } catch (error) {
    if (error instanceof ConfigError && read.has(error.variable)) {
      throw new ConfigError(error.variable, `(read from ${error.variable}_FILE) ${error.message.slice(error.variable.length + 1)}`);
    }
    throw error;
  }
}
