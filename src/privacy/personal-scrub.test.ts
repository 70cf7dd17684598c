import { describe, expect, it } from 'vitest';
import { canonicalJson, checksumOf } from './canonical-json.js';
import { ERASED, provenanceWithoutValues, scrubText } from './personal-scrub.js';

describe('scrubbing personal strings out of stored text', () => {
  it.each<[string, string, string[], string]>([
    [
      'erases a JSON string that contains the name, keeping keys',
      '{"a":"Olá Dra. Ana Souza","b":"ok"}',
      ['Dra. Ana Souza'],
      `{"a":"${ERASED}","b":"ok"}`,
    ],
    [
      'matches case-insensitively, deep in arrays',
      '{"x":[{"y":"ANA.SOUZA@EXAMPLE.COM"}]}',
      ['ana.souza@example.com'],
      `{"x":[{"y":"${ERASED}"}]}`,
    ],
    [
      'replaces the number inside plain text',
      'from 5511987654321 at noon',
      ['5511987654321'],
      `from ${ERASED} at noon`,
    ],
    ['ignores needles too short to be safe', '{"a":"sim"}', ['sim'], '{"a":"sim"}'],
    ['leaves text without the needles as it was', '{"a":"nothing"}', ['+5511987654321'], '{"a":"nothing"}'],
  ])('%s', (_what, text, needles, expected) => {
    expect(scrubText(text, needles)).toBe(expected);
  });

  it('erases sealed provenance parameter values too: sealed is not erased while the key opens them', () => {
    const p = JSON.stringify({
      template: { key: 'visit_reminder' },
      bodyParameters: [{ name: 'hcp_name' }, { name: 'hora' }],
      sealedParameterValues: 'v1.sealed-bytes',
    });
    expect(JSON.parse(provenanceWithoutValues(p))).toEqual({
      template: { key: 'visit_reminder' },
      bodyParameters: [
        { name: 'hcp_name', value: ERASED },
        { name: 'hora', value: ERASED },
      ],
    });
  });

  it('erases provenance parameter values but keeps their names and the template', () => {
    const p = JSON.stringify({
      template: { key: 'k' },
      bodyParameters: [{ name: 'hcp_name', value: 'Dra. Ana' }],
    });
    expect(JSON.parse(provenanceWithoutValues(p))).toEqual({
      template: { key: 'k' },
      bodyParameters: [{ name: 'hcp_name', value: ERASED }],
    });
  });
});

describe('canonical JSON', () => {
  it('is the same text whatever the key order, without undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    expect(checksumOf({ b: 1, a: 2 })).toBe(checksumOf({ a: 2, b: 1 }));
    expect(checksumOf({ a: 1 })).not.toBe(checksumOf({ a: 2 }));
  });
});
