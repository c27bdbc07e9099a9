import { desc, notInArray } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { recoveryRuns } from '../db/schema.js';

/** How many runs are kept: a few weeks of the hourly job, and the operators' runs among them. */
export const RECOVERY_RUNS_KEPT = 200;

export type RecoveryRunTrigger = 'schedule' | 'admin' | 'cli';

export interface RecoveryRunRecord {
  trigger: RecoveryRunTrigger;
  outcome: 'success' | 'failure';
  startedAt: Date;
  finishedAt: Date;
  window: { startDate: Date; endDate: Date; onlyFailures: boolean } | null;
  counts: { fetched: number; applied: number; duplicate: number; rejected: number };
  error: { code: string; message: string } | null;
}

export interface RecoveryRun extends RecoveryRunRecord {
  id: number;
}

export interface RecoveryRunsRepository {
  /** Records one run and drops all but the newest `keep` (default RECOVERY_RUNS_KEPT). */
  record(run: RecoveryRunRecord): Promise<void>;
  /** The newest runs first (by start, then by record). */
  latest(limit: number): Promise<RecoveryRun[]>;
}

export function createRecoveryRunsRepository({ db, keep = RECOVERY_RUNS_KEPT }: { db: Database; keep?: number }): RecoveryRunsRepository {
  return {
    async record(run) {
      await db.transaction(async (tx) => {
        await tx.insert(recoveryRuns).values({
          trigger: run.trigger,
          outcome: run.outcome,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          windowStart: run.window?.startDate ?? null,
          windowEnd: run.window?.endDate ?? null,
          onlyFailures: run.window?.onlyFailures ?? false,
          ...run.counts,
          errorCode: run.error?.code ?? null,
          errorMessage: run.error?.message ?? null,
        });
        // The newest by id are the last recorded; a few hundred rows, so the subquery is cheap.
        const kept = tx.select({ id: recoveryRuns.id }).from(recoveryRuns).orderBy(desc(recoveryRuns.id)).limit(keep);
        await tx.delete(recoveryRuns).where(notInArray(recoveryRuns.id, kept));
      });
    },
    async latest(limit) {
      const rows = await db.select().from(recoveryRuns).orderBy(desc(recoveryRuns.startedAt), desc(recoveryRuns.id)).limit(limit);
      return rows.map((row) => ({
        id: row.id,
        trigger: row.trigger as RecoveryRunTrigger,
        outcome: row.outcome as RecoveryRun['outcome'],
        startedAt: row.startedAt,
        finishedAt: row.finishedAt,
        window:
          row.windowStart !== null && row.windowEnd !== null ? { startDate: row.windowStart, endDate: row.windowEnd, onlyFailures: row.onlyFailures } : null,
        counts: { fetched: row.fetched, applied: row.applied, duplicate: row.duplicate, rejected: row.rejected },
        error: row.errorCode !== null ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
      }));
    },
  };
}
