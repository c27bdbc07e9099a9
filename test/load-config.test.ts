import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { loadConfig, readSecretFiles, SECRET_SETTINGS } from '../src/load-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ase-load-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', APPLE_ENVIRONMENTS: 'Sandbox' };

function secretFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

function loadError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('*_FILE settings', () => {
  it('has a file variant for every secret setting of SPEC.md', () => {
    for (const name of [
      'API_KEYS',
      'ADMIN_API_KEYS',
      'APPLE_SHARED_SECRET',
      'APPLE_PRIVATE_KEY',
      'EVENTS_WEBHOOK_SECRET',
      'METRICS_TOKEN',
      'APPLE_OFFER_PRIVATE_KEY',
      'DATABASE_URL',
      'REDIS_URL',
    ]) {
      expect(SECRET_SETTINGS).toContain(name);
    }
  });

  it('reads API keys, admin keys, the shared secret, the metrics token and the database and Redis URLs from files, without the trailing newline', () => {
    const { config } = loadConfig({
      APPLE_BUNDLE_ID: 'com.example.app',
      APPLE_ENVIRONMENTS: 'Sandbox',
      API_KEYS_FILE: secretFile('api-keys', 'from-file-0123456789abcdef\n'),
      ADMIN_API_KEYS_FILE: secretFile('admin-keys', 'admin-file-0123456789abcdef\r\n'),
      APPLE_SHARED_SECRET_FILE: secretFile('shared-secret', 'shared-secret-from-file\n'),
      METRICS_TOKEN_FILE: secretFile('metrics-token', 'metrics-token-0123456789\n'),
      DATABASE_URL_FILE: secretFile('database-url', 'postgres://app:s3cret@db:5432/entitlements\n'),
      REDIS_URL_FILE: secretFile('redis-url', 'redis://:s3cret@redis:6379\n'),
    });
    expect(config.apiKeys).toEqual(['from-file-0123456789abcdef']);
    expect(config.adminApiKeys).toEqual(['admin-file-0123456789abcdef']);
    expect(config.apple.sharedSecret).toBe('shared-secret-from-file');
    expect(config.metricsToken).toBe('metrics-token-0123456789');
    expect(config.databaseUrl).toBe('postgres://app:s3cret@db:5432/entitlements');
    expect(config.redisUrl).toBe('redis://:s3cret@redis:6379');
  });

  it('reads the App Store Server API key from APPLE_PRIVATE_KEY_FILE as before', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';
    const { config } = loadConfig({ ...minimal, APPLE_ISSUER_ID: 'i', APPLE_KEY_ID: 'k', APPLE_PRIVATE_KEY_FILE: secretFile('key.p8', pem) });
    expect(config.apple.credentials?.privateKey).toBe(pem.trimEnd());
  });

  it('applies the rules of the setting to what the file holds', () => {
    const error = loadError({ ...minimal, API_KEYS: '', API_KEYS_FILE: secretFile('weak', 'change-me\n') });
    expect(error.variable).toBe('API_KEYS');
    expect(error.message).toContain('API_KEYS_FILE');
  });

  it('refuses a setting given both directly and as a file, naming both', () => {
    const error = loadError({ ...minimal, API_KEYS_FILE: secretFile('both', 'k2-0123456789abcdef') });
    expect(error.variable).toBe('API_KEYS');
    expect(error.message).toContain('API_KEYS_FILE');
  });

  it('names the variable in one line when its file cannot be read or is empty', () => {
    const missing = loadError({ ...minimal, METRICS_TOKEN_FILE: path.join(dir, 'absent') });
    expect(missing.variable).toBe('METRICS_TOKEN_FILE');
    expect(missing.message.split('\n')).toHaveLength(1);
    const empty = loadError({ ...minimal, APPLE_SHARED_SECRET_FILE: secretFile('empty', '\n') });
    expect(empty.variable).toBe('APPLE_SHARED_SECRET_FILE');
    // A directory cannot be read as a file, whoever runs the test (root reads any file).
    expect(loadError({ ...minimal, REDIS_URL_FILE: dir }).variable).toBe('REDIS_URL_FILE');
  });

  it('leaves an environment without file variants as it is, and reading twice changes nothing', () => {
    const once = readSecretFiles({ ...minimal, METRICS_TOKEN_FILE: secretFile('twice', 'metrics-token-0123456789\n') });
    expect(once.METRICS_TOKEN).toBe('metrics-token-0123456789');
    expect(once.METRICS_TOKEN_FILE).toBeUndefined();
    expect(readSecretFiles(once)).toEqual(once);
    expect(readSecretFiles(minimal)).toEqual(minimal);
  });
});
