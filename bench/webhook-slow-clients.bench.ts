import { readFileSync } from 'node:fs';
import {
  killParley,
  startParleyProcess,
  throwAwayDatabase,
  type ParleyProcess,
} from '../src/whatsapp/parley-process.test-support.js';
import {
  flowDeliveries,
  openSlowCrowd,
  quantile,
  SLOW_KINDS,
  type FlowResult,
} from '../src/whatsapp/slow-clients.test-support.js';
import { table, type BenchModule } from './bench-kit.js';

/**
 * RELIABILITY 8's figures: signed valid deliveries to `parley serve` at a steady rate, alone and while
 * 1,000 slow clients (a third silent, a third trickling headers, a third trickling a body, a byte a second
 * each) are held open, in alternation so the machine's noise hits both alike; then how long the server's
 * own limits (src/platform/http/app.ts) take to close each kind with a 408. SQLite only: what is measured
 * is connection handling, which the store plays no part in (the test runs both dialects).
 */

const SECRET = 'slow-bench-app-secret-0123';
const RATE = 100;
const SECONDS = 3;
const ROUNDS = 3;
const SLOW_CLIENTS = 1_000;

/** CPU time of a process in ms, from /proc (Linux: utime + stime, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Window {
  results: FlowResult[];
  serverCpuMs: number;
}

async function window(parley: ParleyProcess, tag: string): Promise<Window> {
  const before = cpuMs(parley.child.pid!);
  const results = await flowDeliveries(parley.port, SECRET, { count: RATE * SECONDS, perSecond: RATE, tag });
  return { results, serverCpuMs: cpuMs(parley.child.pid!) - before };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const bench: BenchModule = {
  name: 'webhook-slow-clients',
  title: 'Webhook under 1,000 slow clients (slowloris): valid deliveries alone and beside them',
  async run({ log }) {
    const db = await throwAwayDatabase('sqlite', 'parley_slowbench');
    const parley = await startParleyProcess(db.url, SECRET);
    try {
      log('warming up');
      await flowDeliveries(parley.port, SECRET, { count: 300, perSecond: RATE, tag: 'WARM' });
      const alone: Window[] = [];
      const beside: Window[] = [];
      let crowdIdleCpuMs = 0;
      let fewestOpen = Infinity;
      for (let round = 0; round < ROUNDS; round++) {
        log(`round ${round + 1}: alone`);
        alone.push(await window(parley, `A${round}`));
        log(`round ${round + 1}: beside ${SLOW_CLIENTS} slow clients`);
        const crowd = await openSlowCrowd(parley.port, SLOW_CLIENTS, SECRET);
        try {
          const idleBefore = cpuMs(parley.child.pid!);
          await sleep(1_000);
          crowdIdleCpuMs += cpuMs(parley.child.pid!) - idleBefore;
          beside.push(await window(parley, `B${round}`));
          fewestOpen = Math.min(fewestOpen, crowd.open());
        } finally {
          crowd.close();
        }
      }
      log('one more crowd, left to the server to close');
      const crowd = await openSlowCrowd(parley.port, SLOW_CLIENTS, SECRET);
      for (let waited = 0; crowd.open() > 0 && waited < 60_000; waited += 250) await sleep(250);
      const cuts = SLOW_KINDS.map((kind) => {
        const of = crowd.clients.filter((c) => c.kind === kind);
        const closed = of.filter((c) => c.closedAt !== undefined);
        const seconds = closed.map((c) => (c.closedAt! - c.connectedAt) / 1000);
        return [
          kind,
          String(of.length),
          String(closed.filter((c) => /^HTTP\/1\.1 408 /.test(c.received)).length),
          quantile(seconds, 0.5).toFixed(1),
          Math.max(...seconds).toFixed(1),
          String(of.length - closed.length),
        ];
      });
      crowd.close();
      const upAfter =
        parley.child.exitCode === null && (await fetch(`${parley.base}/healthz`)).status === 200;

      const summary = (windows: Window[]) => {
        const results = windows.flatMap((w) => w.results);
        const ok = results.filter((r) => r.status === 200);
        const ms = results.map((r) => r.ms);
        const cpu = windows.reduce((a, w) => a + w.serverCpuMs, 0);
        return {
          n: results.length,
          non200: results.length - ok.length,
          p50: quantile(ms, 0.5),
          p99: quantile(ms, 0.99),
          max: Math.max(...ms),
          cpuPerDelivery: cpu / Math.max(1, ok.length),
        };
      };
      const a = summary(alone);
      const b = summary(beside);
      const row = (name: string, s: ReturnType<typeof summary>) => [
        name,
        String(s.n),
        s.p50.toFixed(1),
        s.p99.toFixed(1),
        s.max.toFixed(1),
        s.cpuPerDelivery.toFixed(2),
        String(s.non200),
      ];
      return [
        `\`parley serve\` as a child process on a throw-away SQLite file, webhook processing running as in`,
        `production. Valid deliveries: signed unique Meta-shaped inbound texts, ${RATE}/s open loop over keep-alive`,
        `connections for ${SECONDS} s, from the parent process; ${ROUNDS} rounds, each a window alone then a window beside`,
        `${SLOW_CLIENTS.toLocaleString('en')} slow clients opened just before it (a third silent, a third sending a request head a byte`,
        `a second, a third sending a whole head and then the body a byte a second). Server CPU from /proc.`,
        '',
        table(
          [
            'valid deliveries',
            'n',
            'p50 (ms)',
            'p99 (ms)',
            'max (ms)',
            'server CPU per delivery (ms)',
            'non-200',
          ],
          [row('alone', a), row(`beside ${SLOW_CLIENTS.toLocaleString('en')} slow clients`, b)],
        ),
        '',
        `p99 per round, alone / beside (ms): ${alone
          .map(
            (w, i) =>
              `${quantile(
                w.results.map((r) => r.ms),
                0.99,
              ).toFixed(0)} / ${quantile(
                beside[i]!.results.map((r) => r.ms),
                0.99,
              ).toFixed(0)}`,
          )
          .join(
            ', ',
          )}. The machine's own noise moves p99 more than the slow clients do; CPU time per delivery is the steadier comparison.`,
        '',
        `Beside the slow clients vs alone: p99 **${(b.p99 / a.p99).toFixed(2)}×**, server CPU per delivery ` +
          `${(b.cpuPerDelivery / a.cpuPerDelivery).toFixed(2)}×. All ${SLOW_CLIENTS.toLocaleString('en')} still open at the end of every window: ` +
          `${fewestOpen === SLOW_CLIENTS ? 'yes' : `no (fewest ${fewestOpen})`}. Holding and feeding them cost the server ` +
          `${(crowdIdleCpuMs / ROUNDS / 10).toFixed(1)}% of a core (CPU time over a second with only the crowd). Target (RELIABILITY 8): ` +
          `p99 ≤ 1 s beside them: ${b.p99 <= 1000 ? 'met' : '**not met**'}.`,
        '',
        'Left alone, a last crowd is closed by the server (headersTimeout 10 s, requestTimeout 30 s, checked every 2 s):',
        '',
        table(
          [
            'slow client',
            'n',
            'answered 408',
            'closed after, median (s)',
            'max (s)',
            'still open after 60 s',
          ],
          cuts,
        ),
        '',
        `Server up and /healthz 200 afterwards: ${upAfter ? 'yes' : '**no**'}.`,
      ].join('\n');
    } finally {
      await killParley(parley);
      await db.drop();
    }
  },
};
