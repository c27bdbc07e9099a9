// The settings that decide who gets in: bearer secrets an attacker cannot guess, and
// which peers may tell the service a client's address.

import { isIP } from 'node:net';
import { ConfigError } from './config-error.js';

/** Fastify's `trustProxy`: false, a hop count, or the addresses / CIDRs of the proxies. */
export type TrustProxy = false | number | string[];

/** Placeholders that .env.example ships, now and before; a copied file must not run with them. */
export const PLACEHOLDER_SECRETS: readonly string[] = ['replace-with-a-random-key-of-16-chars+', 'change-me'];
export const MIN_SECRET_LENGTH = 16;
const GENERATE_HINT = 'generate one with: openssl rand -hex 32';

/** A bearer secret an attacker cannot guess: long enough, not a placeholder, one token. */
export function checkSecret(name: string, secret: string): void {
  if (PLACEHOLDER_SECRETS.includes(secret)) {
    throw new ConfigError(name, `is the .env.example placeholder; ${GENERATE_HINT}`);
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(name, `has a key shorter than ${MIN_SECRET_LENGTH} characters; ${GENERATE_HINT}`);
  }
  if (/\s/.test(secret)) throw new ConfigError(name, 'has a key containing whitespace, which no bearer token can carry');
}

const TRUST_PROXY_HINT =
  'set the number of proxies in front of the service (e.g. 1) or their addresses (e.g. 10.0.0.0/8), so a client cannot choose its own address with X-Forwarded-For';
// proxy-addr's names for common ranges, which Fastify accepts in the list.
const TRUST_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** TRUST_PROXY: false/0, a hop count, or proxy addresses / CIDRs; `true` is refused. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  if (raw === undefined) return false;
  const lower = raw.toLowerCase();
  if (['false', 'no', 'off', '0'].includes(lower)) return false;
  if (['true', 'yes', 'on'].includes(lower)) {
    throw new ConfigError('TRUST_PROXY', `=${raw} would trust any client's X-Forwarded-For; ${TRUST_PROXY_HINT}`);
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 10) throw new ConfigError('TRUST_PROXY', `must be a hop count between 0 and 10, got ${raw}`);
    return hops;
  }
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    if (TRUST_PROXY_NAMES.includes(entry.toLowerCase())) continue;
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (family === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError('TRUST_PROXY', `has "${entry}", which is neither an IP address nor a CIDR range; ${TRUST_PROXY_HINT}`);
    }
  }
  return entries;
}
