import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../src/paths.js';

const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export interface RunOptions {
  /** The whole environment besides PATH: no stray settings from the developer's shell. */
  env: Record<string, string>;
  cwd: string;
  /** Its own process group (kill it with `process.kill(-pid)`), for a command that starts others. */
  detached?: boolean;
}

/** Runs `command` with `args`, its output (stdout and stderr together) kept for `output()`. */
export function runProcess(command: string, args: string[], options: RunOptions): RunningProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    detached: options.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Runs a TypeScript entry point of the project (e.g. src/server.ts) under tsx. */
export function runEntry(entry: string, options: RunOptions & { args?: string[]; nodeArgs?: string[] }): RunningProcess {
  return runProcess(process.execPath, [...(options.nodeArgs ?? []), '--import', tsxLoader, path.join(projectRoot, entry), ...(options.args ?? [])], options);
}

/** Runs the built service, dist/server.js (built by the test's global setup, or `npm run build`), as an operator does. */
export function runBuilt(options: RunOptions & { nodeArgs?: string[] }): RunningProcess {
  const entry = path.join(projectRoot, 'dist/server.js');
  if (!existsSync(entry)) throw new Error('dist/server.js is missing: run `npm run build` first');
  return runProcess(process.execPath, [...(options.nodeArgs ?? []), entry], options);
}

/** Polls `url` until it answers `status`, or fails after `timeoutMs`. */
export async function waitForStatus(url: string, status: number, timeoutMs = 60_000, process?: RunningProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (process && process.child.exitCode !== null) {
      throw new Error(`process exited with ${process.child.exitCode} before ${url} answered: ${process.output()}`);
    }
    try {
      const response = await fetch(url);
      if (response.status === status) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}
