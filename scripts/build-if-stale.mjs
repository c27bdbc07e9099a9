// Runs before `npm start`, the CLI scripts and the tests: compiles src/ into dist/ (and
// builds the console into dist/console) only when the output is missing or older than the
// sources, so a start after the first one takes no compile (the build takes tens of seconds). In the Docker image src/ is absent and dist/ is
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

const mtime = (file) => (existsSync(at(file)) ? statSync(at(file)).mtimeMs : 0);
const tsc = at('node_modules', 'typescript', 'bin', 'tsc');
const run = (...args) => spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root }).status ?? 1;

const inputs = Math.max(newest(at('src')), ...['tsconfig.json', 'tsconfig.build.json'].map(mtime));
// The entry points are written on every build; the older of the two dates the build.
if (Math.min(mtime('dist/server.js'), mtime('dist/cli.js')) < inputs) {
  process.stderr.write('Compiling src/ into dist/ (sources changed since the last build)\n');
  const status = run(tsc, '-p', at('tsconfig.build.json'));
  if (status !== 0) process.exit(status);
}

// The operator console (console/, built by Vite into dist/console); index.html is written on every build.
if (existsSync(at('console')) && mtime('dist/console/index.html') < newest(at('console'))) {
  process.stderr.write('Building the console into dist/console (console/ changed since the last build)\n');
  const status =
    run(tsc, '-p', at('console', 'tsconfig.json')) ||
    run(at('node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', at('console', 'vite.config.ts'), '--logLevel', 'warn');
  if (status !== 0) process.exit(status);
}
