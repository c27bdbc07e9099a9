import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { addIsoDuration, parseIsoDuration } from '../entitlements/iso-duration.js';
import { badRequest, notFound } from '../errors.js';
import { noteUsers } from '../events/transaction-changes.js';
import { endGrant, insertGrant, lockGrant } from './grants.repository.js';

// Operators' grants: an entitlement without a purchase, from now until an end, shown in the
// user's answer with `source: "grant"` (entitlements/sources.model.ts). Each write goes
// through the services' recording database and notes the user, so the answer's change
// becomes an `entitlements.updated` event in the same transaction; a grant running out
// later is noticed by the events' answer check (its end is the answer's next check).

export interface GrantInput {
  entitlement: string;
  expiresDate?: string | undefined;
  duration?: string | undefined;
  reason: string;
}

export interface GrantedAnswer {
  grantId: string;
  expiresDate: Date;
}

export interface EndedAnswer {
  grantId: string;
  /** When it stopped (or stops) giving access. */
  expiresDate: Date;
  /** True when it had already ended (early, or by running out) before this request: nothing changed. */
  alreadyEnded: boolean;
}

/** Who acts: the admin key's id (never the key itself), as the request log names it. */
export interface Actor {
  keyId: string;
}

export interface GrantsUsecaseDeps {
  /** The recording database (services.ts): a grant's write records its events. */
  db: Database;
  clock: Clock;
  logger: Logger;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** The end a grant asks for: `expiresDate` (after now) or now + `duration`, exactly one of them. */
export function grantEndOf(input: Pick<GrantInput, 'expiresDate' | 'duration'>, now: Date): Date {
  const { expiresDate, duration } = input;
  if ((expiresDate === undefined) === (duration === undefined)) {
    throw badRequest('VALIDATION_ERROR', 'body must have exactly one of "expiresDate" and "duration"');
  }
  if (duration !== undefined) {
    const parsed = parseIsoDuration(duration);
    if (parsed === null)
      throw badRequest('INVALID_DURATION', `duration must be a positive ISO 8601 duration such as "P1M", "P7D" or "PT12H", got "${duration}"`);
    return addIsoDuration(now, parsed);
  }
  const raw = expiresDate!;
  if (!DATE_TIME.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw badRequest('INVALID_DATE', `expiresDate must be an ISO 8601 date-time such as 2026-12-31T00:00:00Z, got "${raw}"`);
  }
  const end = new Date(raw);
  if (end.getTime() <= now.getTime()) throw badRequest('DATE_IN_PAST', `expiresDate (${end.toISOString()}) is not in the future`);
  return end;
}

export function createGrantsUsecase(deps: GrantsUsecaseDeps) {
  return {
    async grant(userId: string, input: GrantInput, actor: Actor): Promise<GrantedAnswer> {
      const now = deps.clock();
      const expiresDate = grantEndOf(input, now);
      const entitlement = input.entitlement.trim();
      const reason = input.reason.trim();
      if (entitlement === '') throw badRequest('VALIDATION_ERROR', 'entitlement must not be blank');
      if (reason === '') throw badRequest('VALIDATION_ERROR', 'reason must not be blank');
      const grantId = `grt_${randomUUID()}`;
      await deps.db.transaction(async (tx) => {
        await insertGrant(tx, { id: grantId, userId, entitlement, startsAt: now, expiresDate, reason, grantedBy: actor.keyId, updatedAt: now });
        noteUsers(tx, [userId]);
      });
      deps.logger.info({ grantId, userId, entitlement, expiresDate: expiresDate.toISOString(), by: actor.keyId, reason }, 'grant given');
      return { grantId, expiresDate };
    },

    /** Ends the grant now; ending one that has already ended changes nothing (idempotent). */
    async end(userId: string, grantId: string, actor: Actor, reason: string | null): Promise<EndedAnswer> {
      const now = deps.clock();
      const answer = await deps.db.transaction(async (tx) => {
        const row = await lockGrant(tx, userId, grantId);
        if (row === undefined) throw notFound('GRANT_NOT_FOUND', `User ${userId} has no grant ${grantId}`);
        const end = row.endedAt !== null && row.endedAt < row.expiresDate ? row.endedAt : row.expiresDate;
        if (end.getTime() <= now.getTime()) return { grantId, expiresDate: end, alreadyEnded: true };
        await endGrant(tx, grantId, { at: now, by: actor.keyId, reason });
        noteUsers(tx, [userId]);
        return { grantId, expiresDate: now, alreadyEnded: false };
      });
      if (!answer.alreadyEnded) deps.logger.info({ grantId, userId, by: actor.keyId, reason }, 'grant ended');
      return answer;
    },
  };
}

export type GrantsUsecase = ReturnType<typeof createGrantsUsecase>;
