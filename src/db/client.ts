import path from 'node:path';
import { PGlite, type Transaction as PGliteDriverTransaction } from '@electric-sql/pglite';
import { createTableRelationsHelpers, extractTablesRelationalConfig, sql } from 'drizzle-orm';
import { drizzle as drizzlePg, NodePgSession } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { PgDialect, type PgTransactionConfig } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite, PgliteSession, PgliteTransaction } from 'drizzle-orm/pglite';
import pg from 'pg';
import { holdingAdvisoryLock } from './advisory-lock.js';
import { type AppNamespace, appNamespace, PUBLIC_NAMESPACE, PUBLIC_SCHEMA } from './app-schema.js';
import { writeDeferred } from './before-commit.js';
import { type DataDirLock, lockDataDir, prepareDataDir, restrictToOwner } from './data-dir.js';
import { isDatabaseUnavailable } from './errors.js';
import * as schema from './schema.js';
import { fastTimestampTypes } from './timestamptz.js';

export type Schema = typeof schema;
type DrizzleDatabase = PgDatabase<PgQueryResultHKT, Schema>;
type DrizzleTransaction = Parameters<Parameters<DrizzleDatabase['transaction']>[0]>[0];

/**
 * The driver under one database transaction: the pooled node-postgres client this module
 * checked out for it, or PGlite's transaction. Only for the statements a benchmark shows
 * the query builder cannot afford (docs/architecture.md, "Database access"); values
 * always travel as parameters.
 */
export interface SqlDriver {
  /** Rows as objects keyed by the names of the select (or returning) list. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Rows as arrays in select-list order (a select list that repeats a name, as a union of differently shaped rows does). */
  queryArrays(text: string, params?: readonly unknown[]): Promise<unknown[][]>;
  /** The app's names of database-wide things (advisory lock keys, NOTIFY channels): the handle's own. */
  readonly names: AppNamespace;
}

/** What a `db.transaction` callback receives: the query builder, and the driver of the same transaction. */
export type Transaction = DrizzleTransaction & { readonly driver: SqlDriver };

/** The one query interface the service codes against, whichever back-end is behind it. */
export type Database = Omit<DrizzleDatabase, 'transaction'> & {
  transaction<T>(work: (tx: Transaction) => Promise<T>, config?: PgTransactionConfig): Promise<T>;
  /** The driver for single statements outside a transaction (the pool, or the PGlite client): the same rule as Transaction's. */
  readonly driver: SqlDriver;
};
/** Query-builder repositories accept either; raw statements go to either's `driver`. */
export type Executor = Database | Transaction;

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface DatabaseHandle {
  kind: 'postgres' | 'pglite';
  db: Database;
  /**
   * The app whose data this handle reaches: its schema (PostgreSQL) and its names of what
   * PostgreSQL shares across schemas (advisory lock keys, LISTEN/NOTIFY channels).
   */
  names: AppNamespace;
  /**
   * A hot read path's query without the ORM: rows as arrays in select-list order, the
   * statement prepared once per connection under `name`. Only for statements whose
   * result types both drivers parse alike (text, int4, float8, bool, uuid, timestamptz).
   * On PostgreSQL it runs on a small pool of its own whose sessions plan prepared
   * statements generically (`plan_cache_mode = force_generic_plan`): planned once per
   * connection, not at every execution (docs/operating.md, "Database connections").
   */
  queryArrays(query: ArrayQuery): Promise<unknown[][]>;
  /** Throws unless the database answers a trivial query. */
  ping(): Promise<void>;
  /** Runs `fn` while holding the session-level advisory lock of `key` in this handle's namespace (advisory-lock.ts); false when another holder has it. */
  withTryAdvisoryLock<T>(key: bigint, fn: () => Promise<T>): Promise<{ acquired: true; result: T } | { acquired: false }>;
  poolStats(): PoolStats | null;
  close(): Promise<void>;
  /** The raw client, for migrations only. */
  raw: { kind: 'postgres'; pool: pg.Pool } | { kind: 'pglite'; client: PGlite };
}

