import type { FeedUsecase } from './feed.usecase.js';

// `events tail`: follows the feed and writes each event as one JSON line, like `tail -f`.

export interface TailOptions {
  feed: FeedUsecase;
  /** 'end': only events recorded from now on; 'start': from the oldest kept; or after a cursor. */
  from: 'end' | 'start' | { after: string };
  write: (line: string) => void;
  signal: AbortSignal;
}

/** Follows until `signal` aborts; resolves with the cursor after the last event written. */
export async function tailEvents(options: TailOptions): Promise<string> {
  const { feed, from, write, signal } = options;
  let after = from === 'end' ? await feed.endCursor() : from === 'start' ? '0' : from.after;
  while (!signal.aborted) {
    const page = await feed.read({ after, limit: '1000', wait: '30', abort: signal });
    // A page is written whole, so the cursor returned is exactly after the last line.
    for (const event of page.events) write(JSON.stringify(event));
    after = page.nextCursor;
  }
  return after;
}
