import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { createEmptyDatabase } from '../helpers/database.js';

const run = promisify(execFile);

// The Docker image's file tree, built the way the Dockerfile builds it (no Docker here):
// its runtime stage's COPY lines are read from the Dockerfile itself, so the two stay in
// sync. The build stage's node_modules is `npm ci` then `npm prune --omit=dev`, which is
// what `npm ci --omit=dev` gives; its dist/ is this checkout's build (global setup).
const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/\n(?=FROM )/);
const buildStage = stages.find((stage) => / AS build\n/.test(stage)) ?? '';
const runtimeStage = stages[stages.length - 1]!;

interface CopyLine {
  fromBuild: boolean;
  sources: string[];
  destination: string;
}

function copyLines(stage: string): CopyLine[] {
  return stage
    .split('\n')
    .filter((line) => line.startsWith('COPY '))
    .map((line) => {
      const words = line.split(/\s+/).slice(1);
      const fromBuild = words.some((word) => word === '--from=build');
      const paths = words.filter((word) => !word.startsWith('--'));
      return { fromBuild, sources: paths.slice(0, -1), destination: paths[paths.length - 1]! };
    });
}

function buildImageTree(into: string): void {
  for (const { fromBuild, sources, destination } of copyLines(runtimeStage)) {
    for (const source of sources) {
      // Everything the build stage produces lives under /app; node_modules is made below.
      const relative = fromBuild ? path.relative('/app', source) : source;
      if (relative === 'node_modules') continue;
      const target = destination.endsWith('/') ? path.join(into, destination, path.basename(relative)) : path.join(into, destination);
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(path.join(projectRoot, relative), target, { recursive: true });
    }
  }
}

describe("the Docker image's file tree", () => {
  const tree = mkdtempSync(path.join(tmpdir(), 'ase-image-'));
  let database: Awaited<ReturnType<typeof createEmptyDatabase>>;

  beforeAll(async () => {
    expect(buildStage, 'the Dockerfile has a build stage').toMatch(/npm prune --omit=dev/);
    buildImageTree(tree);
    cpSync(path.join(projectRoot, 'package-lock.json'), path.join(tree, 'package-lock.json'));
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], { cwd: tree });
    rmSync(path.join(tree, 'package-lock.json'));
    database = await createEmptyDatabase();
  }, 300_000);
  afterAll(async () => {
    await database?.drop();
    rmSync(tree, { recursive: true, force: true });
  });

  const npmRun = (args: string[], env: Record<string, string> = {}) =>
    run('npm', ['run', '--silent', ...args], {
      cwd: tree,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tree, NODE_ENV: 'production', ...env },
    });

  it('has the compiled service, the built console and production dependencies only, no sources', () => {
    expect(existsSync(path.join(tree, 'dist', 'cli.js'))).toBe(true);
    expect(existsSync(path.join(tree, 'dist', 'server.js'))).toBe(true);
    expect(existsSync(path.join(tree, 'dist', 'console', 'index.html'))).toBe(true);
    expect(existsSync(path.join(tree, 'console'))).toBe(false);
    expect(existsSync(path.join(tree, 'node_modules', 'vite'))).toBe(false);
    expect(existsSync(path.join(tree, 'migrations'))).toBe(true);
    expect(existsSync(path.join(tree, 'src'))).toBe(false);
    expect(existsSync(path.join(tree, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(path.join(tree, 'node_modules', 'typescript'))).toBe(false);
  });

  it('runs the CLI with npm run cli', async () => {
    const { stdout } = await npmRun(['cli', '--', '--help']);
    expect(stdout).toContain('Usage: npm run cli -- <command>');
  });

  it('applies the migrations with npm run db:migrate', { timeout: 120_000 }, async () => {
    const env: Record<string, string> = database.url ? { DATABASE_URL: database.url } : { DATA_DIR: path.join(tree, 'data') };
    const { stdout } = await npmRun(['db:migrate'], env);
    expect(stdout).toMatch(/Migrations applied to (PostgreSQL|embedded database)/);
  });
});
