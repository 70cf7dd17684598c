import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendPacer } from './send-pacing.js';

describe('send pacing', () => {
  it('lets at most the per-number rate through in any one-second window', () => {
    const pacer = new SendPacer({ perNumberPerSecond: 3, pairSpacingMs: 0 });
    const verdicts = [0, 10, 20, 30, 40].map((t, i) => pacer.take('n1', `r${i}`, t));
    expect(verdicts.map((v) => v.ok)).toEqual([true, true, true, false, false]);
    expect(verdicts[3]).toEqual({ ok: false, retryAt: 1000, limit: 'number_rate' });
    expect(pacer.take('n1', 'r9', 1000).ok).toBe(true);
  });

  it('spaces two sends to the same recipient by the pair spacing', () => {
    const pacer = new SendPacer({ perNumberPerSecond: 100, pairSpacingMs: 6000 });
    expect(pacer.take('n1', 'hcp', 0).ok).toBe(true);
    expect(pacer.take('n1', 'hcp', 5999)).toEqual({ ok: false, retryAt: 6000, limit: 'pair_rate' });
    expect(pacer.take('n2', 'hcp', 1).ok).toBe(true); // another sending number is another pair
    expect(pacer.take('n1', 'hcp', 6000).ok).toBe(true);
  });

  it('never exceeds the rate for any arrival pattern (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 20 }),
        (times, rate) => {
          const pacer = new SendPacer({ perNumberPerSecond: rate, pairSpacingMs: 0 });
          const granted = [...times].sort((a, b) => a - b).filter((t, i) => pacer.take('n', `r${i}`, t).ok);
          return granted.every((t, i) => granted.filter((u, j) => j <= i && t - u < 1000).length <= rate);
        },
      ),
    );
  });
});
