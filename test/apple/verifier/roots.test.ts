import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRootCertificates } from '../../../src/apple/verifier/index.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';

describe('loading trusted roots', () => {
  let dir: string;
  let first: TestPki;
  let second: TestPki;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'roots-'));
    first = await createTestPki();
    second = await createTestPki();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function pem(der: Buffer): string {
    const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
    return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
  }

  it('reads DER files and PEM files holding several certificates', () => {
    const derFile = path.join(dir, 'root.cer');
    const pemFile = path.join(dir, 'roots.pem');
    writeFileSync(derFile, first.rootDer);
    writeFileSync(pemFile, pem(first.rootDer) + pem(second.rootDer));
    const roots = loadRootCertificates([derFile, pemFile]).map((r) => Buffer.from(r));
    expect(roots).toHaveLength(3);
    expect(roots[0]?.equals(first.rootDer)).toBe(true);
    expect(roots[1]?.equals(first.rootDer)).toBe(true);
    expect(roots[2]?.equals(second.rootDer)).toBe(true);
  });

  it('fails loudly on a file that holds no certificate', () => {
    const junk = path.join(dir, 'junk.cer');
    writeFileSync(junk, 'not a certificate');
    expect(() => loadRootCertificates([junk])).toThrow(/junk\.cer/);
  });
});
