import { endianness } from 'node:os';

/**
 * The pure part of the volume report: which parts of a period can be read from the day cells and which
 * from the interactions themselves, how a cell's set of HCPs is stored, and how counts and reach are
 * added up from both. Reach is exact: the size of a union of sets, never a sum of sizes.
 */

const DAY_MS = 86_400_000;
const LITTLE_ENDIAN = endianness() === 'LE';

/** A half-open stretch of time [from, to) as ISO-8601 UTC text, compared as text like `occurred_at`. */
export interface TimeRange {
  from: string;
  to: string;
}

export interface PeriodPlan {
  /** Whole UTC days of the period (YYYY-MM-DD) whose cells, where not stale, answer for them. */
  days: string[];
  /** What must be read from the interactions: the partial days at either end and the stale days. */
  live: TimeRange[];
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const startOf = (day: string) => Date.parse(`${day}T00:00:00.000Z`);

/**
 * Splits [from, to) into whole UTC days read from cells and ranges read live: the ragged ends, and every
 * day in `stale` (cells that no longer match their interactions). Adjacent live ranges are merged.
 */
export function planPeriod(from: string, to: string, stale: ReadonlySet<string>): PeriodPlan {
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to);
  const firstWhole = Math.ceil(fromMs / DAY_MS) * DAY_MS;
  const endWhole = Math.floor(toMs / DAY_MS) * DAY_MS;
  if (firstWhole >= endWhole) return { days: [], live: toMs > fromMs ? [{ from, to }] : [] };
  const days: string[] = [];
  const live: TimeRange[] = [];
  const addLive = (range: TimeRange) => {
    const last = live.at(-1);
    if (last && last.to === range.from) last.to = range.to;
    else live.push({ ...range });
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  if (fromMs < firstWhole) addLive({ from, to: iso(firstWhole) });
  for (let ms = firstWhole; ms < endWhole; ms += DAY_MS) {
    const day = dayOf(ms);
    if (stale.has(day)) addLive({ from: iso(ms), to: iso(ms + DAY_MS) });
    else days.push(day);
  }
  if (endWhole < toMs) addLive({ from: iso(endWhole), to });
  return { days, live };
}

/** The first day after `day` (YYYY-MM-DD). */
export function nextDay(day: string): string {
  return dayOf(startOf(day) + DAY_MS);
}

/**
 * Ascending days (YYYY-MM-DD) as runs of consecutive days, each its first and last: what a range read of
 * the day cells should cover. The days left to day cells are usually the ragged months at either end of
 * a period: one range over both would read every day between them.
 */
export function dayRuns(days: readonly string[]): { first: string; last: string }[] {
  const runs: { first: string; last: string }[] = [];
  for (const day of days) {
    const run = runs.at(-1);
    if (run && nextDay(run.last) === day) run.last = day;
    else runs.push({ first: day, last: day });
  }
  return runs;
}

/** The first month after `month` (YYYY-MM). */
export function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 7);
}

/** The number of days of `month` (YYYY-MM). */
export function daysIn(month: string): number {
  return Math.round((startOf(`${nextMonth(month)}-01`) - startOf(`${month}-01`)) / DAY_MS);
}

/** A cell's HCPs as stored: their seqs, unsigned 32-bit little-endian, ascending. */
export function encodeSeqs(seqs: Iterable<number>): Buffer {
  const sorted = Uint32Array.from(seqs).sort();
  const out = Buffer.alloc(sorted.length * 4);
  sorted.forEach((seq, i) => out.writeUInt32LE(seq, i * 4));
  return out;
}

/**
 * A stored set as 32-bit seqs: a view of the stored bytes where they allow one (a year of cells is
 * millions of seqs), else a copy.
 */
export function decodeSeqs(stored: Uint8Array): Uint32Array {
  const length = stored.byteLength >>> 2;
  if (LITTLE_ENDIAN) {
    if (stored.byteOffset % 4 === 0) return new Uint32Array(stored.buffer, stored.byteOffset, length);
    return new Uint32Array(new Uint8Array(stored).buffer, 0, length);
  }
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  const seqs = new Uint32Array(length);
  for (let i = 0; i < length; i++) seqs[i] = view.getUint32(i * 4, true);
  return seqs;
}

// Type aliases, not interfaces: a report's rows and summary are records of cells.
export type VolumeRow = { period: string; channel: string; interactions: number; hcpsReached: number };
export type VolumeFigures = { summary: { interactions: number; hcpsReached: number }; rows: VolumeRow[] };

interface Bucket {
  interactions: number;
  sets: Uint32Array[];
  loose: number[];
}

/**
 * Adds up interactions and HCPs per period (a UTC day or month) and channel, from cells (a count and a
 * set) and from live rows (a count and one HCP), then counts each bucket's distinct HCPs and the
 * period's.
 */
export class VolumeTally {
  private readonly buckets = new Map<string, Bucket>();
  private maxSeq = 0;

  constructor(private readonly bucket: 'day' | 'month') {}

  private bucketOf(day: string, channel: string): Bucket {
    const key = `${day.slice(0, this.bucket === 'day' ? 10 : 7)}\u0000${channel}`;
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { interactions: 0, sets: [], loose: [] }));
    return b;
  }

  /**
   * A cell: `interactions` interactions on `day` (YYYY-MM-DD…) in `channel`, reaching the HCPs `seqs`
   * (ascending, as stored).
   */
  addCell(day: string, channel: string, interactions: number, seqs: ArrayLike<number>): void {
    const b = this.bucketOf(day, channel);
    b.interactions += interactions;
    if (seqs.length === 0) return;
    // One array type in the counting loop below keeps it monomorphic: millions of seqs a report.
    b.sets.push(seqs instanceof Uint32Array ? seqs : Uint32Array.from(seqs));
    this.maxSeq = Math.max(this.maxSeq, seqs[seqs.length - 1]!);
  }

  /** `interactions` interactions on `day` in `channel`, all with the HCP `seq`. */
  addHcp(day: string, channel: string, interactions: number, seq: number): void {
    const b = this.bucketOf(day, channel);
    b.interactions += interactions;
    b.loose.push(seq);
    this.maxSeq = Math.max(this.maxSeq, seq);
  }

  figures(): VolumeFigures {
    // A seq's stamp says whether it was already counted in the bucket being counted (no set needs
    // clearing between buckets); `seen` whether it was counted in any.
    const stamps = new Uint32Array(this.maxSeq + 1);
    const seen = new Uint8Array(this.maxSeq + 1);
    let stamp = 0;
    let reachedInPeriod = 0;
    let interactions = 0;
    const rows: VolumeRow[] = [];
    const keys = [...this.buckets.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
      const b = this.buckets.get(key)!;
      stamp++;
      let reached = 0;
      const count = (seq: number) => {
        if (stamps[seq] === stamp) return;
        stamps[seq] = stamp;
        reached++;
        if (seen[seq] === 0) {
          seen[seq] = 1;
          reachedInPeriod++;
        }
      };
      for (const set of b.sets) for (let i = 0; i < set.length; i++) count(set[i]!);
      for (const seq of b.loose) count(seq);
      interactions += b.interactions;
      const [period, channel] = key.split('\u0000') as [string, string];
      rows.push({ period, channel, interactions: b.interactions, hcpsReached: reached });
    }
    return { summary: { interactions, hcpsReached: reachedInPeriod }, rows };
  }
}
