// What the entitlement read keeps of a user (entitlements.usecase.ts: the answer computed
// from what entitlements.repository.ts loads, with the interval in which it stays the
// answer of now), kept in process so that a read whose user nothing changed costs no
// database round trip.
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

export interface RecordsCache<V> {
  /**
   * `load` through the cache: the kept entry when there is one that `usable` accepts (any,
   * without it), else what `load` makes of the database's rows, kept in the entry's place
   * when still valid.
   */
  read(userId: string, load: (userId: string) => Promise<V>, usable?: (kept: V) => boolean): Promise<V>;
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
  /** Users kept at most (those read once before those read again, least recently used first); 0 keeps nothing. */
  maxEntries: number;
  /** Serving from the start (embedded PGlite: every writer is in this process); else after resume(). */
  serving: boolean;
}

/** One read in flight: whether its rows may still be kept when they arrive. */
interface InFlight {
  keep: boolean;
}

export function createRecordsCache<V>(options: RecordsCacheOptions): RecordsCache<V> {
  const { maxEntries } = options;
  let serving = options.serving && maxEntries > 0;
  let hits = 0;
  let misses = 0;
  let invalidations = 0;
  // Two segments (a segmented LRU): a user read once waits in `probation`; read again while
  // kept, they move to `held`, at most four fifths of the entries, whose least recently used
  // falls back to probation's most recent end. Entries are dropped from probation's least
  // recent end first. So the users an app backend asks for again and again stay, and a
  // stream of users asked for once (the cold tail of a skewed load, a batch job walking every
  // user) passes through probation without pushing them out, as it does a plain LRU. A Map
  // iterates in insertion order: re-inserting moves a user to the most recent end.
  const probation = new Map<string, V>();
  const held = new Map<string, V>();
  const heldMax = Math.floor((maxEntries * 4) / 5);
  const oldest = (segment: Map<string, V>) => segment.keys().next().value as string;
  const inFlight = new Map<string, Set<InFlight>>();

  function hit(userId: string, usable: ((kept: V) => boolean) | undefined): V | undefined {
    let kept = held.get(userId);
    if (kept !== undefined) {
      if (usable !== undefined && !usable(kept)) return undefined;
      held.delete(userId);
      held.set(userId, kept);
      return kept;
    }
    kept = probation.get(userId);
    if (kept === undefined || (usable !== undefined && !usable(kept))) return undefined;
    probation.delete(userId);
    held.set(userId, kept);
    if (held.size > heldMax) {
      const demoted = oldest(held);
      probation.set(demoted, held.get(demoted)!);
      held.delete(demoted);
    }
    return kept;
  }

  function keep(userId: string, value: V): void {
    if (held.has(userId)) {
      held.delete(userId);
      held.set(userId, value);
      return;
    }
    probation.delete(userId);
    probation.set(userId, value);
    while (probation.size + held.size > maxEntries) {
      const from = probation.size > 0 ? probation : held;
      from.delete(oldest(from));
    }
  }

  function drop(userId: string): void {
    probation.delete(userId);
    held.delete(userId);
  }

  function dropAll(): void {
    probation.clear();
    held.clear();
    for (const reads of inFlight.values()) for (const read of reads) read.keep = false;
  }

  return {
    async read(userId, load, usable) {
      if (maxEntries === 0) return load(userId);
      if (serving) {
        const kept = hit(userId, usable);
        if (kept !== undefined) {
          hits++;
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
        const value = await load(userId);
        if (read.keep) keep(userId, value);
        return value;
      } finally {
        reads.delete(read);
        if (reads.size === 0) inFlight.delete(userId);
      }
    },
    invalidate(userIds) {
      for (const userId of userIds) {
        invalidations++;
        drop(userId);
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
    stats: () => ({ size: probation.size + held.size, hits, misses, serving, invalidations }),
  };
}
