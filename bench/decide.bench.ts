import { performance } from 'node:perf_hooks';
import { decide } from '../src/policy/index.js';
import type { BenchModule } from './bench-kit.js';
import { baseContext, baseRequest, sent } from '../src/policy/decide.fixtures.js';

/**
 * Micro-benchmark of the pure policy engine: decisions per second for three typical requests (an allowed
 * confirmation; a denial at the frequency cap, which also searches the next allowed moment; a quiet-hours
 * denial across a weekend), measured in the same run against a baseline that only copies the same
 * context (a JSON round-trip), so the figure can be read on any machine.
 */
export const bench: BenchModule = {
  name: 'decide',
  title: 'Policy engine: pure `decide()` decisions per second',
  async run({ log }): Promise<string> {
    const scenes = [
      ['allow: approved confirmation, consented, no history', baseRequest(), baseContext()],
      [
        'deny: frequency cap (+ next allowed moment)',
        baseRequest(),
        baseContext({ hcpMessages: [sent('2026-02-26T13:00:00.000Z'), sent('2026-03-02T13:00:00.000Z')] }),
      ],
      [
        'deny: quiet hours on a Friday night',
        baseRequest(),
        baseContext({ now: '2026-03-07T00:00:00.000Z' }),
      ],
    ] as const;
    const rows: string[] = [];
    for (const [label, request, context] of scenes) {
      log(label);
      const perSecond = measure(() => decide(request, context));
      const baseline = measure(() => JSON.parse(JSON.stringify({ request, context })) as unknown);
      rows.push(
        `| ${label} | ${Math.round(perSecond).toLocaleString('en')} | ${(1e6 / perSecond).toFixed(1)} µs | ${Math.round(baseline).toLocaleString('en')} | ${(perSecond / baseline).toFixed(2)}× |`,
      );
    }
    return [
      'Pure function, one core, warmed up; baseline is a JSON round-trip of the same request and context.',
      '',
      '| scenario | decisions/s | per decision | baseline ops/s | vs baseline |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
    ].join('\n');
  },
};

/** Operations per second of `fn`, over about half a second after a warm-up. */
function measure(fn: () => unknown): number {
  for (let i = 0; i < 2_000; i++) fn();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < 500) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}
