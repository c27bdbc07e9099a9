import type { Transaction } from '../db/client.js';

// Tells every replica's entitlement cache (records-cache.ts) which users' answer inputs a
// transaction changed. pg_notify inside the writing transaction: PostgreSQL delivers it
// only when that transaction commits, and drops it with a rollback, so a listener hears of
// exactly the changes that became visible, right after they did.

/** PostgreSQL NOTIFY channel of the entitlement cache (of the public schema's app; each handle names its app's: names.channel). */
export const ANSWER_INPUTS_CHANNEL = 'ase_answer_inputs';

/** Payload meaning "every user" (more users than a few payloads carry, or a replay). */
export const EVERY_USER = '*';

/** PostgreSQL's payload limit is 8000 bytes; a JSON array of ids stays under it. */
const MAX_PAYLOAD_BYTES = 7_900;
/** More users than this in one transaction: one "every user" payload instead. */
const MAX_NAMED_USERS = 1_000;

/** The payloads that name `userIds` (JSON arrays of ids), or the one "every user" payload. */
export function invalidationPayloads(userIds: readonly string[] | 'all'): string[] {
  if (userIds === 'all' || userIds.length > MAX_NAMED_USERS) return [EVERY_USER];
  const payloads: string[] = [];
  let chunk: string[] = [];
  let bytes = 2;
  for (const id of userIds) {
    const size = Buffer.byteLength(JSON.stringify(id)) + 1;
    if (size + 2 > MAX_PAYLOAD_BYTES) return [EVERY_USER];
    if (chunk.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) {
      payloads.push(JSON.stringify(chunk));
      chunk = [];
      bytes = 2;
    }
    chunk.push(id);
    bytes += size;
  }
  if (chunk.length > 0) payloads.push(JSON.stringify(chunk));
  return payloads;
}

/** What a payload says: the users named, or 'all' (also for a payload it cannot read: dropping everything is always safe). */
export function parseInvalidation(payload: string | undefined): string[] | 'all' {
  if (payload === undefined || payload === EVERY_USER) return 'all';
  try {
    const ids: unknown = JSON.parse(payload);
    if (Array.isArray(ids) && ids.every((id) => typeof id === 'string')) return ids as string[];
  } catch {
    // fall through
  }
  return 'all';
}

/**
 * Announces, inside `tx`, that the answer inputs of `userIds` (or of every user) changed;
 * delivered to the listeners when `tx` commits. One statement, however many payloads.
 * (A recording transaction sends its payloads with its event append instead: events.repository.ts.)
 */
export async function notifyAnswerInputsChanged(tx: Transaction, userIds: readonly string[] | 'all'): Promise<void> {
  if (userIds !== 'all' && userIds.length === 0) return;
  await notifyPayloads(tx, tx.driver.names.channel(ANSWER_INPUTS_CHANNEL), invalidationPayloads(userIds));
}

/** NOTIFYs each of `payloads` on `channel` inside `tx`, in one statement. */
export async function notifyPayloads(tx: Transaction, channel: string, payloads: readonly string[]): Promise<void> {
  if (payloads.length === 0) return;
  await tx.driver.query('select pg_notify($1, p) from unnest($2::text[]) as p', [channel, payloads]);
}
