import { execFileSync } from 'node:child_process';
import { type Browser, chromium } from 'playwright-core';

// Debian's chromium, headless, for the tests of pages the service serves (/docs, /console/).
// The npm registry's browser downloads do not work here: playwright-core drives the system's.

/** chromium's path, or '' when it is not installed (apt-get install chromium; .ci/run installs it). */
export const chromiumPath = (() => {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();

/**
 * Whether a browser test file runs: always when chromium is there; without it, a local run
 * skips (saying why) but CI fails, so a CI machine without chromium is never a silent pass.
 */
export const skipBrowserTests = chromiumPath === '' && process.env.CI !== 'true';
if (skipBrowserTests) process.stderr.write('browser tests skipped: chromium is not installed (apt-get install chromium)\n');

export function launchChromium(): Promise<Browser> {
  if (chromiumPath === '') throw new Error('chromium is not on PATH (apt-get install chromium; .ci/run installs it)');
  return chromium.launch({
    executablePath: chromiumPath,
    // Without the background-networking flags chromium keeps dialling Google's hosts, which this machine's closed network refuses.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
