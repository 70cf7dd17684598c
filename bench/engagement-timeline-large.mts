// Timeline latency on a large world (docs/benchmarks.md, "Import and export on the large world"): listTimeline (first page of 20, then the page after it) for N random
// HCPs, as the route runs it after findVisibleHcp. Usage:
//   node --import tsx bench/engagement-timeline-large.mts <code root, e.g. . or an old worktree> <database url> [N=1000] [seed=1]
// The same seed picks the same HCPs: run it twice for a warm pass.
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
const [, , root, url, nStr = '1000', seedStr = '1'] = process.argv;
const code = (file: string) => pathToFileURL(resolve(root!, file)).href;
const { openStore } = await import(code('src/platform/database/index.ts'));
const { listTimeline } = await import(code('src/engagement/timeline.store.ts'));
const store = await openStore(url!, { backgroundCheckpoints: false });
const ids: string[] = (await store.db.selectFrom('hcps').select('id').orderBy('id').execute()).map(
  (h: { id: string }) => h.id,
);
let s = Number(seedStr) >>> 0 || 1;
const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
const n = Number(nStr);
const first: number[] = [];
const second: number[] = [];
let rows = 0;
for (let i = 0; i < n; i++) {
  const id = ids[Math.floor(random() * ids.length)]!;
  let t = performance.now();
  const page = await listTimeline(store.db, id, { limit: 20 });
  first.push(performance.now() - t);
  rows += page.items.length;
  if (page.nextCursor) {
    t = performance.now();
    const next = await listTimeline(store.db, id, { limit: 20, cursor: page.nextCursor });
    second.push(performance.now() - t);
    rows += next.items.length;
  }
}
const q = (a: number[], p: number) => {
  const v = [...a].sort((x, y) => x - y);
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))]!.toFixed(2);
};
console.log(
  JSON.stringify({
    hcps: n,
    rows,
    firstPage: { p50: q(first, 50), p95: q(first, 95), p99: q(first, 99), max: q(first, 100) },
    nextPage: {
      n: second.length,
      p50: q(second, 50),
      p95: q(second, 95),
      p99: q(second, 99),
      max: q(second, 100),
    },
  }),
);
await store.close();
