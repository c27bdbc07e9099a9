import { describe, expect, it } from 'vitest';
import {
  createRecoveryScheduler,
  FIRST_RUN_LOOKBACK_MS,
  type RecoveryRunOutcome,
  recoveryJobWindow,
  type SchedulerTimers,
  WINDOW_OVERLAP_MS,
} from '../../src/admin/recovery.job.js';
import { readRecoveryBookmark, writeRecoveryBookmark } from '../../src/admin/recovery.repository.js';
import { HISTORY_RETENTION_MS } from '../../src/admin/recovery.usecase.js';
import type { AppStoreServerApi } from '../../src/apple/api/index.js';
import { openDatabase } from '../../src/db/client.js';
import type { AppDeps } from '../../src/dependencies.js';
import { createServices } from '../../src/services.js';
import type { TestApp } from '../helpers/app.js';
import { HOUR } from '../helpers/constants.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { HISTORY_PATH, historyPage, type RecoveryRunEvent, useAdminFixture } from './fixture.js';

/** The app's recovery as createServices builds it, with the job's interval and any dependency replaced. */
function recoveryOf(app: TestApp & { runs: RecoveryRunEvent[] }, overrides: Partial<AppDeps> = {}, intervalMs = HOUR) {
  const { recovery } = createServices({ ...app.deps, config: { ...app.deps.config, recoveryIntervalMs: intervalMs }, ...overrides });
  if (!recovery) throw new Error('the test app has no App Store Server API');
  return recovery;
}

describe('recoveryJobWindow', () => {
  const now = new Date('2026-11-21T12:00:00Z');

  it('looks back 24 hours on the first run when the interval is short', () => {
    expect(recoveryJobWindow(null, now, HOUR)).toEqual({ startDate: new Date(now.getTime() - FIRST_RUN_LOOKBACK_MS), endDate: now });
  });

  it('looks back two intervals on the first run when that is longer than 24 hours', () => {
    expect(recoveryJobWindow(null, now, 48 * HOUR).startDate).toEqual(new Date(now.getTime() - 96 * HOUR));
  });

  it('starts a little before the last successful end so late-filed notifications are not missed', () => {
    const bookmark = new Date(now.getTime() - HOUR);
    expect(recoveryJobWindow(bookmark, now, HOUR).startDate).toEqual(new Date(bookmark.getTime() - WINDOW_OVERLAP_MS));
  });

  it("never starts before Apple's 180 days of history, however old the bookmark", () => {
    const { startDate } = recoveryJobWindow(new Date('2020-01-01T00:00:00Z'), now, HOUR);
    expect(startDate.getTime()).toBeGreaterThan(now.getTime() - HISTORY_RETENTION_MS);
    expect(startDate.getTime()).toBeLessThan(now.getTime() - HISTORY_RETENTION_MS + HOUR);
  });
});

