import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { loadConfig } from '../../src/load-config.js';

const minimal = { APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', APPLE_ENVIRONMENTS: 'Sandbox' };
// 32 random bytes, as `openssl rand -base64 32` prints them.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('EVENTS_WEBHOOK_URLS and EVENTS_WEBHOOK_SECRET', () => {
  it('delivers nowhere while no URL is set, even with a secret', () => {
    expect(parseConfig(minimal).eventsWebhook).toBeNull();
    expect(parseConfig({ ...minimal, EVENTS_WEBHOOK_SECRET: SECRET }).eventsWebhook).toBeNull();
  });

  it('reads the comma-separated URLs and the key behind whsec_', () => {
    const config = parseConfig({
      ...minimal,
      EVENTS_WEBHOOK_URLS: 'https://backend.example.com/hooks/ase, http://10.0.0.7:8080/events',
      EVENTS_WEBHOOK_SECRET: SECRET,
    });
    expect(config.eventsWebhook?.urls).toEqual(['https://backend.example.com/hooks/ase', 'http://10.0.0.7:8080/events']);
    expect(Buffer.from(config.eventsWebhook!.key).toString('base64')).toBe(SECRET.slice('whsec_'.length));
  });

  it('stops when URLs are set without a secret, naming EVENTS_WEBHOOK_SECRET', () => {
    const error = configError({ ...minimal, EVENTS_WEBHOOK_URLS: 'https://backend.example.com/hooks' });
    expect(error.variable).toBe('EVENTS_WEBHOOK_SECRET');
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('stops on a URL that is malformed, not http(s) or listed twice, naming EVENTS_WEBHOOK_URLS', () => {
    for (const urls of ['not a url', 'ftp://backend.example.com/x', 'https://a.example.com/x,https://a.example.com/x', 'https://']) {
      const error = configError({ ...minimal, EVENTS_WEBHOOK_URLS: urls, EVENTS_WEBHOOK_SECRET: SECRET });
      expect(error.variable, urls).toBe('EVENTS_WEBHOOK_URLS');
      expect(error.message.split('\n')).toHaveLength(1);
    }
  });

  it('stops on a secret without whsec_, with bad base64 or of the wrong length, naming EVENTS_WEBHOOK_SECRET', () => {
    for (const secret of [
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=',
      'whsec_not*base64*at*all*here*0123456789',
      'whsec_c2hvcnQ=',
      `whsec_${Buffer.alloc(65, 7).toString('base64')}`,
    ]) {
      const error = configError({ ...minimal, EVENTS_WEBHOOK_URLS: 'https://backend.example.com/hooks', EVENTS_WEBHOOK_SECRET: secret });
      expect(error.variable, secret).toBe('EVENTS_WEBHOOK_SECRET');
      expect(error.message.split('\n')).toHaveLength(1);
    }
  });

  it('reads the secret from EVENTS_WEBHOOK_SECRET_FILE, and a bad one there is named with the file variant', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ase-events-secret-'));
    const good = path.join(dir, 'good');
    writeFileSync(good, `${SECRET}\n`);
    const { config } = loadConfig({ ...minimal, EVENTS_WEBHOOK_URLS: 'https://backend.example.com/hooks', EVENTS_WEBHOOK_SECRET_FILE: good });
    expect(Buffer.from(config.eventsWebhook!.key).toString('base64')).toBe(SECRET.slice('whsec_'.length));

    const bad = path.join(dir, 'bad');
    writeFileSync(bad, 'whsec_c2hvcnQ=\n');
    const error = configError({ ...minimal, EVENTS_WEBHOOK_URLS: 'https://backend.example.com/hooks', EVENTS_WEBHOOK_SECRET_FILE: bad });
    expect(error.variable).toBe('EVENTS_WEBHOOK_SECRET');
    expect(error.message).toContain('EVENTS_WEBHOOK_SECRET_FILE');
  });
});
