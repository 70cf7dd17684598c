// Analytics reports on a large world (docs/benchmarks.md, "Analytics on the large world"): each report over
// the last year, as compliance (no scope), timed RUNS times (default 3) after nothing else. Usage:
//   npx tsx bench/analytics-large.mts <code root, e.g. . or an old worktree> <database url> [report,report,…]
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [, , root, url, reportsArg] = process.argv;
if (!root || !url) {
  console.error('usage: npx tsx bench/analytics-large.mts <code root> <database url> [report,report,…]');
  process.exit(2);
}
const code = (file: string) => pathToFileURL(resolve(root, file)).href;
const { openStore } = await import(code('src/platform/database/index.ts'));
const { runAnalyticsReport, ANALYTICS_REPORTS } = await import(code('src/engagement/analytics.store.ts'));
const store = await openStore(url, { backgroundCheckpoints: false });
const principal = {
  id: 'usr_bench_compliance',
  email: 'compliance@bench.parley',
  name: 'Bench compliance',
  role: 'compliance',
  marketCodes: [],
  territoryIds: [],
  sessionId: 'bench',
};
const to = new Date().toISOString();
const from = new Date(Date.parse(to) - 365 * 86_400_000).toISOString();
const reports: string[] = reportsArg ? reportsArg.split(',') : [...ANALYTICS_REPORTS];
const runs = Number(process.env.RUNS ?? 3);
for (const report of reports) {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runAnalyticsReport(store.db, principal, report, { from, to, bucket: 'month', weeklyCap: 2 });
    ms.push(Math.round(performance.now() - started));
  }
  console.log(JSON.stringify({ report, ms }));
}
await store.close();
