// Reads back the events the service recorded, parsed, for the events tests.
import { type Database, openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { appendEvents, readEvents } from '../../src/events/events.repository.js';

export interface ParsedEvent {
  seq: number;
  id: string;
  type: string;
  userId: string | null;
  timestamp: string;
  data: Record<string, unknown>;
}

export async function recordedEvents(db: Database, afterSeq = 0): Promise<ParsedEvent[]> {
  const rows = await readEvents(db, afterSeq, 10_000);
  return rows.map((row) => {
    const body = JSON.parse(row.body) as { type: string; timestamp: string; data: Record<string, unknown> };
    return { seq: row.seq, id: row.id, type: row.type, userId: row.userId, timestamp: body.timestamp, data: body.data };
  });
}

/** The events recorded while `action` ran. */
export async function eventsDuring(db: Database, action: () => Promise<unknown>): Promise<ParsedEvent[]> {
  const before = await recordedEvents(db);
  const last = before.at(-1)?.seq ?? 0;
  await action();
  return recordedEvents(db, last);
}

/**
 * Migrates the embedded database under `dataDir` and records one consumption.requested event
 * of `userId` in it, before a service or CLI process opens it. Returns the event's id.
 */
export async function seedEvent(dataDir: string, userId = 'u-1'): Promise<string> {
  const database = await openDatabase({ url: null, dataDir });
  try {
    await migrateDatabase(database);
    const [event] = await database.db.transaction((tx) =>
      appendEvents(
        tx,
        [{ type: 'consumption.requested', userId, data: { userId, transactionId: '1', productId: 'p', deadline: new Date().toISOString() } }],
        new Date(),
      ),
    );
    return event!.id;
  } finally {
    await database.close();
  }
}
