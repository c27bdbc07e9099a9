// Grouping of database work that arrives while earlier work is in flight. The first item
// waits only for the end of the current turn of the event loop (so that requests parsed
// together share a round trip); items that arrive while `maxConcurrent` groups are being
// handled queue up and go together in the next group. Under light load every item goes
// alone and at once; under heavy load the database sees a few large statements instead
// of many small ones. The group writer (ingest) and the entitlement reader share this.

export interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

export interface GroupWhileBusyOptions<I, O> {
  /** Handles one group; must settle every entry it is given (resolve or reject each). */
  run(group: Waiting<I, O>[]): Promise<void>;
  /** Largest number of items in one group. */
  maxGroup: number;
  /** Groups handled at the same time (each holds one pooled connection). */
  maxConcurrent: number;
}

export type GroupWhileBusy<I, O> = (item: I) => Promise<O>;

export function groupWhileBusy<I, O>(options: GroupWhileBusyOptions<I, O>): GroupWhileBusy<I, O> {
  const queue: Waiting<I, O>[] = [];
  let running = 0;

  const pump = () => {
    while (running < options.maxConcurrent && queue.length > 0) {
      const group = queue.splice(0, options.maxGroup);
      running += 1;
      options
        .run(group)
        .catch((error: unknown) => {
          // A run that throws instead of settling its entries must not leave callers hanging.
          for (const waiting of group) waiting.reject(error);
        })
        .finally(() => {
          running -= 1;
          pump();
        });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length === 1) setImmediate(pump);
    });
}
