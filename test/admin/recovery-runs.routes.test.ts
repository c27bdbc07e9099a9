import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createRecoveryRunsRepository, type RecoveryRunRecord } from '../../src/admin/recovery-runs.repository.js';
import { createServices } from '../../src/services.js';
import { TEST_API_KEY } from '../helpers/app.js';
import { HOUR } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { ADMIN, HISTORY_PATH, historyPage, hoursAgo, useAdminFixture } from './fixture.js';

const RECOVER = '/admin/notifications/recover';
const RUNS = '/admin/notifications/recover/runs';

describe(`the recorded recovery runs: GET ${RUNS} (${backendName})`, () => {
  const fixture = useAdminFixture();

  async function listRuns(app: Awaited<ReturnType<typeof fixture.app>>, query = '') {
    const response = await app.app.inject({ method: 'GET', url: `${RUNS}${query}`, headers: ADMIN });
    expect(response.statusCode, response.body).toBe(200);
    return response.json().runs as Record<string, unknown>[];
  }

  it('lists an admin run with its window, counts and times', async () => {
    const now = new Date();
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' }, clock: () => now });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification(), fixture.notification()]));
    const window = { startDate: hoursAgo(24, now), endDate: hoursAgo(1, now) };

    const recovered = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: { ...window, onlyFailures: true } });
    expect(recovered.statusCode).toBe(200);

    expect(await listRuns(app)).toEqual([
      {
        id: expect.any(Number),
        trigger: 'admin',
        outcome: 'success',
        startedAt: now.toISOString(),
        finishedAt: now.toISOString(),
        startDate: window.startDate,
        endDate: window.endDate,
        onlyFailures: true,
        fetched: 2,
        applied: 2,
        duplicate: 0,
        rejected: 0,
        error: null,
      },
    ]);
  });

  it("lists the periodic job's runs under the trigger schedule, newest first", async () => {
    let now = new Date();
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' }, clock: () => now });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification()]), historyPage([]));
    // The job as createServices builds it with an interval (the test app runs none of its own).
    const { recovery } = createServices({ ...app.deps, config: { ...app.deps.config, recoveryIntervalMs: HOUR } });

    expect(await recovery!.runOnce()).toMatchObject({ outcome: 'success' });
    const firstEnd = now;
    now = new Date(now.getTime() + HOUR);
    expect(await recovery!.runOnce()).toMatchObject({ outcome: 'success' });

    const runs = await listRuns(app);
    expect(runs.map((run) => [run.trigger, run.outcome, run.startedAt, run.fetched, run.onlyFailures])).toEqual([
      ['schedule', 'success', now.toISOString(), 0, true],
      ['schedule', 'success', firstEnd.toISOString(), 1, true],
    ]);
    expect(runs[0]?.endDate).toBe(now.toISOString());
    expect(await listRuns(app, '?limit=1')).toHaveLength(1);
  });

  it('records a run that Apple stopped as failed, with the code and message the route answered', async () => {
    const app = await fixture.app({ api: fixture.api({ baseUrl: 'http://127.0.0.1:9' }) });
    const window = { startDate: hoursAgo(24), endDate: hoursAgo(1) };

    const recovered = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window });
    expect(recovered.statusCode).toBe(503);

    const [run, ...others] = await listRuns(app);
    expect(others).toEqual([]);
    expect(run).toMatchObject({
      trigger: 'admin',
      outcome: 'failure',
      startDate: window.startDate,
      endDate: window.endDate,
      fetched: 0,
      applied: 0,
      error: { code: 'APP_STORE_UNAVAILABLE', message: recovered.json().error.message },
    });
  });

  it("records a failed periodic run, and its window, when Apple fails on the job's run", async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, { status: 503 });
    const { recovery } = createServices({ ...app.deps, config: { ...app.deps.config, recoveryIntervalMs: HOUR } });

    expect(await recovery!.runOnce()).toMatchObject({ outcome: 'failure' });

    const [run] = await listRuns(app);
    expect(run).toMatchObject({ trigger: 'schedule', outcome: 'failure', onlyFailures: true, error: { code: 'APP_STORE_UNAVAILABLE' } });
    expect(run?.startDate).toEqual(expect.any(String));
  });

  it('records nothing for a window refused with 400', async () => {
    const app = await fixture.app();
    const refused = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: { startDate: hoursAgo(1), endDate: hoursAgo(2) } });
    expect(refused.statusCode).toBe(400);
    expect(await listRuns(app)).toEqual([]);
  });

  it('still recovers, and answers, when the run cannot be recorded', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification()]));
    const db = app.deps.database.db;
    await db.execute(sql`alter table recovery_runs rename to recovery_runs_away`);
    try {
      const recovered = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: { startDate: hoursAgo(24), endDate: hoursAgo(0) } });
      expect(recovered.statusCode).toBe(200);
      expect(recovered.json()).toMatchObject({ fetched: 1, applied: 1 });
      expect(await fixture.recorded(app, 'recovery')).toBe(1);
    } finally {
      await db.execute(sql`alter table recovery_runs_away rename to recovery_runs`);
    }
    expect(await listRuns(app)).toEqual([]);
  });

  it('keeps only the newest runs', async () => {
    const app = await fixture.app();
    const runs = createRecoveryRunsRepository({ db: app.deps.database.db, keep: 3 });
    const base = Date.parse('2026-12-01T00:00:00Z');
    const run = (minute: number): RecoveryRunRecord => ({
      trigger: 'schedule',
      outcome: 'success',
      startedAt: new Date(base + minute * 60_000),
      finishedAt: new Date(base + minute * 60_000 + 1_000),
      window: null,
      counts: { fetched: minute, applied: 0, duplicate: 0, rejected: 0 },
      error: null,
    });
    for (let minute = 1; minute <= 5; minute++) await runs.record(run(minute));

    expect((await runs.latest(10)).map((kept) => kept.counts.fetched)).toEqual([5, 4, 3]);
    expect((await listRuns(app)).map((listed) => [listed.fetched, listed.startDate])).toEqual([
      [5, null],
      [4, null],
      [3, null],
    ]);
  });

  it('refuses a limit outside 1..200 with 400 VALIDATION_ERROR', async () => {
    const app = await fixture.app();
    for (const limit of ['0', '201', 'many']) {
      const response = await app.app.inject({ method: 'GET', url: `${RUNS}?limit=${limit}`, headers: ADMIN });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('VALIDATION_ERROR');
    }
  });

  it('answers 401 without a bearer token and 403 with an app key', async () => {
    const app = await fixture.app();
    const anonymous = await app.app.inject({ method: 'GET', url: RUNS });
    const appKey = await app.app.inject({ method: 'GET', url: RUNS, headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect([anonymous.statusCode, appKey.statusCode]).toEqual([401, 403]);
  });
});
