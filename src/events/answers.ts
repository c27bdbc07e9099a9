import { hash } from 'node:crypto';
import type { Transaction } from '../db/client.js';
import type { userAnswers } from '../db/schema.js';
import type { EntitlementMap } from '../entitlements/entitlement-map.js';
import { type EntitlementView, entitlementViews, evaluatePurchases } from '../entitlements/entitlements.model.js';
import { recordsOfUsersIn, type UserRecords } from '../entitlements/entitlements.repository.js';
import { combineSources, grantEnd } from '../entitlements/sources.model.js';
import { BILLING_RETRY_MAX_MS } from '../entitlements/state.model.js';
import { type StoredAnswer, storeAnswers, storedAnswers } from './answers.repository.js';

// Users' answers to GET /entitlements/:userId, computed with the read model itself
// (entitlements.model.ts over the same read) and compared with the last recorded answer.
// Answers are compared without their `updatedAt` fields: a rewrite of a purchase's rows
// that leaves everything the answer says unchanged (a renewal info Apple signed again)
// is not a change of the answer.

export interface AnswerChange {
  userId: string;
  /** entitlements.updated's data (EntitlementsUpdatedData) as JSON: entitlementsUpdatedJson. */
  dataJson: string;
}

/**
 * `JSON.stringify(data)` of EntitlementsUpdatedData, from the answers' JSON texts (both
 * JSON.stringify's own output: the current answer just serialised, the previous one as it
 * was recorded), so neither is parsed or serialised again. Keys in the interface's order.
 */
export function entitlementsUpdatedJson(userId: string, entitlementsJson: string, previousJson: string): string {
  return `{"userId":${JSON.stringify(userId)},"entitlements":${entitlementsJson},"previous":${previousJson}}`;
}

export interface CurrentAnswer {
  userId: string;
  entitlements: EntitlementView[];
  json: string;
  fingerprint: string;
  nextCheckAt: Date | null;
}

/** SHA-256 (base64url) of the answer's JSON without its entries' `updatedAt`. */
export function fingerprintOf(entitlements: readonly EntitlementView[]): string {
  return answerTexts(entitlements).fingerprint;
}

/**
 * The answer's JSON (`JSON.stringify(entitlements)`) and its fingerprint, each entry
 * serialised once: every view ends with `updatedAt` (entitlements.model.ts, sources.model.ts)
 * and holds no nested object, so an entry's JSON without it is its JSON with that last
 * member cut off. An entry that does not end with it is serialised again without it.
 */
export function answerTexts(entitlements: readonly EntitlementView[]): { json: string; fingerprint: string } {
  const full: string[] = [];
  const comparable: string[] = [];
  for (const view of entitlements) {
    const json = JSON.stringify(view);
    const last = `,"updatedAt":${JSON.stringify(view.updatedAt)}}`;
    full.push(json);
    if (json.endsWith(last)) {
      comparable.push(`${json.slice(0, json.length - last.length)}}`);
    } else {
      const { updatedAt: _updatedAt, ...rest } = view;
      comparable.push(JSON.stringify(rest));
    }
  }
  return { json: `[${full.join(',')}]`, fingerprint: hash('sha256', `[${comparable.join(',')}]`, 'base64url') };
}

/**
 * The earliest instant after `now` at which time alone may change the answer: a period
 * ending (a transaction's expiry, or a catalog duration's end), a grace period ending, the
 * billing-retry window closing, a grant ending. Null when nothing the answer rests on ends.
 */
export function nextCheckAt(records: UserRecords, entitlements: readonly EntitlementView[], now: Date): Date | null {
  const purchases = records.purchases;
  let next = Infinity;
  const consider = (time: number | null | undefined) => {
    if (time !== null && time !== undefined && time > now.getTime() && time < next) next = time;
  };
  for (const purchase of purchases) {
    for (const t of purchase.transactions) {
      const expires = t.expiresDate?.getTime();
      consider(expires);
      if (expires !== undefined) consider(expires + BILLING_RETRY_MAX_MS);
    }
    consider(purchase.renewal?.gracePeriodExpiresDate?.getTime());
  }
  for (const grant of records.grants) consider(grantEnd(grant).getTime());
  for (const view of entitlements) {
    if (view.expiresDate !== null) consider(Date.parse(view.expiresDate));
    if (view.gracePeriodExpiresDate !== null) consider(Date.parse(view.gracePeriodExpiresDate));
  }
  return Number.isFinite(next) ? new Date(next) : null;
}

