// Starts the real service as its own process for a benchmark (on a database of the
// benchmark's own: database.ts), and stops it afterwards.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { withClient } from '../../test/helpers/database.js';
import type { RunningProcess } from '../../test/helpers/process.js';
import { prepareServiceProcess } from '../../test/helpers/service-process.js';
import { DEFAULT_SERVER_URL } from './database.js';

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
  const service = await prepareServiceProcess({
    rootDer: options.rootDer,
    env: { DATABASE_URL: options.databaseUrl, ...options.env },
    dist: options.dist,
    nodeArgs: options.nodeArgs,
    // WORKERS: each worker starts its own copy of the service, which takes a while on a loaded machine.
    readyTimeoutMs: 240_000,
    workDirPrefix: 'ase-bench-',
  });
  // SIGTERM, not SIGKILL: with WORKERS, the primary stops its workers too.
  const stop = () => service.stop('SIGTERM');
  try {
    return { baseUrl: service.baseUrl, process: await service.start(), stop };
  } catch (error) {
    // Not left running behind a failed benchmark.
    await stop();
    throw error;
  }
}

/** The machine a result was measured on. */
export async function machineDescription(serverUrl = DEFAULT_SERVER_URL): Promise<string> {
  const postgres = await withClient(serverUrl, async (client) => {
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return rows[0]?.server_version ?? 'unknown';
  });
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc').toString().trim();
  } catch {
    // nproc missing: keep Node's count
  }
  return `${nproc} cores (${cpu}), Node ${process.version}, PostgreSQL ${postgres}, ${new Date().toISOString()}`;
}
