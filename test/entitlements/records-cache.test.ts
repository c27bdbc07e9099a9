import { describe, expect, it } from 'vitest';
import { EVERY_USER, invalidationPayloads, parseInvalidation } from '../../src/entitlements/answer-inputs-channel.js';
import type { UserRecords } from '../../src/entitlements/entitlements.repository.js';
import { createRecordsCache } from '../../src/entitlements/records-cache.js';

const records = (tag: string): UserRecords => ({
  purchases: [],
  grants: [{ grantId: tag, entitlement: 'pro', startsAt: new Date(0), expiresDate: new Date(1), endedAt: null, updatedAt: new Date(0) }],
  appTransaction: null,
});

/** A load the test finishes by hand, counting calls. */
function manualLoad() {
  const waiting: Array<{ userId: string; resolve: (value: UserRecords) => void }> = [];
  let calls = 0;
  return {
    load: (userId: string) =>
      new Promise<UserRecords>((resolve) => {
        calls++;
        waiting.push({ userId, resolve });
      }),
    finish(value: UserRecords) {
      const next = waiting.shift();
      if (next === undefined) throw new Error('no load in flight');
      next.resolve(value);
    },
    get calls() {
      return calls;
    },
  };
}

const loadOf = (value: UserRecords) => {
  const counter = {
    calls: 0,
    load: async () => {
      counter.calls++;
      return value;
    },
  };
  return counter;
};

