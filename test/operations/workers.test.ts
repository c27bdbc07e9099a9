import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { freePort, type RunningProcess, runBuilt, waitForStatus } from '../helpers/process.js';

// WORKERS (SPEC): the built service (dist/, built by the global setup) started as an
// operator starts it, with node:cluster workers behind one port.

function startBuilt(env: Record<string, string>): RunningProcess {
  return runBuilt({ cwd: projectRoot, env: { HOST: '127.0.0.1', APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'workers-test-key-0123456789', ...env } });
}

const logLines = (output: string): Array<Record<string, unknown>> =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function until<T>(read: () => T | undefined, what: string, service: RunningProcess, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${service.output()}`);
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Opens a connection, has /healthz answered on it, and keeps it open. */
async function answeredConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('\r\n\r\n')) resolve();
    });
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
  return socket;
}

/** The pids among `pids` that hold the server end of a connection from one of `clientPorts` (Linux /proc). */
function pidsServing(pids: number[], serverPort: number, clientPorts: number[]): Set<number> {
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const localPort = Number.parseInt(fields[1]!.split(':')[1]!, 16);
    const remotePort = Number.parseInt(fields[2]!.split(':')[1]!, 16);
    if (localPort === serverPort && clientPorts.includes(remotePort)) inodes.add(fields[9]!);
  }
  const serving = new Set<number>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match && inodes.has(match[1]!)) serving.add(pid);
    }
  }
  return serving;
}

const requestCount = (metrics: string, route: string, status: number): number => {
  const pattern = new RegExp(
    `^ase_http_request_duration_seconds_count\\{[^}]*route="${route.replace(/[/:]/g, '\\$&')}"[^}]*status="${status}"[^}]*\\} (\\d+)$`,
    'm',
  );
  const match = pattern.exec(metrics);
  return match ? Number(match[1]) : 0;
};

describe.skipIf(!testDatabaseUrl)('WORKERS=2 on PostgreSQL', () => {
  let database: TestDatabase;
  let service: RunningProcess;
  let port: number;
  const workerPids: number[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    port = await freePort();
    service = startBuilt({ PORT: String(port), DATABASE_URL: database.url!, WORKERS: '2', LOG_LEVEL: 'info', RATE_LIMIT_PROBE_PER_MINUTE: '0' });
    const ready = await until(
      () => logLines(service.output()).find((line) => line.msg === 'every worker is listening'),
      'both workers listening',
      service,
      200_000,
    );
    workerPids.push(...(ready.pids as number[]));
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 60_000);
  }, 240_000);

  afterAll(async () => {
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGKILL');
      for (const pid of workerPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await database?.destroy();
  });

  it('runs two worker processes besides the primary, and both answer on the one port', { timeout: 60_000 }, async () => {
    expect(workerPids).toHaveLength(2);
    expect(new Set(workerPids).size).toBe(2);
    expect(workerPids).not.toContain(service.child.pid);
    // The primary hands new connections to the workers in turn: four connections reach both.
    const sockets = await Promise.all([0, 1, 2, 3].map(() => answeredConnection(port)));
    try {
      const serving = pidsServing(
        workerPids,
        port,
        sockets.map((socket) => socket.localPort!),
      );
      expect([...serving].sort()).toEqual([...workerPids].sort());
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('answers /metrics with every worker counted, whichever worker takes the scrape', { timeout: 60_000 }, async () => {
    const requests = 10;
    for (let index = 0; index < requests; index++) {
      // A fresh connection each time, so the requests are spread over both workers. On a
      // loaded machine a worker may shed with 503 UNDER_PRESSURE: retried (only 401s are counted).
      let status = 0;
      for (let attempt = 0; attempt < 30 && status !== 401; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500));
        const response = await fetch(`http://127.0.0.1:${port}/entitlements/someone`, {
          headers: { authorization: 'Bearer not-a-valid-key-0123456789', connection: 'close' },
        });
        status = response.status;
        const body = await response.text();
        if (status !== 401) expect(body).toContain('UNDER_PRESSURE');
      }
      expect(status).toBe(401);
    }
    for (let scrape = 0; scrape < 4; scrape++) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
      expect(response.status).toBe(200);
      expect(requestCount(await response.text(), '/entitlements/:userId', 401)).toBe(requests);
    }
  });

  it('restarts a worker that dies, with a log line, and keeps serving', { timeout: 120_000 }, async () => {
    const victim = workerPids[0]!;
    process.kill(victim, 'SIGKILL');
    const restarted = await until(
      () => logLines(service.output()).find((line) => line.msg === 'worker exited unexpectedly; starting a new one' && line.pid === victim),
      'the restart log line',
      service,
    );
    expect(restarted.signal).toBe('SIGKILL');
    // The replacement reports in; the service answers throughout on the surviving worker.
    await until(
      () => (logLines(service.output()).filter((line) => line.msg === 'App Store Entitlements is listening').length >= 3 ? true : undefined),
      'the new worker',
      service,
    );
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    workerPids.splice(0, 1);
    const latest = logLines(service.output()).filter((line) => line.msg === 'App Store Entitlements is listening');
    expect(latest.at(-1)?.worker).toBe(3);
  });

  it('drains every worker on SIGTERM to the primary, and exits 0', { timeout: 120_000 }, async () => {
    const before = logLines(service.output()).filter((line) => line.msg === 'shutdown complete').length;
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    const lines = logLines(service.output());
    expect(lines.filter((line) => line.msg === 'shutdown complete').length - before).toBe(2);
    expect(lines.some((line) => line.msg === 'shutdown complete: every worker has exited')).toBe(true);
    for (const pid of workerPids) expect(isAlive(pid)).toBe(false);
  });
});

describe('WORKERS on embedded PGlite', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'ase-workers-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('serves from one process and says so in the log', { timeout: 240_000 }, async () => {
    const port = await freePort();
    const service = startBuilt({ PORT: String(port), DATA_DIR: path.join(workDir, 'data'), WORKERS: '2', LOG_LEVEL: 'info' });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 200_000);
      const lines = logLines(service.output());
      expect(lines.some((line) => typeof line.msg === 'string' && line.msg.startsWith('embedded PGlite: one process serves PORT'))).toBe(true);
      expect(lines.some((line) => line.msg === 'starting workers')).toBe(false);
      expect(existsSync(path.join(workDir, 'data'))).toBe(true);
    } finally {
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
    }
  });
});
