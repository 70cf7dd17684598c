import { createHash } from 'node:crypto';

/** The hash that links the first event to nothing; also the hash of the empty chain's head. */
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

/**
 * Why a chain does not verify:
 * - `gap`: the row's seq is not the one after its predecessor's, so rows before it were deleted;
 * - `broken_link`: the row does not carry its predecessor's hash (rows deleted and renumbered, swapped,
 *   or a row changed and its hash recomputed, which breaks the link of the row after it);
 * - `hash_mismatch`: the row's fields no longer hash to its stored hash (the row was changed);
 * - `head_mismatch`: the stored head (seq and hash of the last event) does not name the last row: rows
 *   were cut from the end, added after it outside `record`, or the head itself was changed;
 * - `anchor_mismatch`: the chain is self-consistent but no longer passes through a (seq, hash) recorded
 *   earlier outside Parley: it was rewritten from that row or before (by someone able to bypass the
 *   database's guards and recompute every hash after the change), or cut short below it.
 */
export type ChainProblem = 'gap' | 'broken_link' | 'hash_mismatch' | 'head_mismatch' | 'anchor_mismatch';

/** The first row that does not follow from the one before it. */
export interface ChainBreak {
  /** The seq of the first broken row (for rows cut from the end: the first missing seq). */
  seq: number;
  /** Its id; null when that row no longer exists (or, past the head, was not read). */
  id: string | null;
  problem: ChainProblem;
  /**
   * For `gap`: the seq that should have come next. For `head_mismatch`: the seq the head names. For
   * `anchor_mismatch`: the anchor's seq.
   */
  expectedSeq?: number;
}

/** The chain's stored head: the seq and hash of its last event (`0` and the genesis hash when empty). */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Walks rows in `seq` order and reports the first that does not follow from the one before: a changed
 * row (its hash no longer matches), a deleted row (a gap in seq or a link to a missing hash) or swapped
 * rows (links out of order). Pure: the store feeds it rows page by page through `feed`, then hands the
 * stored head to `finish`.
 */
export class ChainVerifier {
  private readonly anchors: ReadonlyMap<number, string>;
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private lastId: string | null = null;
  private broken: ChainBreak | undefined;
  /** Rows that verified so far. */
  checked = 0;

  /**
   * `anchors`: (seq, hash) pairs recorded earlier outside Parley (a past verification's head); the chain
   * must still pass through each of them.
   */
  constructor(options: { anchors?: readonly ChainHead[] } = {}) {
    this.anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash]));
  }

  /** The seq of the last row that verified (0 before any). */
  get lastSeq(): number {
    return this.expectedSeq - 1;
  }

  feed(row: ChainedFields & { hash: string }): ChainBreak | undefined {
    if (this.broken) return this.broken;
    if (row.seq !== this.expectedSeq)
      return (this.broken = { seq: row.seq, id: row.id, problem: 'gap', expectedSeq: this.expectedSeq });
    if (row.prev_hash !== this.prevHash)
      return (this.broken = { seq: row.seq, id: row.id, problem: 'broken_link' });
    if (hashAuditRow(row) !== row.hash)
      return (this.broken = { seq: row.seq, id: row.id, problem: 'hash_mismatch' });
    const anchored = this.anchors.get(row.seq);
    if (anchored !== undefined && anchored !== row.hash)
      return (this.broken = { seq: row.seq, id: row.id, problem: 'anchor_mismatch', expectedSeq: row.seq });
    this.checked += 1;
    this.expectedSeq += 1;
    this.prevHash = row.hash;
    this.lastId = row.id;
    return undefined;
  }

  /**
   * After the last row: the stored head must name the last row exactly. A missing head counts as the
   * empty chain's, so deleting it while events exist is caught too.
   */
  finish(storedHead: ChainHead | undefined): ChainBreak | undefined {
    if (this.broken) return this.broken;
    const head = storedHead ?? { seq: 0, hash: GENESIS_HASH };
    const last = this.lastSeq;
    if (head.seq === last && head.hash === this.prevHash) return this.checkAnchorsReached();
    const expectedSeq = head.seq;
    if (head.seq > last)
      // Rows the head vouches for are gone from the end: the first missing one is the first broken.
      return (this.broken = { seq: last + 1, id: null, problem: 'head_mismatch', expectedSeq });
    if (head.seq < last)
      // Rows exist that the head never acknowledged: the first of them is the first broken.
      return (this.broken = { seq: head.seq + 1, id: null, problem: 'head_mismatch', expectedSeq });
    return (this.broken = { seq: last, id: this.lastId, problem: 'head_mismatch', expectedSeq });
  }

  /** An anchor beyond the last row: the chain was cut short below a point recorded earlier. */
  private checkAnchorsReached(): ChainBreak | undefined {
    const beyond = [...this.anchors.keys()].filter((seq) => seq > this.lastSeq);
    if (beyond.length === 0) return undefined;
    const expectedSeq = Math.min(...beyond);
    return (this.broken = { seq: this.lastSeq + 1, id: null, problem: 'anchor_mismatch', expectedSeq });
  }
}

/** One sentence for people (the CLI, logs) saying what a break means. */
export function describeChainBreak(broken: ChainBreak): string {
  const row = `seq ${broken.seq}${broken.id ? ` (${broken.id})` : ''}`;
  switch (broken.problem) {
    case 'gap':
      return `${row}: rows are missing before it (expected seq ${broken.expectedSeq ?? '?'} next)`;
    case 'broken_link':
      return `${row}: it does not carry the hash of the row before it (rows deleted, reordered or rewritten)`;
    case 'hash_mismatch':
      return `${row}: its contents no longer match its hash (the row was changed)`;
    case 'anchor_mismatch':
      return broken.id
        ? `${row}: its hash differs from the one recorded for seq ${broken.seq} earlier (the chain was rewritten up to here)`
        : `${row}: the chain ends before seq ${broken.expectedSeq ?? '?'}, recorded earlier (the chain was cut short and rewritten)`;
    case 'head_mismatch':
      return `${row}: the chain head names seq ${broken.expectedSeq ?? '?'}, which is not the last row (rows cut from or added to the end, or the head was changed)`;
  }
}
