import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChainVerifier,
  GENESIS_HASH,
  describeChainBreak,
  hashAuditRow,
  type ChainBreak,
  type ChainHead,
  type ChainedFields,
} from './audit-chain.js';

type Row = ChainedFields & { hash: string };

/** A well-formed chain of `n` rows, as `record` would write it, and its head. */
function chainOf(n: number, salt = ''): { rows: Row[]; head: ChainHead } {
  const rows: Row[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq += 1) {
    const fields: ChainedFields = {
      seq,
      id: `aud_${salt}${seq}`,
      at: new Date(Date.UTC(2026, 2, 3, 14, 0, seq)).toISOString(),
      actor_id: seq % 3 === 0 ? null : `usr_${seq % 2}`,
      actor_role: seq % 3 === 0 ? null : 'compliance',
      action: seq % 2 ? 'template.approved' : 'consent.recorded',
      target_type: 'template',
      target_id: `tpl_${seq}`,
      subject_id: seq % 2 ? null : `hcp_${seq}`,
      reason: seq % 4 === 0 ? 'MLR review' : null,
      changes_json: JSON.stringify({ before: { status: 'in_review' }, after: { status: 'approved' } }),
      personal_ref: seq % 5 === 0 ? `aup_${seq}` : null,
      prev_hash: prev,
    };
    const row = { ...fields, hash: hashAuditRow(fields) };
    rows.push(row);
    prev = row.hash;
  }
  return { rows, head: { seq: n, hash: prev } };
}

function verify(rows: Row[], head: ChainHead | undefined): ChainBreak | undefined {
  const verifier = new ChainVerifier();
  for (const row of rows) {
    const broken = verifier.feed(row);
    if (broken) return broken;
  }
  return verifier.finish(head);
}

const editableFields = [
  'id',
  'at',
  'actor_id',
  'actor_role',
  'action',
  'target_type',
  'target_id',
  'subject_id',
  'reason',
  'changes_json',
  'personal_ref',
] as const;

describe('hashAuditRow', () => {
  it('changes when any single field changes, including a move between neighbouring fields', () => {
    const { rows } = chainOf(1);
    const row = rows[0]!;
    const base = hashAuditRow(row);
    for (const field of editableFields) expect(hashAuditRow({ ...row, [field]: 'x' })).not.toBe(base);
    // "ab" + "c" and "a" + "bc" must not collide: field boundaries are part of what is hashed.
    expect(hashAuditRow({ ...row, target_type: 'ab', target_id: 'c' })).not.toBe(
      hashAuditRow({ ...row, target_type: 'a', target_id: 'bc' }),
    );
  });
});

describe('ChainVerifier', () => {
  it('accepts an empty chain with no head or the genesis head', () => {
    expect(verify([], undefined)).toBeUndefined();
    expect(verify([], { seq: 0, hash: GENESIS_HASH })).toBeUndefined();
  });

  it('accepts every well-formed chain and counts its rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
        const { rows, head } = chainOf(n);
        const verifier = new ChainVerifier();
        for (const row of rows) expect(verifier.feed(row)).toBeUndefined();
        expect(verifier.finish(head)).toBeUndefined();
        expect(verifier.checked).toBe(n);
      }),
    );
  });

  it('names the changed row when any field of any row is changed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(fc.constant(n), fc.nat({ max: n - 1 }))),
        fc.constantFrom(...editableFields),
        fc.string({ minLength: 1, maxLength: 8 }),
        ([n, i], field, value) => {
          const { rows, head } = chainOf(n);
          const original = rows[i]!;
          fc.pre(original[field] !== value);
          rows[i] = { ...original, [field]: value };
          expect(verify(rows, head)).toMatchObject({ seq: i + 1, id: rows[i]!.id, problem: 'hash_mismatch' });
        },
      ),
    );
  });

  it('names the row after a changed one when the changed row was re-hashed to hide it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }).chain((n) => fc.tuple(fc.constant(n), fc.nat({ max: n - 2 }))),
        ([n, i]) => {
          const { rows, head } = chainOf(n);
          const forged = { ...rows[i]!, reason: 'rewritten' };
          rows[i] = { ...forged, hash: hashAuditRow(forged) };
          expect(verify(rows, head)).toMatchObject({
            seq: i + 2,
            id: rows[i + 1]!.id,
            problem: 'broken_link',
          });
        },
      ),
    );
  });

  it('names the row after a deleted one (a gap), and says which seq is missing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }).chain((n) => fc.tuple(fc.constant(n), fc.nat({ max: n - 2 }))),
        ([n, i]) => {
          const { rows, head } = chainOf(n);
          const after = rows[i + 1]!;
          rows.splice(i, 1);
          expect(verify(rows, head)).toEqual({
            seq: i + 2,
            id: after.id,
            problem: 'gap',
            expectedSeq: i + 1,
          });
        },
      ),
    );
  });

  it('names the first of two swapped rows', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 30 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat({ max: n - 1 }), { minLength: 2, maxLength: 2 })),
          ),
        ([n, [a, b]]) => {
          const [i, j] = [Math.min(a!, b!), Math.max(a!, b!)];
          const { rows, head } = chainOf(n);
          const [ri, rj] = [rows[i]!, rows[j]!];
          // Contents trade places; positions (seq) stay, as a swap of rows in a table keyed by seq would.
          rows[i] = { ...rj, seq: ri.seq };
          rows[j] = { ...ri, seq: rj.seq };
          expect(verify(rows, head)).toMatchObject({ seq: i + 1, id: rj.id, problem: 'broken_link' });
        },
      ),
    );
  });

  it.each([
    ['the last row was deleted', 1, { seq: 10, id: null, problem: 'head_mismatch', expectedSeq: 10 }],
    ['the last three rows were deleted', 3, { seq: 8, id: null, problem: 'head_mismatch', expectedSeq: 10 }],
  ] as const)('names the first missing seq when %s', (_case, cut, expected) => {
    const { rows, head } = chainOf(10);
    expect(verify(rows.slice(0, rows.length - cut), head)).toEqual(expected);
  });

  it.each([
    ['its hash was changed', (h: ChainHead) => ({ ...h, hash: 'f'.repeat(64) }), 10, 'aud_10'],
    ['it was moved back one row', (h: ChainHead) => ({ ...h, seq: h.seq - 1 }), 10, null],
    ['it was moved forward one row', (h: ChainHead) => ({ ...h, seq: h.seq + 1 }), 11, null],
  ] as const)('reports a head mismatch when %s', (_case, edit, seq, id) => {
    const { rows, head } = chainOf(10);
    expect(verify(rows, edit(head))).toMatchObject({ seq, id, problem: 'head_mismatch' });
  });

  it('reports a deleted head while events exist as a head mismatch from the first row', () => {
    const { rows } = chainOf(3);
    expect(verify(rows, undefined)).toMatchObject({ seq: 1, problem: 'head_mismatch', expectedSeq: 0 });
  });

  it('stays broken: rows fed after a break do not clear it', () => {
    const { rows, head } = chainOf(5);
    rows[1] = { ...rows[1]!, action: 'x' };
    const verifier = new ChainVerifier();
    for (const row of rows) verifier.feed(row);
    expect(verifier.finish(head)).toMatchObject({ seq: 2, problem: 'hash_mismatch' });
    expect(verifier.checked).toBe(1);
  });
});

