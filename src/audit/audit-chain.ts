import { createHash } from 'node:crypto';

/** The hash that links the first event to nothing. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields of an audit row that its hash covers: all of them but the hash itself. */
export interface ChainedFields {
  seq: number;
  id: string;
  at: string;
  actor_id: string | null;
  actor_role: string | null;
  action: string;
  target_type: string;
  target_id: string;
  subject_id: string | null;
  reason: string | null;
  changes_json: string;
  personal_ref: string | null;
  prev_hash: string;
}

/**
 * SHA-256 over a fixed-order JSON array of the row's fields. The array form (not an object) makes the
 * serialisation independent of key order, and JSON escapes make field boundaries unambiguous.
 */
export function hashAuditRow(row: ChainedFields): string {
  const canonical = JSON.stringify([
    row.seq,
    row.id,
    row.at,
    row.actor_id,
    row.actor_role,
    row.action,
    row.target_type,
    row.target_id,
    row.subject_id,
    row.reason,
    row.changes_json,
    row.personal_ref,
    row.prev_hash,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

export type ChainBreak = {
  seq: number;
  id: string | null;
  problem: 'hash_mismatch' | 'broken_link' | 'gap' | 'head_mismatch';
};

/**
 * Walks rows in `seq` order and reports the first that does not follow from the one before: a changed
 * row (its hash no longer matches), a deleted row (a gap in seq or a link to a missing hash) or swapped
 * rows (links out of order). Pure: the store feeds it rows page by page through `feed`.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private broken: ChainBreak | undefined;
  checked = 0;

  feed(row: ChainedFields & { hash: string }): ChainBreak | undefined {
    if (this.broken) return this.broken;
    if (row.seq !== this.expectedSeq)
      return (this.broken = { seq: this.expectedSeq, id: row.id, problem: 'gap' });
    if (row.prev_hash !== this.prevHash)
      return (this.broken = { seq: row.seq, id: row.id, problem: 'broken_link' });
    if (hashAuditRow(row) !== row.hash)
      return (this.broken = { seq: row.seq, id: row.id, problem: 'hash_mismatch' });
    this.checked += 1;
    this.expectedSeq += 1;
    this.prevHash = row.hash;
    return undefined;
  }

  /** After the last row: the stored head must name the last row, or rows were cut from the end. */
  finish(head: { seq: number; hash: string } | undefined): ChainBreak | undefined {
    if (this.broken) return this.broken;
    if (head && (head.seq !== this.expectedSeq - 1 || head.hash !== this.prevHash)) {
      return (this.broken = { seq: this.expectedSeq, id: null, problem: 'head_mismatch' });
    }
    return undefined;
  }
}