export interface ArrayQuery {
  name: string;
  text: string;
  values: unknown[];
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; null for the embedded PGlite database. */
  url: string | null;
  /** Where PGlite keeps its files; `memory://` for a throwaway in-memory database. */
  dataDir: string;
  poolMax?: number;
  /** Connections of the generically planned pool behind `queryArrays` (PostgreSQL; ENTITLEMENTS_READ_POOL_SIZE). Default 2. */
  genericPoolMax?: number;
  /** Receives errors of idle pooled connections (a restarted server, say) instead of crashing. */
  onPoolError?: (error: Error) => void;
  /**
   * PostgreSQL: the schema every connection works in (`search_path`, set when the session
   * starts, never switched on a shared connection: named prepared statements bind to the
   * schema they were prepared under); default `public`. Created by migrateDatabase.
   * PGlite keeps one app per database (`dataDir`), always in `public`.
   */
  schema?: string;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  return options.url === null ? openPglite(options.dataDir) : openPostgres(options);
}

function openPostgres(options: OpenDatabaseOptions): DatabaseHandle {
  const names = appNamespace(options.schema ?? PUBLIC_SCHEMA);
  const schemaSetting = searchPathSetting(names.schema);
  const pool = new pg.Pool({
    ...withSessionSettings(options.url!, schemaSetting),
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  reportPoolErrors(pool, options.onPoolError);
  // The entitlement read's statement (its only user) is prepared under a name; with the
  // default plan_cache_mode PostgreSQL kept choosing custom plans for it, planning it again
  // at each execution (more than the execution itself for one or two users), while a
  // generic plan of the same shape runs as fast. Only this pool plans generically: the
  // recording statements were measured slower with generic plans.
  const genericPool = new pg.Pool({
    ...withSessionSettings(options.url!, [GENERIC_PLANS, schemaSetting].filter((each) => each !== '').join(' ')),
    max: options.genericPoolMax ?? 2,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  reportPoolErrors(genericPool, options.onPoolError);
  const db = drizzlePg(pool, { schema }) as unknown as Database;
  db.transaction = transactionOnOwnClient(pool, names);
  Object.defineProperty(db, 'driver', { value: driverOf({ kind: 'postgres', client: pool }, names) });
  let closing: Promise<void> | null = null;
  return {
    kind: 'postgres',
    db,
    names,
    raw: { kind: 'postgres', pool },
    async queryArrays(query) {
      const result = await genericPool.query<unknown[]>({ ...query, rowMode: 'array', types: fastTimestampTypes });
      return result.rows;
    },
    async ping() {
      await pool.query('select 1');
    },
    async withTryAdvisoryLock(key, fn) {
      const client = await pool.connect();
      try {
        return await holdingAdvisoryLock(client, names.lockKey(key), 'try', fn);
      } finally {
        client.release();
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    // Once, like PGlite's: pg-pool refuses a second end(), and an owner that closes every app's
    // handles must not trip over one already closed.
    close() {
      closing ??= Promise.all([pool.end(), genericPool.end()]).then(() => undefined);
      return closing;
    },
  };
}

/**
 * Errors of a pool's connections go to `onPoolError`. pg-pool listens for errors only while
 * a client is idle. A connection lost while a client is checked out (between two statements
 * of a transaction) is emitted on the client itself and, unheard, would crash the process;
 * the statement in flight, or the next one, still fails with it, so the caller answers 503
 * as for any outage.
 */
function reportPoolErrors(pool: pg.Pool, onPoolError: ((error: Error) => void) | undefined): void {
  pool.on('error', (error) => onPoolError?.(error));
  pool.on('connect', (client) => {
    client.on('error', (error) => onPoolError?.(error));
  });
}

const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan';

/** The session setting that puts a connection in `schema` (none for `public`: today's sessions, unchanged). */
function searchPathSetting(schema: string): string {
  // Schema names of apps are [a-z0-9_] (app-schema.ts): nothing to escape in a startup option.
  return schema === PUBLIC_SCHEMA ? '' : `-c search_path=${schema}`;
}

/** Connection settings whose sessions plan prepared statements generically (withSessionSettings). */
export function withGenericPlans(url: string): { connectionString: string; options?: string } {
  return withSessionSettings(url, GENERIC_PLANS);
}

/**
 * Connection settings whose sessions start with `settings` (`-c name=value ...`): pg's
 * `options` startup parameter, added to the URL's own `options` when it has some (pg lets
 * the URL's value replace the config's). Empty settings: the URL as it is.
 */
export function withSessionSettings(url: string, settings: string): { connectionString: string; options?: string } {
  if (settings === '') return { connectionString: url };
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL (a key=value string): pg reads it; the config's `options` applies.
  }
  const own = parsed?.searchParams.get('options');
  if (parsed === null || own === null || own === undefined) return { connectionString: url, options: settings };
  parsed.searchParams.set('options', `${own} ${settings}`);
  return { connectionString: parsed.toString() };
}

const dialect = new PgDialect();
const tables = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
const relational = { fullSchema: schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap };

type DriverClient = { kind: 'postgres'; client: pg.PoolClient | pg.Pool } | { kind: 'pglite'; client: PGliteDriverTransaction | PGlite };

/** The transaction's query builder with the driver the same statements go through. */
function withDriver(tx: DrizzleTransaction, target: DriverClient, names: AppNamespace): Transaction {
  return Object.assign(tx, { driver: driverOf(target, names) });
}

/** A driver over a transaction's client, or over the pool (PGlite client) for single statements. */
function driverOf(target: DriverClient, names: AppNamespace): SqlDriver {
  return target.kind === 'postgres'
    ? {
        names,
        async query<T>(text: string, params: readonly unknown[] = []) {
          return (await target.client.query({ text, values: params as unknown[], types: fastTimestampTypes })).rows as T[];
        },
        async queryArrays(text: string, params: readonly unknown[] = []) {
          const values = params as unknown[];
          return (await target.client.query<unknown[]>({ text, values, rowMode: 'array', types: fastTimestampTypes })).rows;
        },
      }
    : {
        // PGlite parses timestamptz with its own parser (into a Date), not node-postgres's.
        names,
        async query<T>(text: string, params: readonly unknown[] = []) {
          return (await target.client.query<T>(text, params as unknown[])).rows;
        },
        async queryArrays(text: string, params: readonly unknown[] = []) {
          return (await target.client.query<unknown[]>(text, params as unknown[], { rowMode: 'array' })).rows;
        },
      };
}

/** The transaction's work, then what it deferred to its commit (before-commit.ts). */
async function workThenDeferred<T>(work: (tx: Transaction) => Promise<T>, tx: Transaction): Promise<T> {
  const value = await work(tx);
  await writeDeferred(tx);
  return value;
}

/**
 * `db.transaction` over a pooled client this module checks out and always gives back.
 * drizzle's own version leaves the client checked out for good when BEGIN fails (a
 * connection lost just then), and a few database blips would exhaust the pool. A client
 * whose connection failed goes back with the error, so the pool discards it.
 */
function transactionOnOwnClient(pool: pg.Pool, names: AppNamespace): Database['transaction'] {
  return async <T>(work: (tx: Transaction) => Promise<T>, config?: PgTransactionConfig): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      const session = new NodePgSession(client, dialect, relational, {});
      return await session.transaction(
        (tx) => workThenDeferred(work, withDriver(tx as unknown as DrizzleTransaction, { kind: 'postgres', client }, names)),
        config,
      );
    } catch (error) {
      if (isDatabaseUnavailable(error)) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  };
}

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  const inMemory = dataDir.startsWith('memory://');
  let lock: DataDirLock | null = null;
  if (!inMemory) {
    prepareDataDir(dataDir);
    lock = lockDataDir(dataDir);
  }
  let client: PGlite;
  try {
    client = await PGlite.create(inMemory ? dataDir : path.resolve(dataDir));
    // After create: PGlite has just written (or rewritten) its files as 666 / 644.
    if (!inMemory) restrictToOwner(dataDir);
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  Object.defineProperty(db, 'driver', { value: driverOf({ kind: 'pglite', client }, PUBLIC_NAMESPACE) });
  // drizzle's own PGlite transaction, built here so that its driver (PGlite's transaction)
  // is one this module holds rather than a private field of drizzle's session.
  db.transaction = (work, config) =>
    client.transaction(async (driverTx) => {
      const tx = new PgliteTransaction(dialect, new PgliteSession(driverTx, dialect, relational, {}), relational);
      if (config) await tx.setTransaction(config);
      return workThenDeferred(work, withDriver(tx as unknown as DrizzleTransaction, { kind: 'pglite', client: driverTx }, PUBLIC_NAMESPACE));
    });
  let closed = false;
  return {
    kind: 'pglite',
    db,
    // One app per embedded database: nothing is shared with another app's, so nothing is renamed.
    names: PUBLIC_NAMESPACE,
    raw: { kind: 'pglite', client },
    async queryArrays({ text, values }) {
      const result = await client.query<unknown[]>(text, values, { rowMode: 'array' });
      return result.rows;
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    // One embedded database belongs to one process: there is nobody to contend with.
    async withTryAdvisoryLock(_key, fn) {
      return { acquired: true, result: await fn() };
    },
    poolStats: () => null,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}
