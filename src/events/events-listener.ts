import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/client.js';
import type { FeedSignal } from './feed-signal.js';
import { EVENTS_CHANNEL } from './recorder.js';

// On PostgreSQL, events recorded by other replicas wake this process's feed readers: one
// dedicated connection LISTENs on the channel the recording transaction NOTIFYs (its
// payload is the last seq recorded). A lost connection is reopened; after a reconnect every
// reader re-reads, since notifications sent meanwhile were lost. Embedded PGlite has one
// process, whose own commits already wake its readers.

export interface EventsListener {
  stop(): Promise<void>;
}

export async function startEventsListener(options: {
  database: DatabaseHandle;
  signal: FeedSignal;
  logger: Logger;
  retryMs?: number;
}): Promise<EventsListener> {
  const { database, signal, logger } = options;
  if (database.raw.kind !== 'postgres') return { stop: async () => {} };
  const settings = database.raw.pool.options;
  let client: pg.Client | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const next = new pg.Client({ connectionString: settings.connectionString, connectionTimeoutMillis: 5_000 });
    const retry = () => {
      if (stopped || client !== next) return;
      client = null;
      next.end().catch(() => undefined);
      timer = setTimeout(() => void connect(), options.retryMs ?? 1_000);
    };
    client = next;
    next.on('error', (error) => {
      logger.warn({ err: error }, 'event feed listener connection failed; reconnecting');
      retry();
    });
    next.on('end', retry);
    next.on('notification', (message) => {
      const seq = Number(message.payload);
      if (Number.isFinite(seq)) signal.notify(seq);
    });
    try {
      await next.connect();
      await next.query(`listen ${database.names.channel(EVENTS_CHANNEL)}`);
      signal.wakeAll();
    } catch (error) {
      logger.warn({ err: error }, 'event feed listener could not connect; retrying');
      retry();
    }
  };

  await connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    },
  };
}
