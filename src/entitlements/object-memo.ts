// Data worked out from an object, kept on the object itself (a property of a private
// symbol) rather than in a WeakMap: it then lives exactly as long as the object. A WeakMap
// holds its values strongly in V8's young-generation collections (the scavenger treats an
// entry's value as live whether or not its key is; only a full collection clears it), so
// every value set for a short-lived key (an entitlement answer computed for a user the
// cache does not keep) was copied by each scavenge until it was promoted, and then lived
// on until the next full collection: most of what a read allocated survived, and the
// scavenges took 4–5 times as long (measured with bench/entitlements/gc-trace.ts).

export interface ObjectMemo<K extends object, V> {
  get(key: K): V | undefined;
  /** Keeps `value` on `key`; false (nothing kept) when `key` is frozen or sealed. */
  set(key: K, value: V): boolean;
}

export function createObjectMemo<K extends object, V>(description: string): ObjectMemo<K, V> {
  const slot = Symbol(description);
  type Holder = { [slot]?: V };
  return {
    get: (key) => (key as Holder)[slot],
    set(key, value) {
      if (Object.hasOwn(key, slot)) {
        // Writable once defined, unless the key was frozen since.
        if (Object.isFrozen(key)) return false;
        (key as Holder)[slot] = value;
        return true;
      }
      if (!Object.isExtensible(key)) return false;
      // Not enumerable: for…in, Object.keys, JSON and equality checks see the object as it was.
      Object.defineProperty(key, slot, { value, writable: true, enumerable: false, configurable: false });
      return true;
    },
  };
}
