import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppChoiceError, chooseApp, parseCliArguments, UsageError } from '../../src/cli-args.js';
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

  it('reads --app on every command that acts for one app, and refuses it on migrate and an empty one', () => {
    expect(parseCliArguments(['replay', '--app', 'kids'])).toMatchObject({ name: 'replay', app: 'kids' });
    expect(parseCliArguments(['recover', '--start', 'a', '--end', 'b', '--app', 'kids'])).toMatchObject({ name: 'recover', app: 'kids' });
    expect(parseCliArguments(['test-notification', '--app', 'kids'])).toMatchObject({ name: 'test-notification', app: 'kids' });
    expect(parseCliArguments(['test-notification-status', 'tok', '--app', 'kids'])).toMatchObject({ name: 'test-notification-status', app: 'kids' });
    expect(parseCliArguments(['entitlements', '--app', 'kids', 'u1'])).toMatchObject({ name: 'entitlements', userId: 'u1', app: 'kids' });
    expect(parseCliArguments(['restore', 'u1', '2000000000000001', '--app', 'kids'])).toMatchObject({ name: 'restore', app: 'kids' });
    expect(parseCliArguments(['events', 'redeliver', 'evt_1', '--app', 'kids'])).toMatchObject({ name: 'events-redeliver', app: 'kids' });
    expect(parseCliArguments(['events', 'tail', '--app', 'kids'])).toMatchObject({ name: 'events-tail', app: 'kids' });
    expect(parseCliArguments(['entitlements', 'u1'])).toHaveProperty('app', undefined);
    expect(refused('migrate', '--app', 'kids')).toThrow(UsageError);
    expect(refused('entitlements', 'u1', '--app', ' ')).toThrow(UsageError);
    expect(refused('entitlements', 'u1', '--app')).toThrow(UsageError);
  });
});

describe('chooseApp', () => {
  const apps = ['default', 'kids', 'Photo.Pro-2'];
  const failure = (requested: string | undefined, appIds: readonly string[]) => {
    try {
      chooseApp(requested, appIds);
    } catch (error) {
      return error as AppChoiceError;
    }
    throw new Error('chooseApp chose');
  };

  it('takes the app --app names, or the only app when there is one', () => {
    expect(chooseApp('kids', apps)).toBe('kids');
    expect(chooseApp(undefined, ['default'])).toBe('default');
    expect(chooseApp('default', ['default'])).toBe('default');
  });

  it('refuses to guess among several apps, in one line naming --app and every app id', () => {
    const error = failure(undefined, apps);
    expect(error).toBeInstanceOf(AppChoiceError);
    expect(error.code).toBe('APP_REQUIRED');
    expect(error.message).toBe('APP_REQUIRED: this installation serves several apps (default, kids, Photo.Pro-2): name one with --app <id>');
  });

  it('refuses an id no app has, naming it and the known ones, whatever the number of apps', () => {
    expect(failure('photo', apps).message).toBe('UNKNOWN_APP: --app "photo" names no app of this installation (its apps: default, kids, Photo.Pro-2)');
    expect(failure('kids', ['default'])).toMatchObject({ code: 'UNKNOWN_APP' });
  });
});
