import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignatureWorker, type SignatureWorker } from '../../../src/apple/verifier/signature-worker.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { runEntry } from '../../helpers/process.js';
import { codeOf, transaction, verifierFor } from './support.js';

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const es256 = (privateKey: ReturnType<typeof keyPair>['privateKey'], data: Buffer) => sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });

describe('signature checks on a worker thread', () => {
  let worker: SignatureWorker;
  beforeAll(() => {
    worker = createSignatureWorker();
  });
  afterAll(async () => worker?.close());

  it('answers each of many checks asked for together with its own result', async () => {
    const [a, b] = [keyPair(), keyPair()];
    const cases = Array.from({ length: 120 }, (_, i) => {
      const data = Buffer.from(`signing input ${i}`);
      const signer = i % 2 === 0 ? a : b;
      const signature = es256(signer.privateKey, data);
      // Every third check is against the other key, every fifth over altered data.
      const key = i % 3 === 0 ? (signer === a ? b : a).publicKey : signer.publicKey;
      const checked = i % 5 === 0 ? Buffer.from(`signing input ${i}!`) : data;
      return { key, data: checked, signature, expected: i % 3 !== 0 && i % 5 !== 0 };
    });
    const results = await Promise.all(cases.map((c) => worker.verify(c.key, c.data, c.signature)));
    expect(results).toEqual(cases.map((c) => c.expected));
  });

  it('keeps answering, inline, once the worker is gone', async () => {
    const gone = createSignatureWorker();
    await gone.close();
    const { privateKey, publicKey } = keyPair();
    const data = Buffer.from('after the worker');
    expect(await gone.verify(publicKey, data, es256(privateKey, data))).toBe(true);
    expect(await gone.verify(publicKey, Buffer.from('other'), es256(privateKey, data))).toBe(false);
  });
});

describe('an idle signature worker', () => {
  it('does not keep the process alive', { timeout: 60_000 }, async () => {
    const run = runEntry('test/fixtures/signature-worker-exit.ts', { cwd: process.cwd(), env: {} });
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
    const code = await run.exited;
    clearTimeout(timer);
    expect({ code, output: run.output().trim() }).toEqual({ code: 0, output: 'verified: true' });
  });
});

describe("a verifier with signatureChecks: 'worker'", () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  it('accepts what verifies and refuses a forged signature, as inline', async () => {
    const verifier = verifierFor(pki, { signatureChecks: 'worker' });
    const good = pki.sign(transaction());
    expect(await codeOf(verifier.verifyTransaction(good))).toBe('ACCEPTED');
    const [header, , signature] = good.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify(transaction({ productId: 'com.example.lifetime' }))).toString('base64url');
    expect(await codeOf(verifier.verifyTransaction(`${header}.${forged}.${signature}`))).toBe('INVALID_SIGNATURE');
  });
});
