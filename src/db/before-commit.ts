// Work a database transaction defers to its very end: gathered while the transaction goes,
// written by one statement after everything else the transaction does (the event
// recorder's append included) and just before COMMIT, inside the transaction, so it commits
// or rolls back with the rest. For rows that every writer changes (the analytics rollup's
// day × product rows): taken last, their row locks are held only for the commit, instead of
// from the middle of the transaction to its end, where a concurrent writer of the same rows
// waited all that time. `db.transaction` (client.ts) runs the deferred work.

const DEFERRED = Symbol('db.deferredToCommit');

interface Deferred {
  state: unknown;
  write: (tx: never, state: never) => Promise<void>;
}

type Holder = { [DEFERRED]?: Map<symbol, Deferred> };

/**
 * The state `key` gathers in transaction `tx`: created by `create` the first time it is
 * asked for in that transaction, written by `write` once, just before the transaction
 * commits (deferred writes run in the order they were first asked for).
 */
export function deferredToCommit<Tx extends object, State>(tx: Tx, key: symbol, create: () => State, write: (tx: Tx, state: State) => Promise<void>): State {
  const holder = tx as Holder;
  let deferred = holder[DEFERRED];
  if (deferred === undefined) {
    deferred = new Map();
    Object.defineProperty(holder, DEFERRED, { value: deferred, configurable: true });
  }
  const existing = deferred.get(key);
  if (existing !== undefined) return existing.state as State;
  const state = create();
  deferred.set(key, { state, write: write as Deferred['write'] });
  return state;
}

/** Writes what `tx` deferred to its commit (the transaction runner calls it after the work). */
export async function writeDeferred(tx: object): Promise<void> {
  const deferred = (tx as Holder)[DEFERRED];
  if (deferred === undefined) return;
  for (const { state, write } of deferred.values()) await (write as (tx: object, state: unknown) => Promise<void>)(tx, state);
  deferred.clear();
}