describe('runRecoveryOnce', () => {
  const fixture = useAdminFixture();

  it('recovers failed deliveries since the first look-back, then moves the bookmark to the end of the window', async () => {
    const now = new Date();
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' }, clock: () => now });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification(), fixture.notification()]));

    const outcome = await recoveryOf(app).runOnce();

    expect(outcome).toMatchObject({ outcome: 'success', result: { fetched: 2, applied: 2 } });
    expect(fixture.double.requests[0]?.body).toEqual({
      startDate: now.getTime() - FIRST_RUN_LOOKBACK_MS,
      endDate: now.getTime(),
      onlyFailures: true,
    });
    expect(await readRecoveryBookmark(app.deps.database.db)).toEqual(now);
    expect(await fixture.recorded(app, 'recovery')).toBe(2);
    expect(app.runs).toEqual([{ trigger: 'schedule', outcome: 'success', fetched: 2, applied: 2 }]);
  });

  it('continues from the bookmark on the next run', async () => {
    const now = new Date();
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' }, clock: () => now });
    const bookmark = new Date(now.getTime() - 2 * HOUR);
    await writeRecoveryBookmark(app.deps.database.db, bookmark);
    fixture.double.reply('POST', HISTORY_PATH, historyPage([]));

    await recoveryOf(app).runOnce();

    expect(fixture.double.requests[0]?.body).toMatchObject({ startDate: bookmark.getTime() - WINDOW_OVERLAP_MS, endDate: now.getTime() });
    expect(await readRecoveryBookmark(app.deps.database.db)).toEqual(now);
  });

  it('reports a failure without throwing and leaves the bookmark for the next run to retry', async () => {
    const now = new Date();
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' }, clock: () => now });
    const bookmark = new Date(now.getTime() - HOUR);
    await writeRecoveryBookmark(app.deps.database.db, bookmark);
    fixture.double.reply('POST', HISTORY_PATH, { status: 503 });

    const outcome = await recoveryOf(app).runOnce();

    expect(outcome.outcome).toBe('failure');
    expect(await readRecoveryBookmark(app.deps.database.db)).toEqual(bookmark);
    expect(app.runs).toEqual([{ trigger: 'schedule', outcome: 'failure', fetched: 0, applied: 0 }]);
  });

  it('skips, touching neither Apple nor the bookmark, when another replica holds the lock', async () => {
    const app = await fixture.app();
    const locked = recoveryOf(app, { database: { ...app.deps.database, withTryAdvisoryLock: async () => ({ acquired: false }) } });

    const outcome = await locked.runOnce();

    expect(outcome).toEqual({ outcome: 'skipped', reason: 'locked' });
    expect(fixture.double.requests).toHaveLength(0);
    expect(await readRecoveryBookmark(app.deps.database.db)).toBeNull();
    expect(app.runs).toEqual([{ trigger: 'schedule', outcome: 'skipped', fetched: 0, applied: 0 }]);
  });

  it.skipIf(!testDatabaseUrl)(
    'two replicas on one PostgreSQL database run the job once (skipped on embedded PGlite, which has one process per database)',
    async () => {
      // A second connection pool to the same database stands for the second replica.
      const secondHandle = await openDatabase({ url: fixture.database.url, dataDir: 'memory://' });
      try {
        let enter!: () => void;
        const entered = new Promise<void>((resolve) => (enter = resolve));
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        // Replica A's client stops inside its run until B has tried, so the two runs overlap for certain.
        const gated = (api: AppStoreServerApi): AppStoreServerApi => ({
          forEnvironment(environment) {
            const inner = api.forEnvironment(environment);
            return {
              ...inner,
              async *iterateNotificationHistory(request, token) {
                enter();
                await gate;
                yield* inner.iterateNotificationHistory(request, token);
              },
            };
          },
        });
        const env = { APPLE_ENVIRONMENTS: 'Production', RECOVERY_INTERVAL: '1h' };
        const replicaA = await fixture.app({ env, api: gated(fixture.api()) });
        const replicaB = await fixture.app({
          env,
          database: { handle: secondHandle, url: fixture.database.url, destroy: async () => {} },
        });
        await Promise.all([replicaA.app.ready(), replicaB.app.ready()]);
        fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification()]));

        const runA = replicaA.app.recoveryJob!.tick();
        await entered;
        const outcomeB = await replicaB.app.recoveryJob!.tick();
        release();
        const outcomeA = await runA;

        expect(outcomeA).toMatchObject({ outcome: 'success', result: { fetched: 1, applied: 1 } });
        expect(outcomeB).toEqual({ outcome: 'skipped', reason: 'locked' });
        expect(fixture.double.requests).toHaveLength(1);
        expect(await fixture.recorded(replicaA, 'recovery')).toBe(1);
        // Once A has finished, the lock is free again for whichever replica ticks next.
        fixture.double.reply('POST', HISTORY_PATH, historyPage([]));
        expect((await replicaB.app.recoveryJob!.tick()).outcome).toBe('success');
      } finally {
        await secondHandle.close();
      }
    },
  );
});

