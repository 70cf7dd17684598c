import { describe, expect, it } from 'vitest';
import { checkImportRecord, checkInteractionFast, type RawRecord } from './import-records.js';

/** Values each column is tried with: plain, untidy (spaces, case, numbers), empty, wrong and too long. */
const TRIES: Record<string, unknown[]> = {
  source: ['veeva', ' Veeva ', 'VEEVA.crm-1', '', ' ', 'bad source', 'x'.repeat(41), 7, null, undefined],
  externalId: [
    'A-1',
    '  A-1  ',
    12345,
    0,
    '',
    '   ',
    'x'.repeat(200),
    'x'.repeat(201),
    null,
    undefined,
    true,
  ],
  hcpId: [undefined, 'hcp_1', ' hcp_1 ', '', '  ', null, 42, 'x'.repeat(101), {}],
  hcpCrmId: [undefined, 'CRM-1', ' CRM-1', '', '   ', null, 99, 'x'.repeat(100), ['CRM-1']],
  channel: ['f2f', 'F2F', ' phone ', 'fax', '', null, 1, undefined],
  kind: ['call', 'CALL ', 'meeting', 'chat', undefined],
  direction: ['outbound', ' Inbound', 'sideways', undefined],
  occurredAt: [
    '2026-01-01T00:00:00Z',
    ' 2026-01-01T10:00:00.123+02:00 ',
    '2024-02-29T10:00:00Z',
    '2025-02-29T10:00:00Z',
    '2026-01-01 10:00',
    '2026-01-01T10:00:00',
    '2026-13-01T10:00:00Z',
    '',
    1767225600000,
    undefined,
  ],
  repEmail: [undefined, 'rep1@parley.test', ' rep1@parley.test ', '', null, 3, 'x'.repeat(201)],
  summary: [
    undefined,
    'Discussed dosing',
    '  note  ',
    '',
    '   ',
    null,
    'x'.repeat(10_000),
    'x'.repeat(10_001),
  ],
  topics: [
    undefined,
    ['dosing'],
    [' dosing ', 'safety'],
    'dosing; safety',
    ';;',
    '',
    null,
    [],
    [''],
    ['  '],
    [1],
    'x'.repeat(101),
    Array.from({ length: 51 }, (_, i) => `t${i}`),
    { a: 1 },
  ],
  products: [undefined, ['Glucora'], 'Glucora;Cardalis', ['x'.repeat(100)], ['x'.repeat(101)], 5],
};
const BASE: RawRecord = {
  source: 'veeva',
  externalId: 'A-1',
  hcpCrmId: 'CRM-1',
  channel: 'f2f',
  kind: 'call',
  direction: 'outbound',
  occurredAt: '2026-01-01T10:00:00Z',
  repEmail: 'rep1@parley.test',
  summary: 'Discussed dosing',
  topics: ['dosing'],
  products: ['Glucora'],
};

/** A small deterministic generator: the same records on every run. */
function* records(count: number): Generator<RawRecord> {
  let seed = 1;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  // Each column alone …
  for (const [column, values] of Object.entries(TRIES))
    for (const value of values) yield { ...BASE, [column]: value };
  // … then several at once, some columns left out, an unknown column now and then.
  for (let i = 0; i < count; i++) {
    const raw: RawRecord = {};
    for (const [column, values] of Object.entries(TRIES)) {
      if (next() % 12 === 0) continue;
      raw[column] = next() % 3 !== 0 ? BASE[column] : values[next() % values.length];
    }
    if (next() % 5 === 0) raw.extra = 'ignored';
    yield raw;
  }
}

describe('the fast interactions check', () => {
  it('accepts only what the schema accepts, and returns the same record', () => {
    let fast = 0;
    let schemaOnly = 0;
    for (const raw of records(20_000)) {
      const quick = checkInteractionFast(raw);
      const full = checkImportRecord('interactions', raw);
      if (quick === undefined) {
        if (full.ok) schemaOnly++;
        continue;
      }
      fast++;
      expect(full).toEqual({ ok: true, record: { kind: 'interactions', value: quick } });
    }
    // Both paths were exercised: records the fast check took, and records it left to the schema.
    expect(fast).toBeGreaterThan(300);
    expect(schemaOnly).toBe(0);
  });

  it('takes the plain record of a CRM export itself', () => {
    expect(checkInteractionFast(BASE)).toEqual({ ...BASE });
  });

  it('leaves a bad record to the schema, whose reasons name the column', () => {
    const raw = { ...BASE, occurredAt: '2026-01-01 10:00' };
    expect(checkInteractionFast(raw)).toBeUndefined();
    const checked = checkImportRecord('interactions', raw);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reasons.join('\n')).toContain('occurredAt');
  });
});
