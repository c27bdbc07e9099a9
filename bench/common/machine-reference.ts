// How fast this machine is right now, for work of two kinds. Its speed follows its host's
// load, and not evenly: a pure JavaScript loop may run at its usual speed while system
// calls (each request's read and write) cost twice theirs. A run that prints both can be
// compared with one of another day; req/s alone cannot.
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';

/** Milliseconds a fixed single-threaded loop takes right now. */
export function cpuReferenceMs(): number {
  const start = performance.now();
  let x = 0;
  for (let i = 0; i < 100_000_000; i++) x += i % 7;
  if (x < 0) throw new Error('unreachable');
  return performance.now() - start;
}

// A bare node:http server answering every request with the same 1 KB of JSON: what one
// Node process serves here with no framework, no database, nothing to compute.
const BARE_SERVER = `
const body = JSON.stringify({ entitlements: [{ id: 'x'.repeat(1000) }] });
const server = require('node:http').createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

/** Requests a second a bare node:http server answers, autocannon with `connections` on the same machine for `seconds`. */
export async function httpReferencePerSecond(seconds = 3, connections = 32): Promise<number> {
  const child = spawn(process.execPath, ['-e', BARE_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the reference server exited (${code})`)));
      child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: seconds });
    return result.requests.average;
  } finally {
    child.kill();
  }
}

/** Both references, as a benchmark's report line prints them. */
export async function machineReference(): Promise<{ cpuMs: number; httpPerSecond: number }> {
  const cpuMs = cpuReferenceMs();
  return { cpuMs, httpPerSecond: await httpReferencePerSecond() };
}
