import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { freePort, runEntry, runProcess, waitForStatus } from '../helpers/process.js';

/** Listens on 127.0.0.1:port; resolves to the server, or null when the port is taken. */
async function holdPort(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
const release = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

// The quick start as a newcomer runs it: `npm start` in the repository, then a plain
// `kill -TERM` on the process they started (what a supervisor or a terminal does).
describe('npm start', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'ase-start-'));
  const groups: number[] = [];
  afterAll(() => {
    // Whatever is left of the process groups this test started (an orphaned server).
    for (const group of groups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(workDir, { recursive: true, force: true });
  });

  // dist/ is built by the global setup; the embedded database is created here: slow on a loaded machine.
  it('serves, and a SIGTERM to the npm process stops the server and frees the port', { timeout: 240_000 }, async () => {
    const port = await freePort();
    const npm = runProcess('npm', ['start'], {
      cwd: projectRoot,
      env: {
        HOME: process.env.HOME ?? workDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: path.join(workDir, 'data'),
        APPLE_BUNDLE_ID: 'com.example.app',
        API_KEYS: 'start-test-key-0123456789',
        LOG_LEVEL: 'info',
      },
      detached: true,
    });
    groups.push(npm.child.pid!);

    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 200_000);
    npm.child.kill('SIGTERM');
    await npm.exited;

    // The server is gone with npm: its port can be taken again.
    let held: Server | null = null;
    for (let attempt = 0; attempt < 50 && held === null; attempt++) {
      held = await holdPort(port);
      if (held === null) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(held, `port ${port} still in use after npm exited:\n${npm.output()}`).not.toBeNull();
    await release(held!);
    expect(npm.output()).toContain('shutdown complete');
  });
});

describe('a port in use', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'ase-port-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('stops the server with one line naming PORT, not a stack trace', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const taken = await holdPort(port);
    expect(taken).not.toBeNull();
    try {
      const run = runEntry('src/server.ts', {
        cwd: workDir,
        env: {
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: path.join(workDir, 'data'),
          APPLE_BUNDLE_ID: 'com.example.app',
          API_KEYS: 'port-test-key-0123456789',
          LOG_LEVEL: 'error',
        },
      });
      const code = await run.exited;
      expect(code).toBe(1);
      const lines = run.output().trim().split('\n');
      expect(lines, run.output()).toEqual([`Cannot start: PORT ${port} is already in use on 127.0.0.1: stop the other process or set PORT to a free port`]);
    } finally {
      await release(taken!);
    }
  });
});
