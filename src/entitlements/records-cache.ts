import type { UserRecords } from './entitlements.repository.js';

// The entitlement read's inputs (what entitlements.repository.ts loads for a user), kept
// in process so that a read whose user nothing changed costs no database round trip. The
// answer is still computed from them at request time, against the clock (status, expiry).
//
// Correctness (docs/entitlements-cache.md): an entry is dropped when a writer's commit
// says that user's inputs changed (the NOTIFY of answer-inputs-channel.ts, or this
// process's own commit); while the listener is down the cache serves and keeps nothing.
// A read that was in flight when its user was invalidated returns its rows to its caller
// but does not keep them: they may predate the commit that invalidated them.

export interface RecordsCacheStats {
  size: number;
  hits: number;
  misses: number;
  /** False while invalidations may be missed (no listener): every read goes to the database. */
  serving: boolean;
  /** Invalidations applied: one per user named, one per "every user" (a replica's own commit counts twice on PostgreSQL: directly and by its NOTIFY). */
  invalidations: number;
}

export interface RecordsCache {
  /** `load` through the cache: a kept entry when there is one, else `load`'s rows (kept when still valid). */
  read(userId: string, load: (userId: string) => Promise<UserRecords>): Promise<UserRecords>;
  /** These users' inputs changed: their entries are dropped and reads in flight for them keep nothing. */
  invalidate(userIds: Iterable<string>): void;
  /** Every user's inputs may have changed. */
  invalidateAll(): void;
  /** Invalidations may be missed from now on: drop everything, serve and keep nothing until resume(). */
  suspend(): void;
  /** Invalidations are heard again (reads that start from now on may keep their rows). */
  resume(): void;
  stats(): RecordsCacheStats;
}

export interface RecordsCacheOptions {
  /** Users kept at most (least recently used dropped first); 0 keeps nothing. */
  maxEntries: number;
  /** Serving from the start (embedded PGlite: every writer is in this process); else after resume(). */
  serving: boolean;
}

/** One read in flight: whether its rows may still be kept when they arrive. */
interface InFlight {
  keep: boolean;
}

export function createRecordsCache(options: RecordsCacheOptions): RecordsCache {
  const { maxEntries } = options;
  let serving = options.serving && maxEntries > 0;
  let hits = 0;
  let misses = 0;
  let invalidations = 0;
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recently used.
  const entries = new Map<string, UserRecords>();
  const inFlight = new Map<string, Set<InFlight>>();

  function keep(userId: string, records: UserRecords): void {
    entries.delete(userId);
    entries.set(userId, records);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  function dropAll(): void {
    entries.clear();
    for (const reads of inFlight.values()) for (const read of reads) read.keep = false;
  }

  return {
    async read(userId, load) {
      if (maxEntries === 0) return load(userId);
      if (serving) {
        const kept = entries.get(userId);
        if (kept !== undefined) {
          hits++;
          entries.delete(userId);
          entries.set(userId, kept);
          return kept;
        }
      }
      misses++;
      // Registered before the database is asked: an invalidation from here on reaches it.
      const read: InFlight = { keep: serving };
      let reads = inFlight.get(userId);
      if (reads === undefined) {
        reads = new Set();
        inFlight.set(userId, reads);
      }
      reads.add(read);
      try {
        const records = await load(userId);
        if (read.keep) keep(userId, records);
        return records;
      } finally {
        reads.delete(read);
        if (reads.size === 0) inFlight.delete(userId);
      }
    },
    invalidate(userIds) {
      for (const userId of userIds) {
        invalidations++;
        entries.delete(userId);
        const reads = inFlight.get(userId);
        if (reads !== undefined) for (const read of reads) read.keep = false;
      }
    },
    invalidateAll() {
      invalidations++;
      dropAll();
    },
    suspend() {
      serving = false;
      dropAll();
    },
    resume() {
      serving = maxEntries > 0;
    },
    stats: () => ({ size: entries.size, hits, misses, serving, invalidations }),
  };
}
