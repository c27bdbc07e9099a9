import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { freePort, runEntry, waitForStatus } from './helpers/process.js';
import { queryRows } from './helpers/rows.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'ase-server-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

// Only the two required settings, as on a fresh machine.
const baseEnv = { APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', LOG_LEVEL: 'error' };

describe('npm start (src/server.ts)', () => {
  it('exits 1 with one line naming APPLE_BUNDLE_ID when it is unset', async () => {
    const run = runEntry('src/server.ts', { cwd: workDir, env: { API_KEYS: 'k1-0123456789abcdef' } });
    expect(await run.exited).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('APPLE_BUNDLE_ID');
    expect(run.output()).not.toMatch(/\n\s+at /);
  });

  it('serves /readyz on the embedded database and keeps its data across restarts', async () => {
    const dataDir = path.join(workDir, 'data');
    const start = async () => {
      const port = await freePort();
      const run = runEntry('src/server.ts', { cwd: workDir, env: { ...baseEnv, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir } });
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 90_000, run);
      return run;
    };
    const stop = async (run: Awaited<ReturnType<typeof start>>) => {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    };

    await stop(await start());
    const first = await openDatabase({ url: null, dataDir });
    await first.db.execute(sql`insert into service_state (key, value) values ('restart-probe', '"kept"')`);
    await first.close();

    await stop(await start());
    const second = await openDatabase({ url: null, dataDir });
    const rows = await queryRows<{ value: unknown }>(second.db, sql`select value from service_state where key = 'restart-probe'`);
    await second.close();
    expect(rows).toEqual([{ value: 'kept' }]);
  }, 240_000);

  it('exits 1 with one line naming DATA_DIR when DATA_DIR is a file', async () => {
    const file = path.join(workDir, 'not-a-dir');
    writeFileSync(file, 'x');
    const run = runEntry('src/server.ts', { cwd: workDir, env: { ...baseEnv, PORT: '0', DATA_DIR: file } });
    expect(await run.exited).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Configuration error: DATA_DIR .*not a directory/);
  }, 60_000);

  it('stops a second process on the same DATA_DIR at start-up naming DATA_DIR, and starts again after the first is SIGKILLed', async () => {
    const dataDir = path.join(workDir, 'locked');
    const start = async () => {
      const port = await freePort();
      const run = runEntry('src/server.ts', { cwd: workDir, env: { ...baseEnv, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir } });
      return { run, port };
    };

    const first = await start();
    await waitForStatus(`http://127.0.0.1:${first.port}/readyz`, 200, 90_000, first.run);
    const second = await start();
    expect(await second.run.exited).toBe(1);
    const lines = second.run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Configuration error: DATA_DIR .* is in use by process \d+/);
    // The first one is untouched by the attempt.
    expect((await fetch(`http://127.0.0.1:${first.port}/readyz`)).status).toBe(200);

    first.run.child.kill('SIGKILL');
    await first.run.exited;
    expect(existsSync(path.join(dataDir, 'service.lock'))).toBe(true);

    const third = await start();
    await waitForStatus(`http://127.0.0.1:${third.port}/readyz`, 200, 90_000, third.run);
    third.run.child.kill('SIGTERM');
    expect(await third.run.exited).toBe(0);
    expect(existsSync(path.join(dataDir, 'service.lock'))).toBe(false);
  }, 300_000);
});
