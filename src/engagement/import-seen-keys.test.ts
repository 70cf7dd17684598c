import { describe, expect, it } from 'vitest';
import { SeenKeys } from './import-seen-keys.js';

describe('the keys an import has read', () => {
  it('answers the first line of a key read before, and nothing for a new one', () => {
    const seen = new SeenKeys();
    expect(seen.firstLineOf('crm\u0000CALL-1', 1)).toBeUndefined();
    expect(seen.firstLineOf('crm\u0000CALL-2', 2)).toBeUndefined();
    expect(seen.firstLineOf('crm\u0000CALL-1', 7)).toBe(1);
    // The first line stays the answer: a third reading still names line 1, not 7.
    expect(seen.firstLineOf('crm\u0000CALL-1', 9)).toBe(1);
    expect(seen.firstLineOf('crm\u0000CALL-2', 10)).toBe(2);
    expect(seen.size).toBe(2);
  });

  it('tells apart keys that differ only in case, in one character, or in where the separator falls', () => {
    const seen = new SeenKeys();
    const keys = ['a\u0000bc', 'ab\u0000c', 'A\u0000bc', 'a\u0000bd', '', 'é', 'e\u0301', '😀'];
    keys.forEach((key, i) => expect(seen.firstLineOf(key, i + 1)).toBeUndefined());
    keys.forEach((key, i) => expect(seen.firstLineOf(key, 100 + i)).toBe(i + 1));
  });

  it('keeps every key and its line through many doublings of its table', () => {
    // Starting from 2 slots, 50,000 keys take the table through 16 doublings.
    const seen = new SeenKeys(2);
    const N = 50_000;
    for (let i = 0; i < N; i++) expect(seen.firstLineOf(`src\u0000ID-${i}`, i + 1)).toBeUndefined();
    expect(seen.size).toBe(N);
    let wrong = 0;
    for (let i = 0; i < N; i++) if (seen.firstLineOf(`src\u0000ID-${i}`, N + i + 1) !== i + 1) wrong++;
    expect(wrong).toBe(0);
    expect(seen.firstLineOf(`src\u0000ID-${N}`, 2 * N + 1)).toBeUndefined();
    expect(seen.size).toBe(N + 1);
  });

  it('keeps keys apart whose hashes share a slot, or all but their last 32 bits', () => {
    // A digest made to collide: every key lands on the same slot, and keys of equal length share the
    // hash's first 96 bits; only the last word (the key's last character) tells them apart.
    const colliding = (key: string) => {
      const digest = Buffer.alloc(16);
      digest.writeUInt32LE(key.length, 8);
      digest.writeUInt32LE(key.charCodeAt(key.length - 1), 12);
      return digest;
    };
    const seen = new SeenKeys(4, colliding);
    const keys = ['ab', 'ac', 'abc', 'abd', 'b', 'c', 'xyz'];
    keys.forEach((key, i) => expect(seen.firstLineOf(key, i + 1)).toBeUndefined());
    keys.forEach((key, i) => expect(seen.firstLineOf(key, 100 + i)).toBe(i + 1));
    expect(seen.size).toBe(keys.length);
  });

  it('refuses a line number it could not keep', () => {
    const seen = new SeenKeys();
    for (const line of [0, -1, 1.5, 2 ** 32]) expect(() => seen.firstLineOf('k', line)).toThrow(RangeError);
    expect(seen.size).toBe(0);
  });
});
