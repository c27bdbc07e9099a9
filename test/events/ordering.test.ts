import { describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/events/event-types.js';
import { appendEvents, lastEventSeq, readEvents } from '../../src/events/events.repository.js';
import { testDatabaseUrl, untilWaitingForLocks } from '../helpers/database.js';
import { useDatabaseAndPki } from '../helpers/fixtures.js';

// The outbox pitfall: a sequence number is taken at insert and becomes visible at commit.
// Two connections are needed to show it, so this runs on PostgreSQL (embedded PGlite has
// one connection: its transactions never overlap).

const fixture = useDatabaseAndPki();

function marker(name: string): NewEvent {
  return {
    type: 'notification.received',
    userId: null,
    data: {
      notificationUUID: name,
      notificationType: 'TEST',
      subtype: null,
      environment: null,
      signedDate: null,
      userId: null,
      transactionId: null,
      originalTransactionId: null,
      productId: null,
    },
  };
}

describe.skipIf(!testDatabaseUrl)('event order (PostgreSQL)', () => {
  it('never lets a feed reader pass over an event whose transaction commits after a later one', async () => {
    const db = fixture.database.handle.db;
    const start = await lastEventSeq(db);
    let letFirstCommit!: () => void;
    const firstMayCommit = new Promise<void>((resolve) => (letFirstCommit = resolve));
    let firstAppended!: () => void;
    const appended = new Promise<void>((resolve) => (firstAppended = resolve));

    const first = db.transaction(async (tx) => {
      await appendEvents(tx, [marker('first')], new Date());
      firstAppended();
      await firstMayCommit;
    });
    await appended;
    const second = db.transaction((tx) => appendEvents(tx, [marker('second')], new Date()));
    // The second transaction has either committed already (no ordering guard) or waits
    // for the first one's commit.
    await untilWaitingForLocks(db, { unless: second });

    const firstRead = await readEvents(db, start, 100);
    letFirstCommit();
    await Promise.all([first, second]);
    const rest = await readEvents(db, firstRead.at(-1)?.seq ?? start, 100);

    const seen = [...firstRead, ...rest].map((event) => (JSON.parse(event.body) as { data: { notificationUUID: string } }).data.notificationUUID);
    expect(seen).toEqual(['first', 'second']);
  });
});
