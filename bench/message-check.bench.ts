import { CompiledQuery, sql, type KyselyPlugin, type RootOperationNode } from 'kysely';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { seedDemoWorld } from '../src/demo/index.js';
import { refreshConversationFacts, refreshDayCells, refreshMessageDays } from '../src/engagement/index.js';
import { createSession } from '../src/identity/index.js';
import { loadDecisionContext } from '../src/messaging/index.js';
import { createParley } from '../src/parley.js';
import { parseConfig } from '../src/platform/config/index.js';
import type { Db, Dialect, MessagesTable, Store } from '../src/platform/database/index.js';
import { createLogger } from '../src/platform/logging/index.js';
import { decide, type DecisionContext, type DecisionRequest } from '../src/policy/index.js';
import { bareMessageRow, DIALECTS, openTestStore } from '../src/test-support/index.js';
import { ms, ratio, table, timeAlternatingHttp, timeCalls, type BenchModule } from './bench-kit.js';

/**
 * `POST /api/messages/check` through the whole HTTP stack (auth, zod, scoping, the decision inputs read
 * from the store, `decide()`, the stored decision and its audit) against `GET /healthz` (HTTP plus one
 * trivial query) in alternation, on a demo world with many interactions AND a long history of outbound
 * messages, so that a counter query that scanned history instead of its look-back range would show. Beside
 * it: the store reads alone (`loadDecisionContext`) and the pure `decide()` on the same context, and the
 * query plan of every decision-input query.
 */

const HCPS = 4_000;
const INTERACTIONS = 300_000;
const MESSAGES = 200_000;
// Enough that the 99th percentile is the 10th-slowest answer, not the 3rd: a tail, not an outlier.
const ITERATIONS = 1_000;
const BATCH = 1_000;
const DAY = 86_400_000;
const REP = 'usr_demo_rep1';

export interface DialectResult {
  rows: string[][];
  plans: string[][];
  outcomes: string;
}

async function measureDialect(dialect: Dialect, log: (line: string) => void): Promise<DialectResult> {
  const store = await openTestStore(dialect);
  try {
    return await measureCheck(store, log, { seedWorld: true });
  } finally {
    await store.destroy();
  }
}

/**
 * The measurement on a given store: seeds the demo world first when asked (an empty throw-away store), and
 * always adds the outbound history. Exported for the hand-run on the large world (docs/benchmarks.md).
 */
