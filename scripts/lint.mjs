// `npm run lint`: Biome's check (lint rules, formatting, import order) over everything
// biome.jsonc includes, failing on any finding. Biome's own exit status counts errors and,
// with --error-on-warnings, warnings; several recommended rules report at "info" level,
// so the run's JSON summary is read as well and an info fails it too (Biome calls that
// reporter experimental; it is pinned to one version, and a summary without a count fails).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
const dir = mkdtempSync(path.join(os.tmpdir(), 'lint-'));
const summaryFile = path.join(dir, 'summary.json');

try {
  const args = ['check', '--error-on-warnings', '--max-diagnostics=none', '--reporter=default', '--reporter=json', `--reporter-file=${summaryFile}`, '.'];
  const run = spawnSync(process.execPath, [biome, ...args], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  const infos = JSON.parse(readFileSync(summaryFile, 'utf8')).summary?.infos;
  if (typeof infos !== 'number') throw new Error(`no info count in Biome's JSON summary (${summaryFile})`);
  if (infos > 0) {
    process.stderr.write(`lint: ${infos} info-level finding(s) above; fix them or turn the rule off in biome.jsonc with a reason\n`);
    process.exit(1);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
