import { hash } from 'node:crypto';

/**
 * The keys an import has read, each with the line it was first read on: the check that no record comes
 * twice in one file, which must hold every key until the file's end. Kept as strings in a Map, a key cost
 * 100–130 bytes (the string and the map's entry): 1–1.3 GB of a 10M-line file, and V8's 4 GB heap full
 * at some 25–30M lines (docs/benchmarks.md). Here a key is kept as the first 128 bits of its SHA-256, with
 * its line, in typed arrays (20 bytes a slot) filled to between three eighths and three quarters: 27 to 53
 * bytes a key, outside V8's heap (whose limit does not count typed arrays' memory), and no object for the
 * garbage collector to trace. Linear probing stays short at that fill (about 8 slots looked at for a new
 * key when three quarters full, 2.5 for a key kept).
 *
 * Two different keys would be taken for one only if their hashes' first 128 bits were equal: about
 * n² / 2¹²⁹ for n keys (10⁻²¹ for a billion). SHA-256 rather than a faster non-cryptographic hash, so that
 * no crafted file can make two of its keys collide; it costs about a microsecond a key, as much as a
 * Map's own `set` (measured on these machines).
 */
export class SeenKeys {
  /** A key's hash, four 32-bit words a slot; a slot whose line is 0 is free (lines count from 1). */
  #hashes: Uint32Array;
  #lines: Uint32Array;
  #mask: number;
  #size = 0;
  /** A key's hash, 16 bytes or more (only the first 16 are kept): SHA-256 but in tests. */
  readonly #digest: (key: string) => Buffer;

  constructor(
    initialSlots = 1 << 12,
    digest: (key: string) => Buffer = (key) => hash('sha256', key, 'buffer'),
  ) {
    this.#digest = digest;
    const slots = 2 ** Math.ceil(Math.log2(Math.max(initialSlots, 2)));
    this.#hashes = new Uint32Array(slots * 4);
    this.#lines = new Uint32Array(slots);
    this.#mask = slots - 1;
  }

  /** How many distinct keys are kept. */
  get size(): number {
    return this.#size;
  }

  /**
   * The line `key` was first read on, if it was read before; otherwise `key` is kept as first read on
   * `line` (1 or more) and the answer is undefined.
   */
  firstLineOf(key: string, line: number): number | undefined {
    if (!Number.isInteger(line) || line < 1 || line > 0xffffffff) throw new RangeError(`bad line ${line}`);
    const digest = this.#digest(key);
    const h0 = digest.readUInt32LE(0);
    const h1 = digest.readUInt32LE(4);
    const h2 = digest.readUInt32LE(8);
    const h3 = digest.readUInt32LE(12);
    const slot = this.#find(h0, h1, h2, h3);
    const first = this.#lines[slot]!;
    if (first !== 0) return first;
    this.#put(slot, h0, h1, h2, h3, line);
    if (++this.#size * 4 > this.#lines.length * 3) this.#grow();
    return undefined;
  }

  /** The slot holding this hash, or the free slot where it belongs (linear probing from its first word). */
  #find(h0: number, h1: number, h2: number, h3: number): number {
    const hashes = this.#hashes;
    const lines = this.#lines;
    for (let slot = h0 & this.#mask; ; slot = (slot + 1) & this.#mask) {
      if (lines[slot] === 0) return slot;
      const at = slot * 4;
      if (hashes[at] === h0 && hashes[at + 1] === h1 && hashes[at + 2] === h2 && hashes[at + 3] === h3)
        return slot;
    }
  }

  #put(slot: number, h0: number, h1: number, h2: number, h3: number, line: number) {
    const at = slot * 4;
    this.#hashes[at] = h0;
    this.#hashes[at + 1] = h1;
    this.#hashes[at + 2] = h2;
    this.#hashes[at + 3] = h3;
    this.#lines[slot] = line;
  }

  /** Twice the slots, every kept hash placed again (the hashes are kept whole, so no key is needed). */
  #grow() {
    const hashes = this.#hashes;
    const lines = this.#lines;
    this.#hashes = new Uint32Array(hashes.length * 2);
    this.#lines = new Uint32Array(lines.length * 2);
    this.#mask = this.#lines.length - 1;
    for (let slot = 0; slot < lines.length; slot++) {
      if (lines[slot] === 0) continue;
      const at = slot * 4;
      const h0 = hashes[at]!;
      const h1 = hashes[at + 1]!;
      const h2 = hashes[at + 2]!;
      const h3 = hashes[at + 3]!;
      this.#put(this.#find(h0, h1, h2, h3), h0, h1, h2, h3, lines[slot]!);
    }
  }
}
