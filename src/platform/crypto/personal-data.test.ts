import { describe, expect, it } from 'vitest';
import { createPersonalDataCipher } from './personal-data.js';

const KEY = 'a-test-data-key-that-is-long-enough-0123456789';
const OLD_KEY = 'the-previous-data-key-also-long-enough-9876543210';

describe('personal data sealed at rest', () => {
  it('opens what it sealed, text of any script included', () => {
    const cipher = createPersonalDataCipher(KEY);
    for (const text of ['+5511987654321', 'Tive uma reação alérgica 😮', '', 'x'.repeat(100_000)])
      expect(cipher.open(cipher.seal(text))).toBe(text);
  });

  it('never reuses an IV, across several refills of the IV pool', () => {
    const cipher = createPersonalDataCipher(KEY);
    const ivs = Array.from({ length: 3000 }, () => cipher.seal('same').split('.')[2]);
    expect(new Set(ivs).size).toBe(ivs.length);
    expect(ivs.every((iv) => Buffer.from(iv!, 'base64url').length === 12)).toBe(true);
  });

  it('refuses a value whose ciphertext or tag was altered', () => {
    const cipher = createPersonalDataCipher(KEY);
    const [v, id, iv, body, tag] = cipher.seal('+5511987654321').split('.');
    const flipped = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    expect(() => cipher.open([v, id, iv, flipped(body!), tag].join('.'))).toThrow();
    expect(() => cipher.open([v, id, iv, body, flipped(tag!)].join('.'))).toThrow();
  });

  it('opens values sealed under the previous key during a rotation, and seals with the current one', () => {
    const before = createPersonalDataCipher(OLD_KEY);
    const sealed = before.seal('dr@example.org');
    const rotated = createPersonalDataCipher(KEY, [OLD_KEY]);
    expect(rotated.open(sealed)).toBe('dr@example.org');
    expect(rotated.seal('x').split('.')[1]).toBe(rotated.keyId);
    expect(rotated.keyId).not.toBe(before.keyId);
  });
});
