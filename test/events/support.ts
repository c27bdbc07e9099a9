// Reads back the events the service recorded, parsed, for the events tests.
import type { Database } from '../../src/db/client.js';
import { readEvents } from '../../src/events/events.repository.js';

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
