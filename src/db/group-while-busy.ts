// Grouping of database work that arrives while earlier work is in flight. The first item
// waits only for the end of the current turn of the event loop (so that requests parsed
// together share a round trip); items that arrive while every slot is busy queue up and go
// together in the next group. Under light load every item goes alone and at once; under
// heavy load the database sees a few large statements instead of many small ones. The group
// writer (ingest) and the entitlement reader share this.
//
// Several groupers may share one set of slots (each app of an installation has its own
// writer over its own schema, but they all load one PostgreSQL): a slot given back goes to
// the grouper that has waited longest, so with N apps each app's group gathers what arrived
// while the others wrote, and groups stay as large as one grouper's would be.

export interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

/** Groups in flight at the same time, over one grouper or shared by several. */
export interface Slots {
  /** Takes a free slot; false when every slot is busy. */
  take(): boolean;
  /** Gives a slot back; the grouper that has waited longest takes it. */
  give(): void;
  /** Calls `wake` once, when a slot is given back to waiting groupers in turn. */
  await(wake: () => void): void;
}

export function createSlots(count: number): Slots {
  if (!Number.isInteger(count) || count < 1) throw new Error(`slots must be a positive integer, got ${count}`);
  let free = count;
  const waiting: Array<() => void> = [];
  return {
    take() {
      if (free === 0) return false;
      free -= 1;
      return true;
    },
    give() {
      free += 1;
      // A grouper woken with nothing left to send (it drained its queue meanwhile) leaves the
      // slot free: the next one is woken, so a free slot never sits beside a waiting grouper.
      while (free > 0 && waiting.length > 0) waiting.shift()!();
    },
    await(wake) {
      waiting.push(wake);
    },
  };
}

export interface GroupWhileBusyOptions<I, O> {
  /** Handles one group; must settle every entry it is given (resolve or reject each). */
  run(group: Waiting<I, O>[]): Promise<void>;
  /** Largest number of items in one group. */
  maxGroup: number;
  /** Groups handled at the same time (each holds one pooled connection), when `slots` is absent. */
  maxConcurrent?: number;
  /** Slots shared with other groupers; absent: `maxConcurrent` of this grouper's own. */
  slots?: Slots;
}

export type GroupWhileBusy<I, O> = (item: I) => Promise<O>;

export function groupWhileBusy<I, O>(options: GroupWhileBusyOptions<I, O>): GroupWhileBusy<I, O> {
  const slots = options.slots ?? createSlots(options.maxConcurrent ?? 1);
  const queue: Waiting<I, O>[] = [];
  // At most one wake-up is registered with the slots at a time.
  let awaitingSlot = false;
  const onSlot = () => {
    awaitingSlot = false;
    pump();
  };

  const pump = () => {
    while (queue.length > 0) {
      if (!slots.take()) {
        if (!awaitingSlot) {
          awaitingSlot = true;
          slots.await(onSlot);
        }
        return;
      }
      const group = queue.splice(0, options.maxGroup);
      options
        .run(group)
        .catch((error: unknown) => {
          // A run that throws instead of settling its entries must not leave callers hanging.
          for (const waiting of group) waiting.reject(error);
        })
        .finally(() => {
          slots.give();
          pump();
        });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length === 1 && !awaitingSlot) setImmediate(pump);
    });
}
