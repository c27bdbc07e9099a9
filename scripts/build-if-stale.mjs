// Runs before `npm start` and the CLI scripts: compiles src/ into dist/ only when dist/
// is missing or older than the sources, so a start after the first one takes no compile
// (the build takes tens of seconds). In the Docker image src/ is absent and dist/ is
// what the image was built with: nothing to do.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = (...parts) => path.join(root, ...parts);

/** The newest modification time under a folder (files only), 0 when it is absent. */
function newest(folder) {
  if (!existsSync(folder)) return 0;
  let latest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

if (!existsSync(at('src'))) process.exit(0);

const inputs = Math.max(newest(at('src')), ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(at(f)).mtimeMs));
// The entry points are written on every build; the older of the two dates the build.
const outputs = ['dist/server.js', 'dist/cli.js'].map((f) => (existsSync(at(f)) ? statSync(at(f)).mtimeMs : 0));
if (Math.min(...outputs) >= inputs) process.exit(0);

process.stderr.write('Compiling src/ into dist/ (sources changed since the last build)\n');
const tsc = at('node_modules', 'typescript', 'bin', 'tsc');
const build = spawnSync(process.execPath, [tsc, '-p', at('tsconfig.build.json')], { stdio: 'inherit' });
process.exit(build.status ?? 1);
