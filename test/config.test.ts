import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseDuration } from '../src/config.js';
import { projectRoot } from '../src/paths.js';

const minimal = { APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', APPLE_ENVIRONMENTS: 'Sandbox' };

function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseConfig accepted the configuration');
}

describe('parseConfig', () => {
  it('applies the defaults of SPEC.md when only the required settings are given', () => {
    const config = parseConfig({ ...minimal, APPLE_ENVIRONMENTS: '', APPLE_APP_APPLE_ID: '42' });
    expect(config.port).toBe(3000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.logLevel).toBe('info');
    expect(config.databaseUrl).toBeNull();
    expect(config.dataDir).toBe('./data');
    expect(config.migrateOnStart).toBe(true);
    expect(config.apple.environments).toEqual(['Production', 'Sandbox']);
    expect(config.apple.onlineChecks).toBe(true);
    expect(config.apple.rootCertPaths).toBeNull();
    expect(config.apple.credentials).toBeNull();
    expect(config.transferPolicy).toBe('transfer');
    expect(config.recoveryIntervalMs).toBe(3_600_000);
    expect(config.rateLimit).toEqual({ webhookPerMinute: 6000, apiPerMinute: 60000, probePerMinute: 1200 });
    expect(config.metricsToken).toBeNull();
    expect(config.metricsPort).toBeNull();
    expect(config.trustProxy).toBe(false);
    expect(config.metricsEnabled).toBe(true);
    expect(config.adminApiKeys).toEqual([]);
  });

  it('names APPLE_BUNDLE_ID when it is missing', () => {
    const error = configError({ API_KEYS: 'k' });
    expect(error.variable).toBe('APPLE_BUNDLE_ID');
    expect(error.message).toContain('APPLE_BUNDLE_ID');
  });

  it('names API_KEYS when it is missing or only commas', () => {
    expect(configError({ APPLE_BUNDLE_ID: 'b' }).variable).toBe('API_KEYS');
    expect(configError({ APPLE_BUNDLE_ID: 'b', API_KEYS: ' , ' }).variable).toBe('API_KEYS');
  });

  it('accepts only Sandbox, with a warning, when neither APPLE_APP_APPLE_ID nor APPLE_ENVIRONMENTS is set', () => {
    const config = parseConfig({ APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef' });
    expect(config.apple.environments).toEqual(['Sandbox']);
    expect(config.apple.appAppleId).toBeNull();
    expect(config.warnings).toEqual([expect.stringContaining('APPLE_APP_APPLE_ID')]);
    expect(parseConfig({ APPLE_BUNDLE_ID: 'b', API_KEYS: 'k1-0123456789abcdef', APPLE_APP_APPLE_ID: '7' }).warnings).toEqual([]);
  });

  it('requires APPLE_APP_APPLE_ID while Production is accepted', () => {
    expect(configError({ ...minimal, APPLE_ENVIRONMENTS: 'Production' }).variable).toBe('APPLE_APP_APPLE_ID');
    expect(parseConfig(minimal).apple.appAppleId).toBeNull();
  });

  it('accepts Xcode and LocalTesting only when listed, and rejects unknown environments', () => {
    expect(parseConfig({ ...minimal, APPLE_ENVIRONMENTS: 'sandbox,Xcode,LocalTesting' }).apple.environments).toEqual(['Sandbox', 'Xcode', 'LocalTesting']);
    expect(configError({ ...minimal, APPLE_ENVIRONMENTS: 'Sandbox,Staging' }).variable).toBe('APPLE_ENVIRONMENTS');
  });

  it('splits comma-separated keys and trims them', () => {
    const [a, b, c, x] = ['a-0123456789abcdef', 'b-0123456789abcdef', 'c-0123456789abcdef', 'x-0123456789abcdef'];
    const config = parseConfig({ ...minimal, API_KEYS: ` ${a} , ${b},,${c} `, ADMIN_API_KEYS: x });
    expect(config.apiKeys).toEqual([a, b, c]);
    expect(config.adminApiKeys).toEqual([x]);
  });

  it('rejects malformed numbers, booleans, URLs and policies, naming the variable', () => {
    expect(configError({ ...minimal, PORT: 'eighty' }).variable).toBe('PORT');
    expect(configError({ ...minimal, PORT: '70000' }).variable).toBe('PORT');
    expect(configError({ ...minimal, MIGRATE_ON_START: 'maybe' }).variable).toBe('MIGRATE_ON_START');
    expect(configError({ ...minimal, DATABASE_URL: 'mysql://x' }).variable).toBe('DATABASE_URL');
    expect(configError({ ...minimal, TRANSFER_POLICY: 'share' }).variable).toBe('TRANSFER_POLICY');
    expect(configError({ ...minimal, RECOVERY_INTERVAL: 'hourly' }).variable).toBe('RECOVERY_INTERVAL');
    expect(configError({ ...minimal, LOG_LEVEL: 'loud' }).variable).toBe('LOG_LEVEL');
    expect(configError({ ...minimal, REDIS_URL: 'http://x' }).variable).toBe('REDIS_URL');
  });

  it('reads from a replica only when DATABASE_READ_URL is set, with READ_MAX_LAG defaulting to one second', () => {
    const primary = 'postgres://u@db:5432/app';
    expect(parseConfig(minimal).databaseReadUrl).toBeNull();
    const config = parseConfig({ ...minimal, DATABASE_URL: primary, DATABASE_READ_URL: 'postgres://u@replica:5432/app' });
    expect(config.databaseReadUrl).toBe('postgres://u@replica:5432/app');
    expect(config.readMaxLagMs).toBe(1_000);
    expect(parseConfig({ ...minimal, DATABASE_URL: primary, DATABASE_READ_URL: primary, READ_MAX_LAG: '250ms' }).readMaxLagMs).toBe(250);
  });

  it('rejects a replica without a primary server, a malformed replica URL and a zero or malformed READ_MAX_LAG', () => {
    const primary = 'postgres://u@db:5432/app';
    expect(configError({ ...minimal, DATABASE_READ_URL: primary }).variable).toBe('DATABASE_READ_URL');
    expect(configError({ ...minimal, DATABASE_URL: primary, DATABASE_READ_URL: 'mysql://x' }).variable).toBe('DATABASE_READ_URL');
    expect(configError({ ...minimal, READ_MAX_LAG: '0' }).variable).toBe('READ_MAX_LAG');
    expect(configError({ ...minimal, READ_MAX_LAG: 'soon' }).variable).toBe('READ_MAX_LAG');
  });

  it('requires all three Server API credentials together', () => {
    expect(configError({ ...minimal, APPLE_ISSUER_ID: 'i' }).variable).toBe('APPLE_KEY_ID');
    expect(configError({ ...minimal, APPLE_ISSUER_ID: 'i', APPLE_KEY_ID: 'k' }).variable).toBe('APPLE_PRIVATE_KEY');
    const config = parseConfig({
      ...minimal,
      APPLE_ISSUER_ID: 'i',
      APPLE_KEY_ID: 'k',
      APPLE_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----',
    });
    expect(config.apple.credentials?.privateKey).toBe('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----');
  });

  it('parses durations with units, bare seconds and zero', () => {
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('1 hour')).toBeNull();
    expect(parseConfig({ ...minimal, RECOVERY_INTERVAL: '0' }).recoveryIntervalMs).toBe(0);
  });

  it('refuses API keys shorter than 16 characters or the .env.example placeholder, naming the variable', () => {
    for (const weak of ['change-me', 'short-key-15chr', 'replace-with-a-random-key-of-16-chars+', 'k1-0123456789abcdef,abc']) {
      const error = configError({ ...minimal, API_KEYS: weak });
      expect(error.variable).toBe('API_KEYS');
      expect(error.message.split('\n')).toHaveLength(1);
    }
    for (const weak of ['change-me', 'short', 'replace-with-a-random-key-of-16-chars+']) {
      expect(configError({ ...minimal, ADMIN_API_KEYS: weak }).variable).toBe('ADMIN_API_KEYS');
      expect(configError({ ...minimal, METRICS_TOKEN: weak }).variable).toBe('METRICS_TOKEN');
    }
    expect(parseConfig({ ...minimal, API_KEYS: '0123456789abcdef' }).apiKeys).toEqual(['0123456789abcdef']);
  });

  it('refuses to start from a copy of .env.example until API_KEYS is replaced, naming API_KEYS', () => {
    const example = parseEnv(readFileSync(path.join(projectRoot, '.env.example'), 'utf8'));
    const error = configError(example as Record<string, string>);
    expect(error.variable).toBe('API_KEYS');
    expect(error.message).toContain('placeholder');
    expect(error.message).toContain('openssl rand -hex 32');
  });

  it('refuses an admin key that is also an app key', () => {
    expect(configError({ ...minimal, ADMIN_API_KEYS: minimal.API_KEYS }).variable).toBe('ADMIN_API_KEYS');
  });

  it('accepts a hop count or proxy addresses for TRUST_PROXY and refuses true, which trusts any client', () => {
    expect(parseConfig({ ...minimal, TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(parseConfig({ ...minimal, TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(parseConfig({ ...minimal, TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(parseConfig({ ...minimal, TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,::1,fd00::/8' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      '::1',
      'fd00::/8',
    ]);
    expect(parseConfig({ ...minimal, TRUST_PROXY: 'loopback' }).trustProxy).toEqual(['loopback']);
    for (const bad of ['true', 'yes', 'on', '10.0.0.0/33', 'lb.internal', '-1']) {
      const error = configError({ ...minimal, TRUST_PROXY: bad });
      expect(error.variable).toBe('TRUST_PROXY');
    }
    expect(configError({ ...minimal, TRUST_PROXY: 'true' }).message).toMatch(/hop count|addresses/);
  });

  it('reads METRICS_TOKEN and METRICS_PORT, which must differ from PORT', () => {
    const config = parseConfig({ ...minimal, METRICS_TOKEN: 'metrics-token-0123456789', METRICS_PORT: '9100' });
    expect(config.metricsToken).toBe('metrics-token-0123456789');
    expect(config.metricsPort).toBe(9100);
    expect(parseConfig(minimal).metricsToken).toBeNull();
    expect(parseConfig(minimal).metricsPort).toBeNull();
    expect(configError({ ...minimal, METRICS_PORT: '3000' }).variable).toBe('METRICS_PORT');
    expect(configError({ ...minimal, METRICS_PORT: 'metrics' }).variable).toBe('METRICS_PORT');
  });

  it('bounds slow requests at 30 s, headers at 10 s and open connections by default, and reads the overrides', () => {
    expect(parseConfig(minimal).http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, maxConnections: 1_000 });
    const config = parseConfig({ ...minimal, REQUEST_TIMEOUT: '5s', HEADERS_TIMEOUT: '2s', MAX_CONNECTIONS: '50' });
    expect(config.http).toEqual({ requestTimeoutMs: 5_000, headersTimeoutMs: 2_000, maxConnections: 50 });
    // Headers are part of the request: never allowed longer than the whole of it.
    expect(parseConfig({ ...minimal, REQUEST_TIMEOUT: '1s' }).http.headersTimeoutMs).toBe(1_000);
    expect(parseConfig({ ...minimal, MAX_CONNECTIONS: '0' }).http.maxConnections).toBe(0);
    expect(configError({ ...minimal, REQUEST_TIMEOUT: '0' }).variable).toBe('REQUEST_TIMEOUT');
    expect(configError({ ...minimal, HEADERS_TIMEOUT: 'soon' }).variable).toBe('HEADERS_TIMEOUT');
    expect(configError({ ...minimal, MAX_CONNECTIONS: 'many' }).variable).toBe('MAX_CONNECTIONS');
  });
});