export async function measureCheck(
  store: Store,
  log: (line: string) => void,
  options: { seedWorld: boolean; seedOutbound?: boolean },
): Promise<DialectResult> {
  const { dialect } = store;
  const config = parseConfig({ PARLEY_DEMO: '0', PARLEY_LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1' });
  const parley = await createParley({ config, store, logger: createLogger({ level: 'silent' }) });
  try {
    const { db } = parley.context;
    const now = new Date();
    if (options.seedWorld) {
      log(`${dialect}: seeding ${HCPS} HCPs, ${INTERACTIONS} interactions`);
      await seedDemoWorld(parley.context, { seed: 1, hcps: HCPS, interactions: INTERACTIONS });
    }
    if (options.seedOutbound !== false) {
      log(`${dialect}: inserting ${MESSAGES} outbound messages`);
      await seedOutboundHistory(db, now, config.whatsapp.phoneNumberId);
    }
    // The figures the analytics keep as written are brought up to date first, as `parley seed` leaves
    // them: the running Parley's refresher would otherwise work through the whole backlog during the
    // timed run, and on SQLite each of its transactions holds the one connection the checks need.
    log(`${dialect}: refreshing the analytics' day cells and message facts`);
    await refreshDayCells(db);
    await refreshConversationFacts(db);
    await refreshMessageDays(db);
    // PostgreSQL's autovacuum gathers statistics within about a minute of a bulk load; do it now rather
    // than measure plans chosen blind. SQLite gathers none unless asked, so it is measured as it runs.
    if (dialect === 'postgres') await sql`analyze`.execute(db);

    const targets = await db
      .selectFrom('hcps')
      .innerJoin('hcp_territories', 'hcp_territories.hcp_id', 'hcps.id')
      .innerJoin('user_territories', 'user_territories.territory_id', 'hcp_territories.territory_id')
      .select('hcps.id')
      .where('user_territories.user_id', '=', REP)
      .where('hcps.erased_at', 'is', null)
      .orderBy('hcps.id')
      .limit(200)
      .execute();
    const template = await db
      .selectFrom('templates')
      .select(['id', 'parameters_json'])
      .where('status', '=', 'approved')
      .where('market_code', '=', 'BR')
      .where('type', '=', 'reminder')
      .orderBy('version', 'desc')
      .executeTakeFirstOrThrow();
    const parameterSpecs = JSON.parse(template.parameters_json) as { name: string; type: string }[];
    // `hcp_name` is filled from the HCP record, never sent.
    const parameters = Object.fromEntries(
      parameterSpecs.filter((p) => p.type !== 'hcp_name').map((p) => [p.name, parameterValue(p.type)]),
    );
    const bodies = targets.map((hcp) => ({ hcpId: hcp.id, templateId: template.id, parameters }));
    const { token } = await createSession(db, REP, now, 1);

    const address = await parley.app.listen({ port: 0, host: '127.0.0.1' });
    // The server's own share of each check: from the request reaching Node's HTTP server to the answer
    // handed to the socket. The client's figure adds the loopback round trip and the scheduling of two
    // processes on two cores; the bare-server floor row shows that part alone.
    const serverSide: number[] = [];
    parley.app.server.prependListener('request', (req, res) => {
      if (!req.url?.startsWith('/api/messages/check')) return;
      const started = performance.now();
      res.once('finish', () => serverSide.push(performance.now() - started));
    });
    log(`${dialect}: timing ${ITERATIONS} checks`);
    // The server process's CPU time over the timed run (every thread: the checkpointer's too): a figure the
    // machine's load moves far less than latency, so changes to the check's own work show in it.
    const cpuBefore = process.cpuUsage();
    // The client runs in a process of its own: from here it would share the server's event loop.
    const timings = await timeAlternatingHttp({
      base: address,
      subject: bodies.map((body) => ({
        method: 'POST',
        path: '/api/messages/check',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })),
      baseline: { method: 'GET', path: '/healthz' },
      iterations: ITERATIONS,
      warmup: 20,
    });
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerPair = (cpu.user + cpu.system) / 1000 / (ITERATIONS + 20);
    const unexpected = Object.keys(timings.statuses).filter((status) => status !== '200');
    if (unexpected.length) throw new Error(`answers other than 200: ${JSON.stringify(timings.statuses)}`);
    const outcomes = new Map<string, number>();
    const reasons = new Set<string>();
    for (const body of timings.subjectBodies) {
      const decision = JSON.parse(body) as { outcome: string; reasons: { code: string }[] };
      outcomes.set(decision.outcome, (outcomes.get(decision.outcome) ?? 0) + 1);
      for (const r of decision.reasons) reasons.add(r.code);
    }
    const http = { subject: timings.subject, baseline: timings.baseline };
    const server = serverSide.slice(-ITERATIONS); // the timed ones, after the warm-up
    const floor = await bareServerFloor();

    // The store reads alone and the pure decision, for the same HCPs, in this process.
    const requests = bodies.map((b): DecisionRequest => ({
      repId: REP,
      hcpId: b.hcpId,
      templateId: b.templateId,
      parameters: b.parameters,
    }));
    const phoneNumberId = config.whatsapp.phoneNumberId;
    let i = 0;
    const contexts: [DecisionRequest, DecisionContext][] = [];
    const inputs = await timeCalls(async () => {
      const request = requests[i++ % requests.length]!;
      const context = await loadDecisionContext(db, parley.context, { request, now, phoneNumberId });
      if (contexts.length < requests.length) contexts.push([request, context]);
    }, ITERATIONS);
    const decideTimes = timePure(contexts);

    const plans = await explainDecisionInputs(db, dialect, parley.context, requests[0]!, now, phoneNumberId);
    const h = http.subject;
    const b = http.baseline;
    // p50, p99 and the p50 against the health check's, for each set of samples.
    const latencyRow = (what: string, samples: readonly number[], format: (v: number) => string = ms) => [
      dialect,
      what,
      format(p(samples, 0.5)),
      format(p(samples, 0.99)),
      ratio(p(samples, 0.5), p(b, 0.5)),
    ];
    const rows = [
      latencyRow('`POST /api/messages/check` (HTTP)', h),
      latencyRow('`POST /api/messages/check`, server side (request in → answer out)', server),
      [
        dialect,
        'server CPU time per check and `GET /healthz` pair (all threads; mean, not a percentile)',
        ms(cpuPerPair),
        '',
        '',
      ],
      latencyRow('`GET /healthz` (HTTP + one query: baseline)', b),
      latencyRow('bare Node HTTP server, same client (the round trip alone)', floor),
      latencyRow('`loadDecisionContext` alone (in process)', inputs),
      latencyRow('pure `decide()` on the same contexts', decideTimes, (v) => v.toFixed(3)),
    ];
    log(
      `${dialect}: check p50 ${ms(p(h, 0.5))} ms p99 ${ms(p(h, 0.99))} ms; healthz p50 ${ms(p(b, 0.5))} ms; server CPU ${ms(cpuPerPair)} ms a pair`,
    );
    const outcomeLine = `${[...outcomes.entries()].map(([k, v]) => `${k} ${v}`).join(', ')} (reasons seen: ${[...reasons].sort().join(', ')})`;
    return { rows, plans, outcomes: outcomeLine };
  } finally {
    await parley.close();
  }
}

/**
 * The loopback round trip with nothing behind it: a bare Node HTTP server answering a constant, timed by the
 * same client process the same way. What the client adds to any answer on this machine.
 */
async function bareServerFloor(): Promise<number[]> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.setHeader('content-type', 'application/json').end('{"status":"ok"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const request = { method: 'GET' as const, path: '/healthz' };
    const timings = await timeAlternatingHttp({
      base: `http://127.0.0.1:${port}`,
      subject: [request],
      baseline: request,
      iterations: ITERATIONS,
      warmup: 20,
    });
    return [...timings.subject, ...timings.baseline];
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

function parameterValue(type: string): string {
  switch (type) {
    case 'date':
      return '2026-12-10';
    case 'time':
      return '10:30';
    default:
      return 'Hospital Central';
  }
}

/**
 * 200k outbound messages over two years, spread over the world's HCPs and its four reps (rep1 writes a
 * quarter of them): nearly all lie outside any counter's look-back, which is the history not to scan.
 */
async function seedOutboundHistory(db: Db, now: Date, phoneNumberId: string): Promise<void> {
  const hcpIds = (await db.selectFrom('hcps').select('id').orderBy('id').execute()).map((r) => r.id);
  const reps = ['usr_demo_rep1', 'usr_demo_rep2', 'usr_demo_rep3', 'usr_demo_rep4'];
  const templateIds = (await db.selectFrom('templates').select('id').execute()).map((r) => r.id);
  // A small deterministic generator: the same history on both dialects.
  let state = 42;
  const next = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  const statuses = ['read', 'read', 'delivered', 'sent', 'failed'];
  for (let start = 0; start < MESSAGES; start += BATCH) {
    const batch: MessagesTable[] = [];
    for (let n = start; n < Math.min(MESSAGES, start + BATCH); n++) {
      const created = new Date(now.getTime() - Math.floor(next() * 730 * DAY)).toISOString();
      batch.push(
        bareMessageRow({
          id: `msg_bench_${String(n).padStart(7, '0')}`,
          hcp_id: hcpIds[Math.floor(next() * hcpIds.length)]!,
          rep_id: reps[Math.floor(next() * reps.length)]!,
          direction: 'outbound',
          wamid: `wamid.bench.${n}`,
          phone_number_id: phoneNumberId,
          template_id: templateIds[Math.floor(next() * templateIds.length)] ?? null,
          provenance_json: '{"kind":"rep"}',
          send_kind: 'rep',
          status: statuses[Math.floor(next() * statuses.length)]!,
          created_at: created,
        }),
      );
    }
    await db.insertInto('messages').values(batch).execute();
  }
}

/** Milliseconds per pure `decide()` call, each context decided repeatedly after a warm-up. */
function timePure(contexts: readonly [DecisionRequest, DecisionContext][]): number[] {
  for (let k = 0; k < 2_000; k++) {
    const [request, context] = contexts[k % contexts.length]!;
    decide(request, context);
  }
  const samples: number[] = [];
  for (let k = 0; k < 5_000; k++) {
    const [request, context] = contexts[k % contexts.length]!;
    const started = performance.now();
    decide(request, context);
    samples.push(performance.now() - started);
  }
  return samples;
}

function p(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/**
 * The plan of every SELECT `loadDecisionContext` runs: the queries are captured as compiled by Kysely (a
 * plugin sees each one on its way to the driver) and explained with the same parameters.
 */
async function explainDecisionInputs(
  db: Db,
  dialect: Dialect,
  deps: Parameters<typeof loadDecisionContext>[1],
  request: DecisionRequest,
  now: Date,
  phoneNumberId: string,
): Promise<string[][]> {
  const captured: CompiledQuery[] = [];
  const capture: KyselyPlugin = {
    transformQuery(args) {
      captured.push(db.getExecutor().compileQuery(args.node as RootOperationNode, args.queryId));
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  await loadDecisionContext(db.withPlugin(capture), deps, { request, now, phoneNumberId });
  const rows: string[][] = [];
  for (const query of captured) {
    if (!/^\s*select/i.test(query.sql)) continue;
    const prefix = dialect === 'sqlite' ? 'explain query plan ' : 'explain ';
    const result = await db.executeQuery<Record<string, unknown>>(
      CompiledQuery.raw(prefix + query.sql, [...query.parameters]),
    );
    const lines = result.rows.map((r) =>
      dialect === 'sqlite' ? String(r.detail) : String(r['QUERY PLAN']).trim().replace(/\s+/g, ' '),
    );
    const plan =
      dialect === 'sqlite'
        ? lines.join('; ')
        : lines.filter((l) => /Scan|Join|Loop|Sort|Aggregate|Append|Hash\b/.test(l)).join('; ');
    rows.push([dialect, describe(query.sql), '`' + plan.replace(/\|/g, '\\|') + '`']);
  }
  return rows;
}

/** A short name for a captured query: its table(s) and the columns of its WHERE. */
function describe(sqlText: string): string {
  const from = /from\s+"?(\w+)"?/i.exec(sqlText)?.[1] ?? '?';
  const where = /where\s+(.*)$/is.exec(sqlText)?.[1] ?? '';
  const columns = [...where.matchAll(/"?(\w+)"?\."?(\w+)"?\s*(=|>=|<|in|is)/gi)].map(
    (m) => `${m[2]} ${m[3]}`,
  );
  const bare = [...where.matchAll(/(?:^|\(|and\s+|or\s+)"?(\w+)"?\s*(=|>=|<|in|is)\s/gi)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  const conditions = [...new Set([...columns, ...bare])].filter((c) => !/^(and|or)\b/i.test(c));
  return `${from}${conditions.length ? ` (${conditions.join(', ')})` : ''}`;
}

export const bench: BenchModule = {
  name: 'message-check',
  title: 'Policy check through HTTP: `POST /api/messages/check`',
  async run({ log }) {
    const results: DialectResult[] = [];
    for (const dialect of DIALECTS) results.push(await measureDialect(dialect, log));
    return [
      `Demo world of ${HCPS.toLocaleString('en')} HCPs and ${INTERACTIONS.toLocaleString('en')} interactions (seed 1), plus ${MESSAGES.toLocaleString('en')} outbound`,
      'messages over two years spread over the HCPs and the four demo reps (the checking rep wrote a quarter of them),',
      `so a counter query that read history instead of its look-back range would show. ${ITERATIONS.toLocaleString('en')} sequential checks after`,
      '20 untimed ones, by `rep1` over loopback for 200 HCPs of their territory with an approved BR reminder template,',
      'in alternation with `GET /healthz`, from a client in a process of its own (one keep-alive connection, one',
      'request at a time: bench/http-client.child.ts), so the client’s work is not counted as the server’s; the',
      'in-process rows read the inputs and decide for the same HCPs. The server-side row times the same checks inside',
      'Parley’s process (the request reaching Node’s HTTP server → the answer handed to the socket); the bare-server',
      'row is the same client against a Node HTTP server that answers a constant: the loopback round trip and the',
      'scheduling of two processes on two cores, which every answer measured here carries.',
      'PostgreSQL is measured after `ANALYZE` (what autovacuum does within a minute of a bulk load); SQLite as it',
      'runs, without statistics. Each check also stores its decision with the snapshot of its inputs (on',
      'PostgreSQL, with `synchronous_commit` on, the commit waits for a WAL flush); `loadDecisionContext` writes nothing.',
      `Decisions: ${results.map((r, k) => `${DIALECTS[k]} ${r.outcomes}`).join('; ')}.`,
      'Target (issue 4): p99 < 5 ms through HTTP on SQLite.',
      '',
      table(
        ['store', 'what', 'p50 (ms)', 'p99 (ms)', 'p50 vs healthz'],
        results.flatMap((r) => r.rows),
      ),
      '',
      'Plan of each query `loadDecisionContext` runs, captured as Kysely compiled it (SQLite `EXPLAIN QUERY PLAN`;',
      'PostgreSQL `EXPLAIN`, scan, join and sort lines only). The counter reads of `messages` are ranges of indexes',
      'keyed by the HCP or the rep (PostgreSQL, whose statistics show no message `scheduled` or `pending_review`, reads',
      'the older held ones through messages(status, created_at) instead); the opt-in request times (`type =`) read',
      'every opt-in request the HCP was ever sent. The sequential scans on PostgreSQL are of tables of a few rows',
      "(rulebooks, markets, the world's 51 templates, empty holds and preferences), where the planner rightly prefers them.",
      '',
      table(
        ['store', 'query (table, conditions)', 'plan'],
        results.flatMap((r) => r.plans),
      ),
    ].join('\n');
  },
};
