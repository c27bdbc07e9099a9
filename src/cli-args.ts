import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ApiEnvironment } from './apple/api/index.js';

// The CLI's arguments, checked in full before any setting is read or any database is
// opened: a mistyped command exits 2 with the usage, whatever the configuration says.

export class UsageError extends Error {}

export type CliCommand =
  | { name: 'help' }
  | { name: 'migrate' }
  | { name: 'replay'; reset: boolean }
  | { name: 'recover'; start: string; end: string; onlyFailures: boolean }
  | { name: 'test-notification'; environment: ApiEnvironment | undefined; waitSeconds: number }
  | { name: 'test-notification-status'; token: string; environment: ApiEnvironment | undefined }
  | { name: 'entitlements'; userId: string; refresh: boolean }
  | { name: 'restore'; userId: string; transactionId: string }
  | { name: 'events-redeliver'; eventId: string }
  | { name: 'events-tail'; after: string | undefined; fromStart: boolean };

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, its errors (unknown option, missing value) as usage errors. */
function parse<T extends Options>(command: string, args: string[], options: T, positionals: string[] = []) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: positionals.length > 0, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  if (parsed.positionals.length > positionals.length) {
    const extra = parsed.positionals.slice(positionals.length).join(' ');
    throw new UsageError(`${command}: unexpected argument${parsed.positionals.length - positionals.length > 1 ? 's' : ''} "${extra}"`);
  }
  const missing = positionals.slice(parsed.positionals.length);
  if (missing.length > 0) throw new UsageError(`${command} needs the ${missing.join(' and the ')}`);
  return parsed;
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
      parse(command ?? 'help', args, {});
      return { name: 'help' };
    case 'migrate':
      parse(command, args, {});
      return { name: 'migrate' };
    case 'replay': {
      const { values } = parse(command, args, { reset: { type: 'boolean', default: false } });
      return { name: 'replay', reset: values.reset === true };
    }
    case 'recover': {
      const { values } = parse(command, args, {
        start: { type: 'string' },
        end: { type: 'string' },
        'only-failures': { type: 'boolean', default: false },
      });
      if (typeof values.start !== 'string' || typeof values.end !== 'string') throw new UsageError('recover needs --start and --end');
      return { name: 'recover', start: values.start, end: values.end, onlyFailures: values['only-failures'] === true };
    }
    case 'test-notification': {
      const { values } = parse(command, args, { environment: { type: 'string' }, wait: { type: 'string' } });
      const wait = values.wait as string | undefined;
      const waitSeconds = wait === undefined ? 0 : Number(wait);
      if (wait?.trim() === '' || !Number.isFinite(waitSeconds) || waitSeconds < 0) {
        throw new UsageError(`--wait must be a number of seconds, got "${wait}"`);
      }
      return { name: 'test-notification', environment: environmentOption(values.environment as string | undefined), waitSeconds };
    }
    case 'test-notification-status': {
      const { values, positionals } = parse(command, args, { environment: { type: 'string' } }, ['token']);
      return { name: 'test-notification-status', token: positionals[0]!, environment: environmentOption(values.environment as string | undefined) };
    }
    case 'entitlements': {
      const { values, positionals } = parse(command, args, { refresh: { type: 'boolean', default: false } }, ['user id']);
      return { name: 'entitlements', userId: positionals[0]!, refresh: values.refresh === true };
    }
    case 'restore': {
      const { positionals } = parse(command, args, {}, ['user id', 'transaction id']);
      const transactionId = positionals[1]!;
      if (!/^[0-9A-Za-z_-]{1,64}$/.test(transactionId)) throw new UsageError(`restore: "${transactionId}" is not a transaction id`);
      return { name: 'restore', userId: positionals[0]!, transactionId };
    }
    case 'events': {
      const [sub, ...rest] = args;
      if (sub === 'redeliver') {
        const { positionals } = parse('events redeliver', rest, {}, ['event id']);
        return { name: 'events-redeliver', eventId: positionals[0]! };
      }
      if (sub !== 'tail') throw new UsageError(`events needs a subcommand: tail or redeliver${sub === undefined ? '' : ` (got "${sub}")`}`);
      const { values } = parse('events tail', rest, { after: { type: 'string' }, 'from-start': { type: 'boolean', default: false } });
      const after = values.after as string | undefined;
      if (after !== undefined && !/^\d{1,15}$/.test(after)) throw new UsageError(`--after must be a cursor the feed handed out, got "${after}"`);
      if (after !== undefined && values['from-start'] === true) throw new UsageError('events tail takes --after or --from-start, not both');
      return { name: 'events-tail', after, fromStart: values['from-start'] === true };
    }
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}