describe('the recovery job in the app', () => {
  const fixture = useAdminFixture();

  it('is not installed while RECOVERY_INTERVAL is 0', async () => {
    const app = await fixture.app({ env: { RECOVERY_INTERVAL: '0' } });
    expect(app.app.recoveryJob).toBeNull();
  });

  it('is not installed without App Store Server API credentials', async () => {
    const app = await fixture.app({ env: { RECOVERY_INTERVAL: '1h' }, api: null });
    expect(app.app.recoveryJob).toBeNull();
  });

  it('is installed with credentials and an interval, and a tick runs it', async () => {
    const app = await fixture.app({ env: { RECOVERY_INTERVAL: '1h', APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification()]));
    const outcome = await app.app.recoveryJob!.tick();
    expect(outcome).toMatchObject({ outcome: 'success', result: { applied: 1 } });
  });
});

/** Timers that only fire when the test says so. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 1;
  const timers: SchedulerTimers = {
    setTimeout(callback, ms) {
      const id = next++;
      pending.set(id, { callback, ms });
      return id;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    delays: () => [...pending.values()].map((p) => p.ms),
    fire() {
      const [id, timer] = [...pending.entries()][0] ?? [];
      if (id === undefined || !timer) throw new Error('no timer pending');
      pending.delete(id);
      timer.callback();
    },
  };
}

function deferredRun() {
  const calls: { signal: AbortSignal; finish: (outcome: RecoveryRunOutcome) => void }[] = [];
  const run = (signal: AbortSignal) => new Promise<RecoveryRunOutcome>((resolve) => calls.push({ signal, finish: resolve }));
  return { run, calls };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('createRecoveryScheduler', () => {
  it('plans the first run after the first-run delay, and each next one an interval after the previous one ends', async () => {
    const clock = manualTimers();
    const runs = deferredRun();
    const scheduler = createRecoveryScheduler({ intervalMs: HOUR, firstRunDelayMs: 1_000, run: runs.run, timers: clock.timers });

    scheduler.start();
    expect(clock.delays()).toEqual([1_000]);
    clock.fire();
    expect(runs.calls).toHaveLength(1);
    // Nothing is planned while the run is in progress: runs cannot pile up.
    expect(clock.delays()).toEqual([]);
    runs.calls[0]!.finish({ outcome: 'skipped', reason: 'locked' });
    await flush();
    expect(clock.delays()).toEqual([HOUR]);
    await scheduler.stop();
  });

  it('defaults the first-run delay to a minute, or to the interval when that is shorter', () => {
    for (const [intervalMs, expected] of [
      [HOUR, 60_000],
      [10_000, 10_000],
    ] as const) {
      const clock = manualTimers();
      const scheduler = createRecoveryScheduler({ intervalMs, run: deferredRun().run, timers: clock.timers });
      scheduler.start();
      expect(clock.delays()).toEqual([expected]);
      void scheduler.stop();
    }
  });

  it('skips a tick while a run of this process is in progress', async () => {
    const runs = deferredRun();
    const scheduler = createRecoveryScheduler({ intervalMs: HOUR, run: runs.run, timers: manualTimers().timers });
    const first = scheduler.tick();
    expect(await scheduler.tick()).toEqual({ outcome: 'skipped', reason: 'running' });
    runs.calls[0]!.finish({ outcome: 'skipped', reason: 'locked' });
    await first;
    expect(runs.calls).toHaveLength(1);
  });

  it('keeps planning runs after a run that throws', async () => {
    const clock = manualTimers();
    const scheduler = createRecoveryScheduler({
      intervalMs: HOUR,
      firstRunDelayMs: 5,
      run: async () => {
        throw new Error('boom');
      },
      timers: clock.timers,
    });
    scheduler.start();
    clock.fire();
    await flush();
    expect(clock.delays()).toEqual([HOUR]);
    await scheduler.stop();
  });

  it('on stop, cancels the planned run, aborts the one in progress and waits for it', async () => {
    const clock = manualTimers();
    const runs = deferredRun();
    const scheduler = createRecoveryScheduler({ intervalMs: HOUR, firstRunDelayMs: 5, run: runs.run, timers: clock.timers });
    scheduler.start();
    clock.fire();
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await flush();
    expect(runs.calls[0]!.signal.aborted).toBe(true);
    expect(stopped).toBe(false);
    runs.calls[0]!.finish({ outcome: 'failure', error: new Error('aborted') });
    await stopping;
    expect(clock.delays()).toEqual([]);
  });
});
