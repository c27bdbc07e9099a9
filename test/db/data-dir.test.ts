import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';

// The embedded database's files on disk: who may read them, and who may open them.

const workDir = mkdtempSync(path.join(tmpdir(), 'ase-data-dir-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Every path under `dir` (itself included) whose mode gives anything to group or others. */
function sharedPaths(dir: string): string[] {
  const found: string[] = [];
  const visit = (current: string) => {
    const stat = lstatSync(current);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) found.push(`${current} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const entry of readdirSync(current)) visit(path.join(current, entry));
  };
  visit(dir);
  return found;
}

async function openError(dataDir: string): Promise<ConfigError> {
  try {
    const handle = await openDatabase({ url: null, dataDir });
    await handle.close();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('openDatabase accepted the data directory');
}

describe('DATA_DIR of the embedded database', () => {
  it('is created readable by its owner only, and so is every file in it', async () => {
    const dataDir = path.join(workDir, 'fresh', 'data');
    const handle = await openDatabase({ url: null, dataDir });
    await handle.db.execute(sql`create table probe (x int)`);
    await handle.db.execute(sql`insert into probe values (1)`);
    await handle.close();
    expect((lstatSync(dataDir).mode & 0o777).toString(8)).toBe('700');
    expect(sharedPaths(dataDir)).toEqual([]);
  }, 60_000);

  it('takes group and world access away from an existing directory and its files', async () => {
    const dataDir = path.join(workDir, 'existing');
    const first = await openDatabase({ url: null, dataDir });
    await first.close();
    // As an earlier version left it: world-writable files in a world-readable directory.
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, 'base', 'stray'), 'x', { mode: 0o666 });
    chmodSync(path.join(dataDir, 'base', 'stray'), 0o666);
    chmodSync(path.join(dataDir, 'PG_VERSION'), 0o666);
    const second = await openDatabase({ url: null, dataDir });
    await second.close();
    expect(sharedPaths(dataDir)).toEqual([]);
  }, 60_000);

  it('names DATA_DIR in one line when it is a file', async () => {
    const file = path.join(workDir, 'a-file');
    writeFileSync(file, 'not a directory');
    const error = await openError(file);
    expect(error.variable).toBe('DATA_DIR');
    expect(error.message.split('\n')).toHaveLength(1);
    const under = await openError(path.join(file, 'data'));
    expect(under.variable).toBe('DATA_DIR');
  });

  it('refuses a second opening of the same DATA_DIR while the first is open, naming DATA_DIR', async () => {
    const dataDir = path.join(workDir, 'shared');
    mkdirSync(dataDir);
    const first = await openDatabase({ url: null, dataDir });
    try {
      const error = await openError(dataDir);
      expect(error.variable).toBe('DATA_DIR');
      expect(error.message).toContain('in use');
    } finally {
      await first.close();
    }
    // Closing gives it back.
    const again = await openDatabase({ url: null, dataDir });
    await again.close();
  }, 60_000);

  it('takes over a lock left by a process that no longer runs', async () => {
    const dataDir = path.join(workDir, 'stale');
    const first = await openDatabase({ url: null, dataDir });
    await first.close();
    // What a SIGKILLed process leaves: its lock, naming a pid nobody has (above pid_max).
    writeFileSync(path.join(dataDir, 'service.lock'), JSON.stringify({ pid: 2 ** 22 + 17, startTime: '1', hostname: 'gone' }));
    const second = await openDatabase({ url: null, dataDir });
    await second.close();
  }, 60_000);

  it('takes over a lock whose pid now belongs to another program, and keeps one whose holder still runs', async () => {
    const dataDir = path.join(workDir, 'reused');
    const first = await openDatabase({ url: null, dataDir });
    await first.close();
    // pid 1 runs, but it is not the process that wrote this lock: its start time differs.
    writeFileSync(path.join(dataDir, 'service.lock'), JSON.stringify({ pid: 1, startTime: 'not-its-start-time', hostname: 'here' }));
    const second = await openDatabase({ url: null, dataDir });
    await second.close();
    // The same running pid with no start time recorded (not Linux): assumed to be the holder.
    writeFileSync(path.join(dataDir, 'service.lock'), JSON.stringify({ pid: 1, startTime: null, hostname: 'here' }));
    const error = await openError(dataDir);
    expect(error.message).toContain('in use by process 1');
  }, 60_000);
});
