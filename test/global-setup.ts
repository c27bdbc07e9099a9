import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../src/paths.js';

// Tests that run the compiled service (npm start, the image's file tree) need dist/ to
// match src/. Built once here, before any test file starts, so two files never compile
// into dist/ at the same time; a no-op when dist/ is already up to date.
export default function setup(): void {
  execFileSync(process.execPath, [path.join(projectRoot, 'scripts', 'build-if-stale.mjs')], { stdio: 'inherit' });
}
