// A throwaway PostgreSQL cluster of the benchmark's own (initdb in a temp directory, its
// own port), for runs with server settings the shared server on 5432 does not have and
// must not be restarted for. Run as root, the server runs as the `postgres` user.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/process.js';

export interface OwnCluster {
  /** URL of its `postgres` database. */
  url: string;
  settings: Record<string, string>;
  stop(): void;
}

function binDir(): string {
  try {
    return execFileSync('pg_config', ['--bindir']).toString().trim();
  } catch {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    if (versions[0] === undefined) throw new Error('no PostgreSQL installation found (pg_config, /usr/lib/postgresql)');
    return `/usr/lib/postgresql/${versions[0]}/bin`;
  }
}

export async function startOwnCluster(settings: Record<string, string>): Promise<OwnCluster> {
  const bin = binDir();
  if (!existsSync(path.join(bin, 'initdb'))) throw new Error(`initdb not found in ${bin}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ase-bench-pg-'));
  chmodSync(dir, 0o700);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    const result = spawnSync(file, argv, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
  };
  const data = path.join(dir, 'data');
  const port = await freePort();
  run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const options = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)];
  run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options.join(' '), '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    settings,
    stop() {
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Settings as a benchmark's report names them: `KEY=VALUE, KEY=VALUE`. */
export function settingsText(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/** `KEY=VALUE` from the command line (an --env or --own-cluster argument) as [key, value]. */
export function keyValue(pair: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`expected KEY=VALUE, got ${pair}`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}