/** Rewrites rows from index `from` on with a changed reason and recomputes every hash after it, head too. */
function rewriteFrom(rows: Row[], from: number): { rows: Row[]; head: ChainHead } {
  const out = rows.slice(0, from);
  let prev = from === 0 ? GENESIS_HASH : rows[from - 1]!.hash;
  for (const row of rows.slice(from)) {
    const fields = { ...row, reason: 'rewritten', prev_hash: prev };
    const forged = { ...fields, hash: hashAuditRow(fields) };
    out.push(forged);
    prev = forged.hash;
  }
  return { rows: out, head: { seq: out.length, hash: prev } };
}

function verifyAnchored(rows: Row[], head: ChainHead, anchors: ChainHead[]): ChainBreak | undefined {
  const verifier = new ChainVerifier({ anchors });
  for (const row of rows) {
    const broken = verifier.feed(row);
    if (broken) return broken;
  }
  return verifier.finish(head);
}

describe('ChainVerifier with anchors recorded earlier', () => {
  it('passes a whole rewrite without anchors, and names the anchored row at or after it with one', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 30 })
          .chain((n) => fc.tuple(fc.constant(n), fc.nat({ max: n - 1 }), fc.nat({ max: n - 1 }))),
        ([n, from, anchorAt]) => {
          const original = chainOf(n);
          const anchor = { seq: anchorAt + 1, hash: original.rows[anchorAt]!.hash };
          const forged = rewriteFrom(original.rows, from);
          expect(verify(forged.rows, forged.head)).toBeUndefined();
          const broken = verifyAnchored(forged.rows, forged.head, [anchor]);
          if (anchorAt < from) expect(broken).toBeUndefined();
          else expect(broken).toMatchObject({ seq: anchor.seq, problem: 'anchor_mismatch' });
        },
      ),
    );
  });

  it('names the first missing seq when the chain was cut short below an anchor', () => {
    const original = chainOf(10);
    const cut = { rows: original.rows.slice(0, 7), head: { seq: 7, hash: original.rows[6]!.hash } };
    expect(verify(cut.rows, cut.head)).toBeUndefined();
    expect(verifyAnchored(cut.rows, cut.head, [original.head])).toEqual({
      seq: 8,
      id: null,
      problem: 'anchor_mismatch',
      expectedSeq: 10,
    });
  });

  it('accepts a chain that still passes through every anchor, the genesis one included', () => {
    const { rows, head } = chainOf(10);
    const anchors = [{ seq: 0, hash: GENESIS_HASH }, { seq: 3, hash: rows[2]!.hash }, head];
    expect(verifyAnchored(rows, head, anchors)).toBeUndefined();
  });
});

describe('describeChainBreak', () => {
  it.each([
    [{ seq: 4, id: 'aud_4', problem: 'hash_mismatch' }, /seq 4 \(aud_4\).*changed/],
    [{ seq: 6, id: 'aud_6', problem: 'gap', expectedSeq: 5 }, /seq 6 \(aud_6\).*expected seq 5/],
    [{ seq: 3, id: 'aud_3', problem: 'broken_link' }, /seq 3 \(aud_3\).*hash of the row before/],
    [
      { seq: 10, id: null, problem: 'head_mismatch', expectedSeq: 10 },
      /^seq 10: the chain head names seq 10/,
    ],
    [{ seq: 7, id: 'aud_7', problem: 'anchor_mismatch', expectedSeq: 7 }, /seq 7 \(aud_7\).*recorded/],
    [
      { seq: 8, id: null, problem: 'anchor_mismatch', expectedSeq: 10 },
      /^seq 8: the chain ends before seq 10/,
    ],
  ] as const)('says in a sentence what %o means', (broken, sentence) => {
    expect(describeChainBreak(broken)).toMatch(sentence);
  });
});
