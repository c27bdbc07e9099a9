import { createHash } from 'node:crypto';
import { DEFAULT_APP_ID } from '../app-id.js';

// Each app of an installation keeps its data in a PostgreSQL schema of its own (embedded
// PGlite: a database of its own), so every table, statement and service_state row is per
// app without an app column. What PostgreSQL shares across schemas of one database (advisory
// lock keys, LISTEN/NOTIFY channels) is namespaced here, in one place, by the app's schema.
// The `default` app keeps schema `public`, today's lock keys and channels: an installation
// without APPS_FILE, or one that moved from APPLE_* to APPS_FILE, is unchanged.

/** The schema of an installation's first app before APPS_FILE existed, and of app `default`. */
export const PUBLIC_SCHEMA = 'public';

/** PostgreSQL truncates identifiers past 63 bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

const hex = (value: string, length: number) => createHash('sha256').update(value).digest('hex').slice(0, length);

/**
 * The schema that keeps an app's data: `public` for app `default`, else `app_<id>` in
 * lower case with `.` and `-` as `_` (app ids are `[A-Za-z0-9._-]{1,64}`, so the name needs
 * no escaping; it is quoted all the same). Too long for PostgreSQL: shortened with a hash.
 * Two ids can map to one schema (`a.b` and `a-b`): config-apps.ts refuses such a pair.
 */
export function schemaOfApp(appId: string): string {
  if (appId === DEFAULT_APP_ID) return PUBLIC_SCHEMA;
  const name = `app_${appId.toLowerCase().replace(/[.-]/g, '_')}`;
  if (name.length <= MAX_IDENTIFIER_BYTES) return name;
  return `${name.slice(0, MAX_IDENTIFIER_BYTES - 9)}_${hex(appId, 8)}`;
}

/** `"name"`: an identifier quoted for SQL. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The names a database handle uses that PostgreSQL keeps database-wide rather than per
 * schema. The public schema keeps every name as it is.
 */
export interface AppNamespace {
  /** The schema the handle's sessions work in (`search_path`). */
  readonly schema: string;
  /** The advisory lock key for this schema's `base` (a lock of one app never blocks another's). */
  lockKey(base: bigint): bigint;
  /** The LISTEN/NOTIFY channel for this schema's `base` (short: channel names are identifiers too). */
  channel(base: string): string;
}

export function appNamespace(schema: string): AppNamespace {
  if (schema === PUBLIC_SCHEMA) return PUBLIC_NAMESPACE;
  const mix = BigInt(`0x${hex(schema, 16)}`);
  const suffix = hex(schema, 10);
  return {
    schema,
    // XOR with a 64-bit hash of the schema, read back as the signed bigint pg_advisory_lock takes.
    lockKey: (base) => BigInt.asIntN(64, base ^ mix),
    channel: (base) => `${base}_${suffix}`,
  };
}

export const PUBLIC_NAMESPACE: AppNamespace = { schema: PUBLIC_SCHEMA, lockKey: (base) => base, channel: (base) => base };