/** Every user's answer now, read inside `tx` (a transaction sees its own writes). */
export async function currentAnswers(tx: Transaction, userIds: readonly string[], map: EntitlementMap, now: Date): Promise<CurrentAnswer[]> {
  const byUser = await recordsOfUsersIn(tx, userIds);
  return userIds.map((userId) => {
    const records = byUser.get(userId) ?? { purchases: [], grants: [], appTransaction: null };
    // The same combination as the route's answer without an environment filter (entitlements.usecase.ts).
    const entitlements = combineSources(
      entitlementViews(
        evaluatePurchases(records.purchases, now, (id) => map.durationOf(id)),
        map,
      ),
      records.grants,
      records.appTransaction,
      map.appPurchase,
      now,
    );
    return { userId, entitlements, ...answerTexts(entitlements), nextCheckAt: nextCheckAt(records, entitlements, now) };
  });
}

/** What comparing users' answers found: the changes to announce and the rows to store. */
export interface AnswerComparison {
  /** Answers that changed since the last recorded one, in user id order. */
  changes: AnswerChange[];
  /** user_answers rows to write (new or different answers; unchanged rows are left alone). */
  writes: Array<typeof userAnswers.$inferInsert>;
}

const EMPTY_FINGERPRINT = fingerprintOf([]);

/**
 * Computes the users' answers and compares them with the last recorded answers (a user never
 * recorded had `[]`), inside the caller's transaction; writes nothing. `stored`: the recorded
 * answers of these users when the caller has read them already (else they are read here).
 */
export async function compareAnswers(
  tx: Transaction,
  userIds: readonly string[],
  map: EntitlementMap,
  now: Date,
  stored?: ReadonlyMap<string, StoredAnswer>,
): Promise<AnswerComparison> {
  if (userIds.length === 0) return { changes: [], writes: [] };
  const sorted = [...new Set(userIds)].sort();
  const current = await currentAnswers(tx, sorted, map, now);
  const previous = stored ?? new Map((await storedAnswers(tx, sorted)).map((row) => [row.userId, row]));
  const changes: AnswerChange[] = [];
  const writes: Array<typeof userAnswers.$inferInsert> = [];
  for (const answer of current) {
    const before = previous.get(answer.userId);
    const previousFingerprint = before?.fingerprint ?? EMPTY_FINGERPRINT;
    if (previousFingerprint !== answer.fingerprint) {
      changes.push({ userId: answer.userId, dataJson: entitlementsUpdatedJson(answer.userId, answer.json, before?.entitlements ?? '[]') });
    }
    const sameRow =
      before !== undefined && before.entitlements === answer.json && (before.nextCheckAt?.getTime() ?? null) === (answer.nextCheckAt?.getTime() ?? null);
    // A user with nothing, never recorded, needs no row: absent means `[]`.
    if (sameRow || (before === undefined && answer.entitlements.length === 0)) continue;
    writes.push({
      userId: answer.userId,
      entitlements: answer.json,
      fingerprint: answer.fingerprint,
      nextCheckAt: answer.nextCheckAt,
      updatedAt: now,
    });
  }
  return { changes, writes };
}

/**
 * Computes the users' answers, stores them and returns those that changed since the last
 * recorded answer (a user never recorded had `[]`), in user id order. Inside the caller's
 * transaction.
 */
export async function answerChanges(tx: Transaction, userIds: readonly string[], map: EntitlementMap, now: Date): Promise<AnswerChange[]> {
  const { changes, writes } = await compareAnswers(tx, userIds, map, now);
  await storeAnswers(tx, writes);
  return changes;
}
