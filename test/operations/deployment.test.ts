import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SECRET_SETTINGS } from '../../src/load-config.js';
import { projectRoot } from '../../src/paths.js';

const composeAvailable = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

/** The block of one service in `docker-compose config` output (two-space indented keys). */
function serviceBlock(config: string, name: string): string {
  const start = config.indexOf(`\n  ${name}:\n`);
  expect(start, `service ${name}`).toBeGreaterThanOrEqual(0);
  const rest = config.slice(start + 1);
  const next = rest.slice(3).search(/\n {2}[a-z]/);
  return next === -1 ? rest : rest.slice(0, next + 3);
}

describe('the container image', () => {
  const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('runs as a non-root user with a health check', () => {
    expect(runtimeStage).toMatch(/\nUSER node\n/);
    expect(runtimeStage).toMatch(/\nHEALTHCHECK /);
    expect(runtimeStage).not.toMatch(/\nUSER root/);
  });

  it('leaves the application files owned by root so the service cannot rewrite them', () => {
    for (const line of runtimeStage.split('\n').filter((l) => l.startsWith('COPY --from=build'))) {
      expect(line).toContain('--chown=root:root');
    }
  });
});

describe.skipIf(!composeAvailable)('the compose file (skipped when docker-compose is not installed)', () => {
  const config = composeAvailable ? execFileSync('docker-compose', ['--profile', 'redis', 'config'], { cwd: projectRoot, encoding: 'utf8' }) : '';

  it('runs the service read-only with a writable /tmp, a health check and a restart policy', () => {
    const app = serviceBlock(config, 'app');
    expect(app).toMatch(/read_only: true/);
    expect(app).toMatch(/tmpfs:\n\s+- \/tmp/);
    expect(app).toMatch(/healthcheck:/);
    expect(app).toMatch(/restart: unless-stopped/);
    expect(app).toMatch(/condition: service_healthy/);
  });

  it('mounts the config folder read-only and makes the secrets the file settings read', () => {
    const app = serviceBlock(config, 'app');
    expect(app).toMatch(/\/config:\/config:ro/);
    expect(app).toMatch(/secrets:\n\s+- source: api_keys\n\s+- source: apple_private_key/);
    expect(config).toMatch(/(?:^|\n)secrets:\n {2}api_keys:\n {4}file: \S+\/config\/secrets\/api_keys\n/);
    expect(config).toMatch(/\n {2}apple_private_key:\n {4}file: \S+\/config\/secrets\/apple_private_key\.p8\n/);
  });

  it("gives .env.example's file settings paths that exist inside the container", () => {
    const example = readFileSync(path.join(projectRoot, '.env.example'), 'utf8');
    const samples = [...example.matchAll(/^#? ?((?:\w+_FILE)|APPLE_ROOT_CERTS)=(\S+)$/gm)].map(([, name, value]) => ({ name, value }));
    expect(samples.map(({ name }) => name)).toEqual(expect.arrayContaining(['APPLE_ROOT_CERTS', 'APPLE_PRIVATE_KEY_FILE', 'ENTITLEMENTS_FILE']));
    const secrets = [...config.matchAll(/\n {2}(\w+):\n {4}file: /g)].map(([, name]) => name);
    for (const { name, value } of samples) {
      const inside = value!.startsWith('/config/') || secrets.some((secret) => value === `/run/secrets/${secret}`);
      expect(inside, `${name}=${value}`).toBe(true);
    }
  });

  it('passes every setting .env.example names, and each secret file setting, on to the service', () => {
    const example = readFileSync(path.join(projectRoot, '.env.example'), 'utf8');
    const composeOnly = example.slice(example.indexOf('# --- docker compose only'));
    const named = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map(([, name]) => name!);
    // Set by the compose file itself, its own settings, or the embedded database's (not used here).
    const notPassed = new Set(['PORT', 'HOST', 'DATABASE_URL', 'DATABASE_URL_FILE', 'DATA_DIR', 'NAME_FILE']);
    const settings = [...named, ...SECRET_SETTINGS.map((name) => `${name}_FILE`)].filter(
      (name) => !notPassed.has(name) && !composeOnly.includes(`# ${name}=`) && !composeOnly.includes(`\n${name}=`),
    );
    expect(settings).toEqual(expect.arrayContaining(['WORKERS', 'EVENTS_WEBHOOK_URLS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'METRICS_TOKEN_FILE']));
    const app = serviceBlock(config, 'app');
    const environment = app.slice(app.indexOf('\n    environment:\n'));
    const passed = new Set([...environment.matchAll(/\n {6}([A-Z][A-Z0-9_]+):/g)].map(([, name]) => name));
    expect(settings.filter((name) => !passed.has(name))).toEqual([]);
    expect(environment).toMatch(/\n {6}DATABASE_URL: postgres:\/\/entitlements:\S+@postgres:5432\/entitlements\n/);
  });

  it('keeps PostgreSQL data in a named volume', () => {
    expect(serviceBlock(config, 'postgres')).toMatch(/- pgdata:\/var\/lib\/postgresql\/data/);
    expect(config).toMatch(/\nvolumes:\n {2}pgdata:/);
  });
});
