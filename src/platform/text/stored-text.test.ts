import { describe, expect, it } from 'vitest';
import { pathToNul, wellFormed } from './index.js';

describe('pathToNul', () => {
  it('finds the first string holding a NUL, in objects and arrays, and names its path', () => {
    expect(pathToNul('a\u0000b')).toEqual([]);
    expect(pathToNul({ a: 'x', b: { c: ['y', 'z\u0000'] } })).toEqual(['b', 'c', 1]);
    expect(pathToNul({ ['k\u0000']: 'x' })).toEqual(['k\u0000']);
  });

  it('leaves text without one, other values, and buffers (a webhook body, stored as received) alone', () => {
    expect(pathToNul({ a: 'x', n: 1, t: true, z: null, list: ['a', 2] })).toBeUndefined();
    expect(pathToNul(Buffer.from('a\u0000b'))).toBeUndefined();
    expect(pathToNul(undefined)).toBeUndefined();
  });
});

describe('wellFormed', () => {
  it('turns half a surrogate pair into U+FFFD wherever it is, copying only what changed', () => {
    const record = { a: 'ok 👍', b: ['x', 'half \ud83d'], c: { d: '\udc4d end' }, n: 1 };
    const fixed = wellFormed(record);
    expect(fixed).toEqual({ a: 'ok 👍', b: ['x', 'half \ufffd'], c: { d: '\ufffd end' }, n: 1 });
    expect(record.b[1]).toBe('half \ud83d');
    const fine = { a: 'ok 👍', b: ['x'] };
    expect(wellFormed(fine)).toBe(fine);
  });
});
