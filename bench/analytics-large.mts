// Analytics reports on a large world (docs/benchmarks.md, "Analytics on the large world"): each report over
// the last year, as compliance (no scope), timed RUNS times (default 3) after nothing else. With
// VARIANTS=1, also over the default 90 days in day buckets, and for one market, one rep and one brand.
// With FILTERS='[{"brand":"Glucora"},{"market":"BR"}]', also over the year with each of those filters.
// With REFRESH=1, first rebuilds every stale day cell of the volume report, works out every stale HCP's
// facts kept per message and rebuilds every stale message day cell (code that has them), and times each.
// On SQLite the reports run as `parley serve` runs them, on READERS reader threads (default 2, as
// PARLEY_SQLITE_READERS; READERS=0: on the one connection), and each line also gives the longest the event
// loop went without running a 5 ms timer during those runs. Usage:
//   npx tsx bench/analytics-large.mts <code root, e.g. . or an old worktree> <database url> [report,report,…]
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';

const [, , root, url, reportsArg] = process.argv;
if (!root || !url) {
  console.error('usage: npx tsx bench/analytics-large.mts <code root> <database url> [report,report,…]');
  process.exit(2);
}
const code = (file: string) => pathToFileURL(resolve(root, file)).href;
const { openStore } = await import(code('src/platform/database/index.ts'));
const { runAnalyticsReport, ANALYTICS_REPORTS } = await import(code('src/engagement/analytics.store.ts'));
const store = await openStore(url, {
  backgroundCheckpoints: false,
  readers: Number(process.env.READERS ?? 2),
});
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
if (process.env.REFRESH === '1') {
  const { refreshDayCells } = await import(code('src/engagement/volume.store.ts'));
  const started = performance.now();
  const days = await refreshDayCells(store.db);
  console.log(JSON.stringify({ refreshedDays: days, ms: Math.round(performance.now() - started) }));
  const { refreshConversationFacts } = await import(code('src/engagement/conversation-facts.store.ts'));
  const factsStarted = performance.now();
  const hcps = await refreshConversationFacts(store.db);
  console.log(JSON.stringify({ refreshedHcps: hcps, ms: Math.round(performance.now() - factsStarted) }));
  const { refreshMessageDays } = await import(code('src/engagement/message-day-cells.store.ts')).catch(
    () => ({
      refreshMessageDays: null,
    }),
  );
  if (refreshMessageDays) {
    const messagesStarted = performance.now();
    const messageDays = await refreshMessageDays(store.db);
    console.log(
      JSON.stringify({
        refreshedMessageDays: messageDays,
        ms: Math.round(performance.now() - messagesStarted),
      }),
    );
  }
}
const year = { from, to, bucket: 'month', weeklyCap: 2 };
const variants: { name: string; filters: Record<string, unknown> }[] = [{ name: 'year', filters: year }];
if (process.env.VARIANTS === '1') {
  const one = async (query: string) =>
    Object.values((await sql.raw<Record<string, unknown>>(query).execute(store.db)).rows[0] ?? {})[0];
  const market = await one('select code from markets order by code limit 1');
  const rep = await one(`select id from users where role = 'rep' order by id limit 1`);
  const brand = await one('select brand from products order by brand limit 1');
  variants.push(
    {
      name: '90 days by day',
      filters: { ...year, from: new Date(Date.parse(to) - 90 * 86_400_000).toISOString(), bucket: 'day' },
    },
    { name: `market ${market}`, filters: { ...year, market } },
    { name: `rep ${rep}`, filters: { ...year, rep } },
    { name: `brand ${brand}`, filters: { ...year, brand } },
  );
}
for (const filters of JSON.parse(process.env.FILTERS ?? '[]') as Record<string, unknown>[])
  variants.push({ name: JSON.stringify(filters), filters: { ...year, ...filters } });
for (const report of reports)
  for (const variant of variants) {
    const ms: number[] = [];
    // The event loop's longest stretch without running a timer: what a webhook acknowledgement would wait.
    let last = performance.now();
    let loopHeldMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      loopHeldMs = Math.max(loopHeldMs, now - last);
      last = now;
    }, 5);
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await runAnalyticsReport(store.readers, principal, report, variant.filters);
      ms.push(Math.round(performance.now() - started));
    }
    loopHeldMs = Math.max(loopHeldMs, performance.now() - last);
    clearInterval(ticker);
    console.log(JSON.stringify({ report, variant: variant.name, ms, loopHeldMs: Math.round(loopHeldMs) }));
  }
await store.close();
