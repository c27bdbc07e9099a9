import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError, parseConfig, type Config } from './config.js';
import { identityEntitlementMap, parseEntitlementsFile, type EntitlementMap } from './entitlements/entitlement-map.js';

/** Settings from `.env` (when present) under those of the real environment. */
export function environmentWithDotEnv(env: NodeJS.ProcessEnv, dotEnvPath = '.env'): Record<string, string | undefined> {
  if (!existsSync(dotEnvPath)) return { ...env };
  const fromFile = parseEnv(readFileSync(dotEnvPath, 'utf8'));
  return { ...fromFile, ...env };
}

export interface LoadedConfig {
  config: Config;
  entitlementMap: EntitlementMap;
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
  const config = parseConfig(env);
  const credentials = config.apple.credentials;
  if (credentials?.privateKeyFile) {
    const pem = readSetting('APPLE_PRIVATE_KEY_FILE', credentials.privateKeyFile);
    if (!pem.includes('-----BEGIN')) throw new ConfigError('APPLE_PRIVATE_KEY_FILE', 'must contain the PEM text of the .p8 key');
    credentials.privateKey = pem;
  }
  for (const path of config.apple.rootCertPaths ?? []) {
    if (!existsSync(path)) throw new ConfigError('APPLE_ROOT_CERTS', `names a file that does not exist: ${path}`);
  }
  let entitlementMap = identityEntitlementMap;
  if (config.entitlementsFile) {
    const text = readSetting('ENTITLEMENTS_FILE', config.entitlementsFile);
    try {
      entitlementMap = parseEntitlementsFile(text, config.entitlementsFile);
    } catch (error) {
      throw new ConfigError('ENTITLEMENTS_FILE', `is invalid: ${(error as Error).message}`);
    }
  }
  return { config, entitlementMap };
}
