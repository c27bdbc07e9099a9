// Full verification of a notification with its two nested JWS, on the same generated
// payloads in one run: (a) this verifier, (b) Apple's App Store Server Library, (c) the
// floor of three bare ECDSA verifications with pre-imported keys.
// Then the cost of a hostile request the verifier rejects (a stuffed x5c under the genuine
// root) next to a valid one and to merely reading a body of the same size.
//   npx tsx bench/verify/run.ts [notifications=200] [secondsPerCase=5]
import { verify as cryptoVerify, type KeyObject, X509Certificate } from 'node:crypto';
import os from 'node:os';
import { SignedDataVerifier as AppleVerifier, Environment } from '@apple/app-store-server-library';
import { createSignedDataVerifier, VerificationError } from '../../src/apple/verifier/index.js';
import { createBloatedCertificate, createTestPki, signNotification, type TestPki } from '../../test/helpers/pki.js';

const COUNT = Number(process.argv[2] ?? 200);
const SECONDS = Number(process.argv[3] ?? 5);
const ROUNDS = 10;
const BUNDLE_ID = 'com.example.bench';
const APP_APPLE_ID = 1234567890;

interface Case {
  name: string;
  /** Verifies notification `i` fully; returns something so the work cannot be skipped. */
  run(i: number): Promise<unknown> | unknown;
  /** Notifications one call verifies (1 unless it runs several concurrently). */
  weight?: number;
}

interface Tally {
  done: number;
  seconds: number;
}

/** Runs every notification through `c` until `seconds` have passed. */
async function runFor(c: Case, seconds: number, tally: Tally): Promise<void> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    const step = c.weight ?? 1;
    for (let i = 0; i < COUNT; i += step) {
      await c.run(i);
      tally.done += step;
    }
  }
  tally.seconds += Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Cases take turns in short slices, so that noise from the rest of the machine
 * (other processes, CPU frequency) falls on all of them alike.
 */
async function measureAll(cases: Case[]): Promise<Map<string, number>> {
  const tallies = new Map(cases.map((c) => [c.name, { done: 0, seconds: 0 }]));
  // Warm-up fills caches and lets the JIT settle before anything is timed.
  for (const c of cases) for (let i = 0; i < COUNT; i += c.weight ?? 1) await c.run(i);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const c of cases) await runFor(c, SECONDS / ROUNDS, tallies.get(c.name) as Tally);
  }
  return new Map([...tallies].map(([name, t]) => [name, t.done / t.seconds]));
}

function splitForFloor(jws: string, key: KeyObject) {
  const lastDot = jws.lastIndexOf('.');
  return {
    key,
    data: Buffer.from(jws.slice(0, lastDot)),
    signature: Buffer.from(jws.slice(lastDot + 1), 'base64url'),
  };
}

