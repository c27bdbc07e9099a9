import { beforeAll, describe, expect, it } from 'vitest';
import { createLruCache } from '../../../src/apple/verifier/lru-cache.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { codeOf, transaction, verifierFor } from './support.js';

describe('the LRU cache with expiry', () => {
  it('evicts the least recently used entry once past its bound', () => {
    const cache = createLruCache<number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) cache.set(key, i, 100);
    expect(cache.get('a', 0)).toBe(0); // a is now the most recently used
    cache.set('d', 3, 100);
    expect(cache.size).toBe(3);
    expect(cache.get('b', 0)).toBeUndefined();
    expect(cache.get('a', 0)).toBe(0);
    expect(cache.get('c', 0)).toBe(2);
    expect(cache.get('d', 0)).toBe(3);
  });

  it('stays at its bound however many entries go in', () => {
    const cache = createLruCache<number>(32);
    for (let i = 0; i < 1000; i += 1) cache.set(`k${i}`, i, 100);
    expect(cache.size).toBe(32);
    expect(cache.get('k999', 0)).toBe(999);
    expect(cache.get('k967', 0)).toBeUndefined();
  });

  it('forgets an entry at its expiry time', () => {
    const cache = createLruCache<string>(2);
    cache.set('a', 'x', 50);
    expect(cache.get('a', 49)).toBe('x');
    expect(cache.get('a', 50)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('replaces an entry set twice without growing', () => {
    const cache = createLruCache<string>(2);
    cache.set('a', 'x', 50);
    cache.set('a', 'y', 50);
    expect(cache.size).toBe(1);
    expect(cache.get('a', 0)).toBe('y');
  });

  it('refuses a bound below one', () => {
    expect(() => createLruCache(0)).toThrow(RangeError);
  });
});

describe('the verifier chain cache', () => {
  let pki: TestPki;
  let leaves: TestPki[];
  beforeAll(async () => {
    pki = await createTestPki();
    leaves = await Promise.all(Array.from({ length: 5 }, () => createTestPki({ reuseIntermediateFrom: pki })));
  });

  it('keeps verifying correctly with more distinct leaves than it holds', async () => {
    const verifier = verifierFor(pki, { chainCache: { maxEntries: 2 } });
    for (let round = 0; round < 3; round += 1) {
      for (const leaf of leaves) {
        expect(await codeOf(verifier.verifyTransaction(leaf.sign(transaction())))).toBe('ACCEPTED');
        // A cached leaf must not vouch for a bad signature or another root.
        const [header, payload] = leaf.sign(transaction()).split('.');
        const otherSignature = pki.sign(transaction()).split('.')[2];
        expect(await codeOf(verifier.verifyTransaction(`${header}.${payload}.${otherSignature}`))).toBe('INVALID_SIGNATURE');
      }
    }
  });

  it('does not let a cached leaf and intermediate vouch for another root', async () => {
    const impostor = await createTestPki();
    const verifier = verifierFor(pki);
    expect(await codeOf(verifier.verifyTransaction(pki.sign(transaction())))).toBe('ACCEPTED');
    const jws = pki.sign(transaction(), { x5c: [pki.x5c[0], pki.x5c[1], impostor.x5c[2]] });
    expect(await codeOf(verifier.verifyTransaction(jws))).toBe('UNTRUSTED_ROOT');
  });
});
