// The service as a process of its own, as an operator runs it (src/server.ts under tsx, or
// the built dist/server.js): for the tests that kill and restart it, and for the
// benchmarks (bench/common/service.ts), which measure it from outside.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, type RunningProcess, runBuilt, runEntry, waitForStatus } from './process.js';

export interface ServiceProcessOptions {
  /** DER of the root the service trusts (written to the work directory for APPLE_ROOT_CERTS). */
  rootDer: Uint8Array;
  /** Settings over the defaults (HOST, no online checks, LOG_LEVEL=warn, no recovery job, no webhook rate limit, DATA_DIR in the work directory). */
  env: Record<string, string>;
  /** Run dist/server.js instead of src/server.ts under tsx. */
  dist?: boolean;
  /** Extra node flags (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  /** How long each start may take to answer /readyz 200. */
  readyTimeoutMs?: number;
  /** Prefix of the temporary work directory's name. */
  workDirPrefix?: string;
}

/** One port and one work directory, the service started there once or again after a kill. */
export interface ServiceProcess {
  baseUrl: string;
  workDir: string;
  /** Starts the service and waits until /readyz answers 200; failing that, throws with its output. */
  start(): Promise<RunningProcess>;
  /**
   * Sends `signal` to every start still running (SIGKILL after 20 s if it has not exited by
   * then), waits for them to exit and removes the work directory.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function prepareServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const workDir = mkdtempSync(path.join(tmpdir(), options.workDirPrefix ?? 'ase-service-'));
  const rootFile = path.join(workDir, 'root.der');
  writeFileSync(rootFile, options.rootDer);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    APPLE_ROOT_CERTS: rootFile,
    APPLE_ONLINE_CHECKS: 'false',
    LOG_LEVEL: 'warn',
    RECOVERY_INTERVAL: '0',
    RATE_LIMIT_WEBHOOK_PER_MINUTE: '0',
    DATA_DIR: path.join(workDir, 'data'),
    ...options.env,
  };
  const started: RunningProcess[] = [];
  return {
    baseUrl,
    workDir,
    async start() {
      const run = { env, cwd: workDir, nodeArgs: options.nodeArgs };
      const service = options.dist ? runBuilt(run) : runEntry('src/server.ts', run);
      started.push(service);
      await waitForStatus(`${baseUrl}/readyz`, 200, options.readyTimeoutMs ?? 120_000, service);
      return service;
    },
    async stop(signal = 'SIGKILL') {
      const running = started.filter((service) => service.child.exitCode === null && service.child.signalCode === null);
      for (const service of running) service.child.kill(signal);
      const timer = setTimeout(() => {
        for (const service of running) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
      }, 20_000);
      await Promise.all(started.map((service) => service.exited));
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
