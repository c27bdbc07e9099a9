// Starts the real service as its own process for a benchmark, on a fresh PostgreSQL
// database of the benchmark's own, and stops it afterwards.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { projectRoot } from '../../src/paths.js';
import { freePort, type RunningProcess, waitForStatus } from '../../test/helpers/process.js';

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(serverUrl = DEFAULT_SERVER_URL): Promise<BenchDatabase> {
  const name = `ase_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface StartedService {
  baseUrl: string;
  process: RunningProcess;
  stop(): Promise<void>;
}

export interface StartServiceOptions {
  databaseUrl: string;
  /** DER of the root the service must trust (written to a temp file for APPLE_ROOT_CERTS). */
  rootDer: Uint8Array;
  env: Record<string, string>;
  /** Run the compiled dist/server.js with node instead of src/server.ts under tsx. */
  dist?: boolean;
  /** Extra node flags (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
}

export async function startService(options: StartServiceOptions): Promise<StartedService> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'ase-bench-'));
  const rootFile = path.join(workDir, 'root.der');
  writeFileSync(rootFile, options.rootDer);
  const port = await freePort();
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl,
    APPLE_ROOT_CERTS: rootFile,
    APPLE_ONLINE_CHECKS: 'false',
    LOG_LEVEL: 'warn',
    RECOVERY_INTERVAL: '0',
    RATE_LIMIT_WEBHOOK_PER_MINUTE: '0',
    DATA_DIR: path.join(workDir, 'data'),
    ...options.env,
  };
  let args: string[];
  if (options.dist) {
    const entry = path.join(projectRoot, 'dist/server.js');
    if (!existsSync(entry)) throw new Error('dist/server.js is missing: run `npm run build` first');
    args = [entry];
  } else {
    const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;
    args = ['--import', tsxLoader, path.join(projectRoot, 'src/server.ts')];
  }
  const service = spawnNode([...(options.nodeArgs ?? []), ...args], env, workDir);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    // WORKERS: each worker starts its own copy of the service, which takes a while on a loaded machine.
    await waitForStatus(`${baseUrl}/readyz`, 200, 240_000, service);
  } catch (error) {
    // Not left running behind a failed benchmark (with WORKERS, SIGTERM stops the workers too).
    service.child.kill('SIGTERM');
    throw error;
  }
  return {
    baseUrl,
    process: service,
    async stop() {
      if (service.child.exitCode === null) service.child.kill('SIGTERM');
      const timer = setTimeout(() => service.child.kill('SIGKILL'), 20_000);
      await service.exited;
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

function spawnNode(args: string[], env: Record<string, string>, cwd: string): RunningProcess {
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code: number | null) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The machine a result was measured on. */
export async function machineDescription(serverUrl = DEFAULT_SERVER_URL): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  let postgres = 'unknown';
  try {
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    postgres = rows[0]?.server_version ?? postgres;
  } finally {
    await client.end();
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc').toString().trim();
  } catch {
    // nproc missing: keep Node's count
  }
  return `${nproc} cores (${cpu}), Node ${process.version}, PostgreSQL ${postgres}, ${new Date().toISOString()}`;
}