describe('the entitlement records cache', () => {
  it('serves a user from memory after the first read, without calling the database again', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = loadOf(records('a'));
    expect(await cache.read('u1', db.load)).toEqual(records('a'));
    expect(await cache.read('u1', db.load)).toEqual(records('a'));
    expect(db.calls).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, size: 1, serving: true });
  });

  it('reads the database again when the kept entry is not usable for this read, and keeps the new one in its place', async () => {
    const cache = createRecordsCache<UserRecords>({ maxEntries: 10, serving: true });
    const first = loadOf(records('a'));
    await cache.read('u1', first.load);
    const tagOf = (kept: UserRecords) => kept.grants[0]!.grantId;
    const second = loadOf(records('b'));
    // Not usable: read again (a miss), and the new value replaces the kept one.
    expect(tagOf(await cache.read('u1', second.load, (kept) => tagOf(kept) === 'b'))).toBe('b');
    expect(second.calls).toBe(1);
    // Usable: served from memory, whichever load is offered.
    expect(tagOf(await cache.read('u1', first.load, (kept) => tagOf(kept) === 'b'))).toBe('b');
    expect(first.calls).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, size: 1 });
  });

  it('reads the database again after the user is invalidated, and only that user', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = loadOf(records('a'));
    await cache.read('u1', db.load);
    await cache.read('u2', db.load);
    cache.invalidate(['u1']);
    await cache.read('u1', db.load);
    await cache.read('u2', db.load);
    expect(db.calls).toBe(3);
  });

  it('does not keep the rows of a read that was in flight when its user was invalidated (they may predate the commit)', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = manualLoad();
    const before = cache.read('u1', db.load);
    cache.invalidate(['u1']);
    db.finish(records('old'));
    expect(await before).toEqual(records('old'));
    const after = cache.read('u1', db.load);
    expect(db.calls).toBe(2);
    db.finish(records('new'));
    expect(await after).toEqual(records('new'));
    expect(await cache.read('u1', db.load)).toEqual(records('new'));
    expect(db.calls).toBe(2);
  });

  it('keeps the rows of a read that started after the invalidation, even while an older read of the same user is in flight', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = manualLoad();
    const older = cache.read('u1', db.load);
    cache.invalidate(['u1']);
    const newer = cache.read('u1', db.load);
    db.finish(records('old'));
    db.finish(records('new'));
    await Promise.all([older, newer]);
    expect(await cache.read('u1', db.load)).toEqual(records('new'));
    expect(db.calls).toBe(2);
  });

  it('drops every entry and in-flight read on invalidateAll', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = manualLoad();
    const kept = cache.read('u1', db.load);
    db.finish(records('a'));
    await kept;
    const inFlight = cache.read('u2', db.load);
    cache.invalidateAll();
    db.finish(records('b'));
    await inFlight;
    expect(cache.stats().size).toBe(0);
  });

  it('serves and keeps nothing while suspended (no listener), and again after resume', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = loadOf(records('a'));
    await cache.read('u1', db.load);
    cache.suspend();
    expect(cache.stats()).toMatchObject({ size: 0, serving: false });
    await cache.read('u1', db.load);
    await cache.read('u1', db.load);
    expect(db.calls).toBe(3);
    expect(cache.stats().size).toBe(0);
    cache.resume();
    await cache.read('u1', db.load);
    await cache.read('u1', db.load);
    expect(db.calls).toBe(4);
  });

  it('does not keep a read that started while suspended, even if it ends after resume', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: false });
    const db = manualLoad();
    const during = cache.read('u1', db.load);
    cache.resume();
    db.finish(records('a'));
    await during;
    expect(cache.stats().size).toBe(0);
  });

  it('keeps at most maxEntries users, dropping the least recently used first', async () => {
    const cache = createRecordsCache({ maxEntries: 2, serving: true });
    const db = loadOf(records('a'));
    await cache.read('u1', db.load);
    await cache.read('u2', db.load);
    await cache.read('u1', db.load); // u1 is now the most recently used
    await cache.read('u3', db.load); // drops u2
    expect(cache.stats().size).toBe(2);
    const calls = db.calls;
    await cache.read('u1', db.load);
    await cache.read('u3', db.load);
    expect(db.calls).toBe(calls);
    await cache.read('u2', db.load);
    expect(db.calls).toBe(calls + 1);
  });

  it('keeps the users read again while a stream of users read once passes through (a plain LRU would drop them)', async () => {
    const cache = createRecordsCache({ maxEntries: 10, serving: true });
    const db = loadOf(records('a'));
    const hot = ['h1', 'h2', 'h3', 'h4', 'h5'];
    for (const user of [...hot, ...hot]) await cache.read(user, db.load);
    // Many more users than the cache holds, each read once: the cold tail of a skewed load.
    for (let i = 0; i < 100; i++) await cache.read(`cold-${i}`, db.load);
    expect(cache.stats().size).toBe(10);
    const calls = db.calls;
    for (const user of hot) await cache.read(user, db.load);
    expect(db.calls).toBe(calls);
    // The last users read once are still there too, in the room the held users leave; the first are gone.
    await cache.read('cold-99', db.load);
    expect(db.calls).toBe(calls);
    await cache.read('cold-0', db.load);
    expect(db.calls).toBe(calls + 1);
  });

  it('keeps at most four fifths of its entries for users read again: the oldest of them falls back, and goes first after the users read once', async () => {
    const cache = createRecordsCache({ maxEntries: 5, serving: true });
    const db = loadOf(records('a'));
    for (const user of ['a', 'b', 'c', 'd', 'e']) await cache.read(user, db.load);
    for (const user of ['a', 'b', 'c', 'd', 'e']) await cache.read(user, db.load); // 'a' falls back when 'e' is held
    expect(db.calls).toBe(5);
    await cache.read('f', db.load); // full: the oldest read-once entry goes, which is 'a'
    await cache.read('g', db.load); // then 'f' (read once, older than 'g')
    expect(cache.stats().size).toBe(5);
    const calls = db.calls;
    for (const user of ['b', 'c', 'd', 'e', 'g']) await cache.read(user, db.load);
    expect(db.calls).toBe(calls);
    await cache.read('a', db.load);
    expect(db.calls).toBe(calls + 1);
  });

  it('keeps nothing with maxEntries 0', async () => {
    const cache = createRecordsCache({ maxEntries: 0, serving: true });
    const db = loadOf(records('a'));
    await cache.read('u1', db.load);
    await cache.read('u1', db.load);
    expect(db.calls).toBe(2);
    expect(cache.stats().serving).toBe(false);
  });
});

describe('the invalidation payloads', () => {
  it('name the users in JSON arrays under PostgreSQL’s 8000-byte payload limit, and read back as the same users', () => {
    const users = Array.from({ length: 900 }, (_, i) => `user-"${i}"-ü-${'x'.repeat(i % 40)}`);
    const payloads = invalidationPayloads(users);
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8000);
    expect(payloads.flatMap((payload) => parseInvalidation(payload) as string[])).toEqual(users);
  });

  it('say "every user" for more users than a few payloads carry, for a replay, and for an id too long for one payload', () => {
    expect(invalidationPayloads(Array.from({ length: 1_001 }, (_, i) => `u${i}`))).toEqual([EVERY_USER]);
    expect(invalidationPayloads('all')).toEqual([EVERY_USER]);
    expect(invalidationPayloads(['x'.repeat(8_000)])).toEqual([EVERY_USER]);
  });

  it('read as "every user" when a payload cannot be read (dropping everything is always safe)', () => {
    expect(parseInvalidation(EVERY_USER)).toBe('all');
    expect(parseInvalidation('not json')).toBe('all');
    expect(parseInvalidation('[1,2]')).toBe('all');
    expect(parseInvalidation(undefined)).toBe('all');
  });
});
