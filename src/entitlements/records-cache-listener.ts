import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/client.js';
import { ANSWER_INPUTS_CHANNEL, parseInvalidation } from './answer-inputs-channel.js';
import type { RecordsCache } from './records-cache.js';

// Keeps the entitlement cache honest across replicas: one dedicated connection LISTENs on
// the channel every writing transaction NOTIFYs (answer-inputs-channel.ts). The cache
// serves only while that connection is up and listening: when it fails (an error, the
// server ending it, a heartbeat unanswered), the cache is dropped and serves nothing until
// a new connection listens again, since notifications sent meanwhile are lost to it.
// Embedded PGlite has one process, whose own commits invalidate directly (services.ts).

/** The listener connection's application_name (pg_stat_activity: operators and tests find it by it). */
export const RECORDS_CACHE_LISTENER_NAME = 'ase-entitlements-cache';

export interface RecordsCacheListener {
  stop(): Promise<void>;
}

export interface RecordsCacheListenerOptions {
  database: DatabaseHandle;
  cache: RecordsCache<unknown>;
  logger: Logger;
  /** Wait before reconnecting. Default 1 s. */
  retryMs?: number;
  /**
   * How often the connection is asked a trivial query; no answer within the same time
   * counts as lost (a half-open TCP connection reports nothing by itself). Default 5 s.
   */
  heartbeatMs?: number;
}

export async function startRecordsCacheListener(options: RecordsCacheListenerOptions): Promise<RecordsCacheListener> {
  const { database, cache, logger } = options;
  if (database.raw.kind !== 'postgres') {
    cache.resume();
    return { stop: async () => {} };
  }
  const settings = database.raw.pool.options;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  let client: pg.Client | null = null;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const next = new pg.Client({
      connectionString: settings.connectionString,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: RECORDS_CACHE_LISTENER_NAME,
    });
    const lost = () => {
      if (client !== next) return;
      cache.suspend();
      client = null;
      clearInterval(heartbeat);
      next.end().catch(() => undefined);
      if (!stopped) retryTimer = setTimeout(() => void connect(), options.retryMs ?? 1_000);
    };
    client = next;
    next.on('error', (error) => {
      logger.warn({ err: error }, 'entitlement cache listener connection failed; serving from the database until it is back');
      lost();
    });
    next.on('end', lost);
    next.on('notification', (message) => {
      const users = parseInvalidation(message.payload);
      if (users === 'all') cache.invalidateAll();
      else cache.invalidate(users);
    });
    try {
      await next.connect();
      await next.query(`listen ${database.names.channel(ANSWER_INPUTS_CHANNEL)}`);
      if (client !== next) return;
      // Every commit from here on is heard; reads that start now see every commit before.
      cache.resume();
      heartbeat = setInterval(() => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no heartbeat answer within ${heartbeatMs} ms`)), heartbeatMs);
        });
        Promise.race([next.query('select 1'), late])
          .catch((error: unknown) => {
            logger.warn({ err: error }, 'entitlement cache listener unresponsive; serving from the database until it is back');
            lost();
          })
          .finally(() => clearTimeout(timer));
      }, heartbeatMs);
      heartbeat.unref();
    } catch (error) {
      logger.warn({ err: error }, 'entitlement cache listener could not connect; retrying');
      lost();
    }
  };

  await connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeat);
      cache.suspend();
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    },
  };
}
