/**
 * Least-recently-used map whose entries also expire. Expiry is per entry so a caller
 * can cap it by facts of the value (a certificate's notAfter, an OCSP nextUpdate).
 */
export interface LruCache<V> {
  get(key: string, nowMs: number): V | undefined;
  set(key: string, value: V, expiresAtMs: number): void;
  delete(key: string): void;
  readonly size: number;
}

interface Slot<V> {
  value: V;
  expiresAtMs: number;
}

export function createLruCache<V>(maxEntries: number): LruCache<V> {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }
  // A Map iterates in insertion order; re-inserting on a hit makes the first key the
  // least recently used one.
  const slots = new Map<string, Slot<V>>();
  return {
    get(key, nowMs) {
      const slot = slots.get(key);
      if (slot === undefined) return undefined;
      if (slot.expiresAtMs <= nowMs) {
        slots.delete(key);
        return undefined;
      }
      slots.delete(key);
      slots.set(key, slot);
      return slot.value;
    },
    set(key, value, expiresAtMs) {
      slots.delete(key);
      slots.set(key, { value, expiresAtMs });
      while (slots.size > maxEntries) {
        const oldest = slots.keys().next();
        if (oldest.done) break;
        slots.delete(oldest.value);
      }
    },
    delete(key) {
      slots.delete(key);
    },
    get size() {
      return slots.size;
    },
  };
}
