// EVENTS_WEBHOOK_URLS and EVENTS_WEBHOOK_SECRET: where events go and the Standard Webhooks
// key that signs them. Checked at start-up so a typo stops the service instead of
// quietly delivering nowhere.

import { ConfigError } from './config-error.js';

export interface EventsWebhookConfig {
  /** Distinct http(s) URLs, in the order given. */
  urls: string[];
  /** The HMAC-SHA256 key: the base64 part of `whsec_<base64>`, decoded. */
  key: Uint8Array;
}

const SECRET_PREFIX = 'whsec_';
// Standard Webhooks: keys SHOULD be between 24 and 64 bytes.
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const GENERATE_HINT = 'generate one with: echo "whsec_$(openssl rand -base64 32)"';

function parseUrls(raw: string): string[] {
  const urls: string[] = [];
  for (const item of raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')) {
    let parsed: URL;
    try {
      parsed = new URL(item);
    } catch {
      throw new ConfigError('EVENTS_WEBHOOK_URLS', `has "${item}", which is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError('EVENTS_WEBHOOK_URLS', `has "${item}", which is not an http or https URL`);
    }
    if (parsed.hostname === '') throw new ConfigError('EVENTS_WEBHOOK_URLS', `has "${item}", which names no host`);
    if (urls.includes(item)) throw new ConfigError('EVENTS_WEBHOOK_URLS', `lists "${item}" twice`);
    urls.push(item);
  }
  return urls;
}

/** The key of a `whsec_<base64>` secret; a ConfigError naming EVENTS_WEBHOOK_SECRET otherwise. */
export function parseWebhookSecret(secret: string): Uint8Array {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new ConfigError('EVENTS_WEBHOOK_SECRET', `must be whsec_ followed by base64 (Standard Webhooks); ${GENERATE_HINT}`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new ConfigError('EVENTS_WEBHOOK_SECRET', `has a part after whsec_ that is not base64; ${GENERATE_HINT}`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new ConfigError('EVENTS_WEBHOOK_SECRET', `must hold a key of ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes, got ${key.length}; ${GENERATE_HINT}`);
  }
  return new Uint8Array(key);
}

/** null while no URL is set (events are still recorded for the feed). */
export function parseEventsWebhook(urlsRaw: string | undefined, secretRaw: string | undefined): EventsWebhookConfig | null {
  const urls = parseUrls(urlsRaw ?? '');
  if (urls.length === 0) return null;
  if (secretRaw === undefined) {
    throw new ConfigError('EVENTS_WEBHOOK_SECRET', `is required when EVENTS_WEBHOOK_URLS is set; ${GENERATE_HINT}`);
  }
  return { urls, key: parseWebhookSecret(secretRaw) };
}
