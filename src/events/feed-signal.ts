// Wakes feed readers that wait for new events (`GET /events?wait=`): told of commits in
// this process directly, and of other replicas' commits by the PostgreSQL listener
// (events-listener.ts). Readers re-read the table when woken; the signal carries no events.

export interface FeedSignal {
  /** Events up to `seq` are committed. */
  notify(seq: number): void;
  /**
   * Resolves true when an event beyond `afterSeq` is announced, false after `timeoutMs` or
   * when `abort` fires. Call it before the read that found nothing, so nothing committed in
   * between is missed.
   */
  wait(afterSeq: number, timeoutMs: number, abort?: AbortSignal): Promise<boolean>;
  /** Wakes every waiter to re-read (notifications may have been missed). */
  wakeAll(): void;
  /** Waiters right now (tests, shutdown). */
  waiting(): number;
  /** Releases every waiter, and answers later waits at once (shutdown). */
  close(): void;
}

export function createFeedSignal(): FeedSignal {
  let latest = 0;
  let closed = false;
  const waiters = new Set<{ afterSeq: number; done: (woken: boolean) => void }>();
  return {
    notify(seq) {
      if (seq > latest) latest = seq;
      for (const waiter of [...waiters]) if (seq > waiter.afterSeq) waiter.done(true);
    },
    wait(afterSeq, timeoutMs, abort) {
      if (latest > afterSeq) return Promise.resolve(true);
      if (closed) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const waiter = {
          afterSeq,
          done: (woken: boolean) => {
            waiters.delete(waiter);
            clearTimeout(timer);
            abort?.removeEventListener('abort', onAbort);
            resolve(woken);
          },
        };
        const onAbort = () => waiter.done(false);
        const timer = setTimeout(() => waiter.done(false), timeoutMs);
        abort?.addEventListener('abort', onAbort, { once: true });
        waiters.add(waiter);
      });
    },
    wakeAll() {
      for (const waiter of [...waiters]) waiter.done(true);
    },
    waiting: () => waiters.size,
    close() {
      closed = true;
      for (const waiter of [...waiters]) waiter.done(false);
    },
  };
}