async function main() {
  const pki = await createTestPki();
  const notifications = Array.from({ length: COUNT }, (_, i) =>
    signNotification(pki, {
      notificationType: 'DID_RENEW',
      bundleId: BUNDLE_ID,
      appAppleId: APP_APPLE_ID,
      environment: 'Sandbox',
      signedDate: Date.parse('2025-06-01T12:00:00Z') + i * 1000,
      transaction: { transactionId: String(3_000_000_000 + i) },
    }),
  );
  const nested = notifications.map((n) => {
    const data = JSON.parse(Buffer.from(n.split('.')[1] ?? '', 'base64url').toString()).data;
    return { transaction: data.signedTransactionInfo as string, renewal: data.signedRenewalInfo as string };
  });

  const ours = createSignedDataVerifier({
    rootCertificates: [pki.rootDer],
    bundleId: BUNDLE_ID,
    appAppleId: APP_APPLE_ID,
    environments: ['Sandbox'],
    onlineChecks: false,
  });
  const offloaded = createSignedDataVerifier({
    rootCertificates: [pki.rootDer],
    bundleId: BUNDLE_ID,
    appAppleId: APP_APPLE_ID,
    environments: ['Sandbox'],
    onlineChecks: false,
    signatureChecks: 'thread-pool',
  });
  const apple = new AppleVerifier([pki.rootDer], false, Environment.SANDBOX, BUNDLE_ID, APP_APPLE_ID);
  const leafKey = new X509Certificate(pki.leafDer).publicKey;
  const floorInputs = notifications.map((n, i) => [
    splitForFloor(n, leafKey),
    splitForFloor(nested[i]?.transaction ?? '', leafKey),
    splitForFloor(nested[i]?.renewal ?? '', leafKey),
  ]);

  const cases: Case[] = [
    {
      name: 'this verifier (offline)',
      run: (i) => ours.verifyNotification(notifications[i] ?? ''),
    },
    {
      // As the service runs it: signatures on the libuv thread pool, 16 notifications in flight.
      name: 'this verifier, thread pool, 16 in flight',
      run: (i) => Promise.all(Array.from({ length: 16 }, (_, k) => offloaded.verifyNotification(notifications[(i + k) % COUNT] ?? ''))),
      weight: 16,
    },
    {
      name: 'Apple library (offline)',
      run: async (i) => {
        const n = await apple.verifyAndDecodeNotification(notifications[i] ?? '');
        const t = await apple.verifyAndDecodeTransaction(nested[i]?.transaction ?? '');
        const r = await apple.verifyAndDecodeRenewalInfo(nested[i]?.renewal ?? '');
        return [n, t, r];
      },
    },
    {
      name: 'floor: 3 bare crypto.verify',
      run: (i) => {
        for (const { key, data, signature } of floorInputs[i] ?? []) {
          if (!cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)) throw new Error('bad');
        }
      },
    },
  ];

  // Sanity: every case accepts every payload before anything is timed.
  for (const c of cases) await c.run(0);

  const measured = await measureAll(cases);
  const rates: Record<string, number> = Object.fromEntries(measured);
  const [oursName, , appleName, floorName] = cases.map((c) => c.name) as [string, string, string, string];
  const oursRate = rates[oursName] ?? 0;

  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${COUNT} notifications, ${SECONDS}s per case in ${ROUNDS} interleaved slices`,
  );
  console.log('| case | notifications/s | this verifier ÷ case |');
  console.log('|---|---:|---:|');
  for (const c of cases) {
    const rate = rates[c.name] ?? 0;
    console.log(`| ${c.name} | ${rate.toFixed(0)} | ${(oursRate / rate).toFixed(2)}× |`);
  }
  console.log(`\nspeed-up over Apple's library: ${(oursRate / (rates[appleName] ?? 1)).toFixed(1)}× (target ≥ 10×)`);
  console.log(`share of the bare-crypto floor: ${((100 * oursRate) / (rates[floorName] ?? 1)).toFixed(0)}% (target ≥ 75%)`);

  await rejections(pki, ours, notifications);
}

/** A JWS whose x5c is ['MIIB', <certificate stuffed with extensions>, <the genuine root>]. */
function hostileJws(pki: TestPki, stuffed: Buffer): string {
  return pki.sign({ signedDate: Date.parse('2025-06-01T12:00:00Z') }, { x5c: ['MIIB', stuffed.toString('base64'), pki.x5c[2]] });
}

async function rejections(pki: TestPki, verifier: ReturnType<typeof createSignedDataVerifier>, valid: string[]) {
  const reject = async (jws: string) => {
    try {
      await verifier.verifyNotification(jws);
    } catch (error) {
      if (error instanceof VerificationError) return error.code;
      throw error;
    }
    throw new Error('a hostile JWS was accepted');
  };
  // The attack: 108 KB of extensions, rejected now by size; and the largest
  // stuffed certificate under the 8 KB cap, which reaches the signature check.
  const big = hostileJws(pki, await createBloatedCertificate(7_200));
  const capped = hostileJws(pki, await createBloatedCertificate(500));
  const bigBody = JSON.stringify({ signedPayload: big });
  const cappedBody = JSON.stringify({ signedPayload: capped });
  const cases: Case[] = [
    { name: 'valid notification (3 JWS, chain cached)', run: (i) => verifier.verifyNotification(valid[i] ?? '') },
    { name: `hostile x5c, ${(big.length / 1024).toFixed(0)} KB JWS (stuffed intermediate, genuine root)`, run: () => reject(big) },
    { name: `read a body of the same size (JSON.parse, ${(bigBody.length / 1024).toFixed(0)} KB)`, run: () => JSON.parse(bigBody) },
    { name: `hostile x5c, ${(capped.length / 1024).toFixed(0)} KB JWS (stuffed intermediate under the cap)`, run: () => reject(capped) },
    { name: `read a body of the same size (JSON.parse, ${(cappedBody.length / 1024).toFixed(0)} KB)`, run: () => JSON.parse(cappedBody) },
  ];
  for (const c of cases) await c.run(0);
  console.log(`\nrejected: ${await reject(big)} (big), ${await reject(capped)} (under the cap)`);
  const measured = await measureAll(cases);
  console.log('| request | µs each |');
  console.log('|---|---:|');
  for (const c of cases) console.log(`| ${c.name} | ${(1e6 / (measured.get(c.name) ?? 1)).toFixed(1)} |`);
}

await main();
