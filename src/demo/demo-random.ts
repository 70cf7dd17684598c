import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/**
 * The demo world's only source of chance: xoroshiro128+ (pure-rand) seeded from the world's seed and a
 * label. Each part of the world draws from its own labelled stream (`hcp/42`, `history/42`, `templates`),
 * so asking for more interactions never changes the HCPs, and HCP 42's history can be generated on its
 * own, lazily, in any order.
 */
export class DemoRandom {
  private constructor(private readonly rng: RandomGenerator) {}

  /** The stream named `label` of the world seeded with `seed`. */
  static stream(seed: number, label: string): DemoRandom {
    return new DemoRandom(xoroshiro128plus(hash32(`${seed}/${label}`)));
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.rng, min, max);
  }

  /** A float in [0, 1). */
  float(): number {
    return (this.rng.next() >>> 0) / 0x1_0000_0000;
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** One of the entries, each as likely as its weight. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let x = this.float() * total;
    for (const [value, weight] of entries) {
      if (x < weight) return value;
      x -= weight;
    }
    const last = entries[entries.length - 1];
    if (!last) throw new Error('weighted pick from an empty list');
    return last[0];
  }

  /** `length` lower-case hex digits. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += (this.rng.next() >>> 0).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }
}

/** FNV-1a, 32 bits: turns a label into a generator seed. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/**
 * A demo id: `<prefix>_` then 32 hex digits like `newId`'s, the first 12 of them the sequence number, so
 * ids grow in the order rows are generated (appends at the end of each index, which keeps a bulk load
 * fast) and the rest drawn from the stream. Deterministic for a seed, opaque to clients.
 */
export function demoId(prefix: string, sequence: number, random: DemoRandom): string {
  return `${prefix}_${sequence.toString(16).padStart(12, '0')}${random.hex(20)}`;
}
