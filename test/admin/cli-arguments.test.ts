import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArguments, UsageError } from '../../src/cli-args.js';
import { runEntry } from '../helpers/process.js';

// The documented exit status 2 for wrong arguments, whatever the settings: these runs
// have no configuration at all, so a CLI that read its settings first would exit 1.
describe('the CLI checks its arguments before it reads any setting', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'ase-cli-args-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
    const run = runEntry('src/cli.ts', { cwd: workDir, env: { DATA_DIR: path.join(workDir, 'data') }, args });
    const code = await run.exited;
    return { code, output: run.output() };
  }

  it('exits 2 naming the option when --environment is not Production or Sandbox', async () => {
    const result = await cli('test-notification', '--environment', 'Staging');
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain('--environment must be Production or Sandbox, got "Staging"');
    expect(result.output).not.toContain('Configuration error');
  });

  it('exits 2 on an extra argument instead of ignoring it', async () => {
    const result = await cli('entitlements', 'user-1', 'user-2');
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain('unexpected argument "user-2"');
  });

  it('exits 2 on an unknown option of migrate without touching the database', async () => {
    const result = await cli('migrate', '--dry-run');
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain("Unknown option '--dry-run'");
    expect(result.output).not.toContain('Migrations applied');
  });
});

describe('parseCliArguments', () => {
  const refused =
    (...argv: string[]) =>
    () =>
      parseCliArguments(argv);

  it('reads each command with its options', () => {
    expect(parseCliArguments([])).toEqual({ name: 'help' });
    expect(parseCliArguments(['migrate'])).toEqual({ name: 'migrate' });
    expect(parseCliArguments(['replay', '--reset'])).toEqual({ name: 'replay', reset: true });
    expect(parseCliArguments(['recover', '--start', 'a', '--end', 'b'])).toEqual({ name: 'recover', start: 'a', end: 'b', onlyFailures: false });
    expect(parseCliArguments(['test-notification', '--environment', 'Sandbox', '--wait', '30'])).toEqual({
      name: 'test-notification',
      environment: 'Sandbox',
      waitSeconds: 30,
    });
    expect(parseCliArguments(['test-notification-status', 'tok'])).toEqual({ name: 'test-notification-status', token: 'tok', environment: undefined });
    expect(parseCliArguments(['entitlements', 'u1', '--refresh'])).toEqual({ name: 'entitlements', userId: 'u1', refresh: true });
    expect(parseCliArguments(['restore', 'u1', '2000000000000001'])).toEqual({ name: 'restore', userId: 'u1', transactionId: '2000000000000001' });
  });

  it('refuses unknown commands, unknown options, missing and extra arguments as usage errors', () => {
    expect(refused('deploy')).toThrow(UsageError);
    expect(refused('migrate', 'now')).toThrow(UsageError);
    expect(refused('replay', '--force')).toThrow(UsageError);
    expect(refused('recover', '--start', 'a')).toThrow(UsageError);
    expect(refused('recover', '--start')).toThrow(UsageError);
    expect(refused('test-notification', '--wait', 'soon')).toThrow(UsageError);
    expect(refused('test-notification', '--wait', '')).toThrow(UsageError);
    expect(refused('test-notification-status')).toThrow(UsageError);
    expect(refused('entitlements')).toThrow(UsageError);
    expect(refused('help', 'me')).toThrow(UsageError);
    expect(refused('restore', 'u1')).toThrow(UsageError);
    expect(refused('restore', 'u1', 'not an id')).toThrow(UsageError);
  });
});
