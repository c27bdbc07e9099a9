import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ApiEnvironment } from './apple/api/index.js';

// The CLI's arguments, checked in full before any setting is read or any database is
// opened: a mistyped command exits 2 with the usage, whatever the configuration says.

export class UsageError extends Error {}

/**
 * The app a command names (or leaves out) is not one it can act for: exit 2 with this one
 * line, its code the admin API's for the same mistake (APP_REQUIRED, UNKNOWN_APP).
 */
export class AppChoiceError extends UsageError {
  constructor(
    readonly code: 'APP_REQUIRED' | 'UNKNOWN_APP',
    message: string,
  ) {
    super(message);
  }
}

export type CliCommand =
  | { name: 'help' }
  | { name: 'migrate' }
  | ({ name: 'replay'; reset: boolean } & AppOption)
  | ({ name: 'recover'; start: string; end: string; onlyFailures: boolean } & AppOption)
  | ({ name: 'test-notification'; environment: ApiEnvironment | undefined; waitSeconds: number } & AppOption)
  | ({ name: 'test-notification-status'; token: string; environment: ApiEnvironment | undefined } & AppOption)
  | ({ name: 'entitlements'; userId: string; refresh: boolean } & AppOption)
  | ({ name: 'restore'; userId: string; transactionId: string } & AppOption)
  | ({ name: 'events-redeliver'; eventId: string } & AppOption)
  | ({ name: 'events-tail'; after: string | undefined; fromStart: boolean } & AppOption);

/** `--app <id>`: the app of APPS_FILE a command acts for; checked against the settings once they are read (chooseApp). */
export interface AppOption {
  app: string | undefined;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const APP_OPTIONS = { app: { type: 'string' } } as const;

/** parseArgs in strict mode, its errors (unknown option, missing value) as usage errors; every command but migrate takes --app. */
function parse<T extends Options>(command: string, args: string[], options: T, positionals: string[] = []) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...APP_OPTIONS, ...options }, allowPositionals: positionals.length > 0, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  if (parsed.positionals.length > positionals.length) {
    const extra = parsed.positionals.slice(positionals.length).join(' ');
    throw new UsageError(`${command}: unexpected argument${parsed.positionals.length - positionals.length > 1 ? 's' : ''} "${extra}"`);
  }
  const missing = positionals.slice(parsed.positionals.length);
  if (missing.length > 0) throw new UsageError(`${command} needs the ${missing.join(' and the ')}`);
  const app = (parsed.values as { app?: unknown }).app as string | undefined;
  if (app !== undefined && app.trim() === '') throw new UsageError(`${command}: --app needs an app id`);
  return parsed;
}

/** The --app of parsed arguments. */
const appOf = (values: { app?: unknown }): AppOption => ({ app: values.app as string | undefined });

/**
 * The app a one-app command acts for, among the installation's (`appIds`, in APPS_FILE's
 * order; `default` alone without it): the one --app names, or the only one there is. Several
 * apps and no --app, or an id no app has, stop the command before it opens a database.
 */
export function chooseApp(requested: string | undefined, appIds: readonly string[]): string {
  const known = appIds.join(', ');
  if (requested === undefined) {
    if (appIds.length === 1) return appIds[0]!;
    throw new AppChoiceError('APP_REQUIRED', `APP_REQUIRED: this installation serves several apps (${known}): name one with --app <id>`);
  }
  if (!appIds.includes(requested)) {
    throw new AppChoiceError('UNKNOWN_APP', `UNKNOWN_APP: --app ${JSON.stringify(requested)} names no app of this installation (its apps: ${known})`);
  }
  return requested;
}

function environmentOption(raw: string | undefined): ApiEnvironment | undefined {
  if (raw === undefined) return undefined;
  if (raw !== 'Production' && raw !== 'Sandbox') throw new UsageError(`--environment must be Production or Sandbox, got "${raw}"`);
  return raw;
}

export function parseCliArguments(argv: string[]): CliCommand {
  const [command, ...args] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      if (parse(command ?? 'help', args, {}).values.app !== undefined) throw new UsageError('help takes no --app');
      return { name: 'help' };
    case 'migrate': {
      // Migrates every app: an --app here would suggest the others were left alone.
      const { values } = parse(command, args, {});
      if (values.app !== undefined) throw new UsageError('migrate takes no --app: it migrates every app of APPS_FILE');
      return { name: 'migrate' };
    }
    case 'replay': {
      const { values } = parse(command, args, { reset: { type: 'boolean', default: false } });
      return { name: 'replay', reset: values.reset === true, ...appOf(values) };
    }
    case 'recover': {
      const { values } = parse(command, args, {
        start: { type: 'string' },
        end: { type: 'string' },
        'only-failures': { type: 'boolean', default: false },
      });
      if (typeof values.start !== 'string' || typeof values.end !== 'string') throw new UsageError('recover needs --start and --end');
      return { name: 'recover', start: values.start, end: values.end, onlyFailures: values['only-failures'] === true, ...appOf(values) };
    }
    case 'test-notification': {
      const { values } = parse(command, args, { environment: { type: 'string' }, wait: { type: 'string' } });
      const wait = values.wait as string | undefined;
      const waitSeconds = wait === undefined ? 0 : Number(wait);
      if (wait?.trim() === '' || !Number.isFinite(waitSeconds) || waitSeconds < 0) {
        throw new UsageError(`--wait must be a number of seconds, got "${wait}"`);
      }
      return { name: 'test-notification', environment: environmentOption(values.environment as string | undefined), waitSeconds, ...appOf(values) };
    }
    case 'test-notification-status': {
      const { values, positionals } = parse(command, args, { environment: { type: 'string' } }, ['token']);
      return {
        name: 'test-notification-status',
        token: positionals[0]!,
        environment: environmentOption(values.environment as string | undefined),
        ...appOf(values),
      };
    }
    case 'entitlements': {
      const { values, positionals } = parse(command, args, { refresh: { type: 'boolean', default: false } }, ['user id']);
      return { name: 'entitlements', userId: positionals[0]!, refresh: values.refresh === true, ...appOf(values) };
    }
    case 'restore': {
      const { values, positionals } = parse(command, args, {}, ['user id', 'transaction id']);
      const transactionId = positionals[1]!;
      if (!/^[0-9A-Za-z_-]{1,64}$/.test(transactionId)) throw new UsageError(`restore: "${transactionId}" is not a transaction id`);
      return { name: 'restore', userId: positionals[0]!, transactionId, ...appOf(values) };
    }
    case 'events': {
      const [sub, ...rest] = args;
      if (sub === 'redeliver') {
        const { values, positionals } = parse('events redeliver', rest, {}, ['event id']);
        return { name: 'events-redeliver', eventId: positionals[0]!, ...appOf(values) };
      }
      if (sub !== 'tail') throw new UsageError(`events needs a subcommand: tail or redeliver${sub === undefined ? '' : ` (got "${sub}")`}`);
      const { values } = parse('events tail', rest, { after: { type: 'string' }, 'from-start': { type: 'boolean', default: false } });
      const after = values.after as string | undefined;
      if (after !== undefined && !/^\d{1,15}$/.test(after)) throw new UsageError(`--after must be a cursor the feed handed out, got "${after}"`);
      if (after !== undefined && values['from-start'] === true) throw new UsageError('events tail takes --after or --from-start, not both');
      return { name: 'events-tail', after, fromStart: values['from-start'] === true, ...appOf(values) };
    }
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}
