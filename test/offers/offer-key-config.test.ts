import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { loadConfig } from '../../src/load-config.js';

const minimal = { APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', APPLE_ENVIRONMENTS: 'Sandbox' };
const pem = (type: 'ec' | 'rsa' = 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();

const dir = mkdtempSync(path.join(tmpdir(), 'ase-offer-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('offer signing key settings', () => {
  it('has no offer key without APPLE_OFFER_* and without API credentials', () => {
    expect(parseConfig(minimal).apple.offerKey).toBeNull();
  });

  it('uses the App Store Server API credentials when APPLE_OFFER_* are unset', () => {
    const key = pem();
    const config = parseConfig({ ...minimal, APPLE_ISSUER_ID: 'issuer-1', APPLE_KEY_ID: 'APIKEY0001', APPLE_PRIVATE_KEY: key });
    expect(config.apple.offerKey).toEqual({ keyId: 'APIKEY0001', privateKey: key.trim(), issuerId: 'issuer-1', source: 'api' });
  });

  it('prefers APPLE_OFFER_KEY_ID and APPLE_OFFER_PRIVATE_KEY, with \\n escapes, and takes APPLE_ISSUER_ID alone as the issuer', () => {
    const key = pem();
    const config = parseConfig({
      ...minimal,
      APPLE_ISSUER_ID: 'issuer-2',
      APPLE_OFFER_KEY_ID: 'OFFER00001',
      APPLE_OFFER_PRIVATE_KEY: key.replace(/\n/g, '\\n'),
    });
    expect(config.apple.credentials).toBeNull();
    expect(config.apple.offerKey).toEqual({ keyId: 'OFFER00001', privateKey: key, issuerId: 'issuer-2', source: 'offer' });
  });

  it('reads the offer key from APPLE_OFFER_PRIVATE_KEY_FILE', () => {
    const key = pem();
    const file = path.join(dir, 'offer.p8');
    writeFileSync(file, key);
    const { config } = loadConfig({ ...minimal, APPLE_OFFER_KEY_ID: 'OFFER00002', APPLE_OFFER_PRIVATE_KEY_FILE: file });
    expect(config.apple.offerKey).toMatchObject({ keyId: 'OFFER00002', privateKey: key.replace(/\n$/, ''), issuerId: null });
  });

  it('stops start-up naming APPLE_OFFER_PRIVATE_KEY for a malformed key, an RSA key or a missing one', () => {
    const malformed = configError(() =>
      parseConfig({ ...minimal, APPLE_OFFER_KEY_ID: 'K', APPLE_OFFER_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----' }),
    );
    expect(malformed.variable).toBe('APPLE_OFFER_PRIVATE_KEY');
    expect(malformed.message).toMatch(/^APPLE_OFFER_PRIVATE_KEY /);
    expect(configError(() => parseConfig({ ...minimal, APPLE_OFFER_KEY_ID: 'K', APPLE_OFFER_PRIVATE_KEY: pem('rsa') })).variable).toBe(
      'APPLE_OFFER_PRIVATE_KEY',
    );
    expect(configError(() => parseConfig({ ...minimal, APPLE_OFFER_KEY_ID: 'K' })).variable).toBe('APPLE_OFFER_PRIVATE_KEY');
  });

  it('stops start-up naming APPLE_OFFER_KEY_ID when only the private key is set', () => {
    expect(configError(() => parseConfig({ ...minimal, APPLE_OFFER_PRIVATE_KEY: pem() })).variable).toBe('APPLE_OFFER_KEY_ID');
  });

  it('names the file variable when the key file holds a malformed key', () => {
    const file = path.join(dir, 'bad.p8');
    writeFileSync(file, 'not a key\n');
    const error = configError(() => loadConfig({ ...minimal, APPLE_OFFER_KEY_ID: 'K', APPLE_OFFER_PRIVATE_KEY_FILE: file }));
    expect(error.variable).toBe('APPLE_OFFER_PRIVATE_KEY');
    expect(error.message).toContain('APPLE_OFFER_PRIVATE_KEY_FILE');
  });
});
