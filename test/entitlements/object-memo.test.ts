import { describe, expect, it } from 'vitest';
import { createObjectMemo } from '../../src/entitlements/object-memo.js';

describe('an object memo', () => {
  it('hands back what was kept on an object, and nothing for another object', () => {
    const memo = createObjectMemo<object, string>('test');
    const key = {};
    expect(memo.get(key)).toBeUndefined();
    expect(memo.set(key, 'first')).toBe(true);
    expect(memo.get(key)).toBe('first');
    expect(memo.get({})).toBeUndefined();
  });

  it('replaces what it kept on an object when set again', () => {
    const memo = createObjectMemo<object, string>('test');
    const key = {};
    memo.set(key, 'first');
    expect(memo.set(key, 'second')).toBe(true);
    expect(memo.get(key)).toBe('second');
  });

  it('leaves the object as every reader of it sees it: keys, JSON, equality', () => {
    const memo = createObjectMemo<{ purchases: number[] }, string>('test');
    const key = { purchases: [1, 2] };
    memo.set(key, 'kept');
    expect(Object.keys(key)).toEqual(['purchases']);
    expect(JSON.stringify(key)).toBe('{"purchases":[1,2]}');
    expect(key).toStrictEqual({ purchases: [1, 2] });
    const seen: string[] = [];
    for (const name in key) seen.push(name);
    expect(seen).toEqual(['purchases']);
  });

  it('keeps nothing on a frozen object, nor on one frozen after it kept something', () => {
    const memo = createObjectMemo<object, string>('test');
    const frozen = Object.freeze({});
    expect(memo.set(frozen, 'kept')).toBe(false);
    expect(memo.get(frozen)).toBeUndefined();
    const later = {};
    memo.set(later, 'first');
    Object.freeze(later);
    expect(memo.set(later, 'second')).toBe(false);
    expect(memo.get(later)).toBe('first');
  });

  it('keeps separate values for separate memos on the same object', () => {
    const a = createObjectMemo<object, string>('same name');
    const b = createObjectMemo<object, string>('same name');
    const key = {};
    a.set(key, 'a');
    b.set(key, 'b');
    expect([a.get(key), b.get(key)]).toEqual(['a', 'b']);
  });
});
