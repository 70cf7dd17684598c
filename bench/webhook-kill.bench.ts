import { fork } from 'node:child_process';
import { Agent } from 'node:http';
import autocannon from 'autocannon';
import { fileURLToPath } from 'node:url';
import { openStore, type Dialect } from '../src/platform/database/index.js';
import { DIALECTS } from '../src/test-support/index.js';
import {
  killParley,
  postDelivery,
  signedTextDelivery,
  startParleyProcess,
  storedDeliveryShas,
  throwAwayDatabase,
  type SignedDelivery,
} from '../src/whatsapp/parley-process.test-support.js';
import { table, type BenchModule } from './bench-kit.js';

/**
 * RELIABILITY 9 at its real rate: `parley serve` on a throw-away store, a load generator offering 2,000
 * signed unique deliveries/s, kill -9 at a random moment of the load, restart — five times — then a replay
 * of every delivery ever sent (Meta retries what it got no 200 for, and sometimes what it did), and the
 * checks: each 200 was in the inbox the moment the process died; after the replay and processing, one
 * inbox row per delivery, one inbound message per wamid, nothing pending. The baseline, measured in the
 * same run, is the same generator against the bare HMAC-and-insert floor (bench/webhook-server.child.ts):
 * what this machine lets the generator reach at all.
 */

const SECRET = 'kill-bench-app-secret-0123';
const OFFERED_PER_SECOND = 2_000;
const KILLS = 5;
/** The load runs this long before the kill, at random: the kill lands anywhere in a burst. */
const KILL_AFTER_MS: [number, number] = [2_000, 5_000];
/** The generator keeps offering after the kill (refused connections), as Meta would. */
const AFTER_KILL_MS = 300;
const CONNECTIONS = 512;
/** The floor child's secret (bench/webhook-server.child.ts; importing it would start a server). */
const FLOOR_SECRET = 'bench-app-secret-0123456789';
const CHILD = fileURLToPath(new URL('./webhook-server.child.ts', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Load {
  offered: number;
  ok: number;
  failed: number;
  /** Offered while the server was up (from the start to the kill), for the rates. */
  upMs: number;
  okWhileUp: number;
  offeredWhileUp: number;
}

/**
 * autocannon (its lean client is what lets one process offer thousands a second on this machine) at
 * `rate` deliveries/s over CONNECTIONS keep-alive connections, each request a new signed delivery built
 * in `setupRequest`; its answer comes back to `onResponse` with the connection's context, which holds the
 * delivery that connection last sent (one request in flight per connection, no pipelining). `kill` runs
 * at `killAtMs`; the load stops AFTER_KILL_MS later.
 */
async function offer(options: {
  port: number;
  secret: string;
  tag: string;
  rate: number;
  durationMs: number;
  killAtMs?: number;
  kill?: () => Promise<void>;
  onSent?: (d: SignedDelivery) => void;
  onOk?: (d: SignedDelivery) => void;
}): Promise<Load> {
  const load: Load = {
    offered: 0,
    ok: 0,
    failed: 0,
    upMs: options.durationMs,
    okWhileUp: 0,
    offeredWhileUp: 0,
  };
  let killing: Promise<void> | undefined;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${options.port}/webhooks/whatsapp`,
        method: 'POST',
        connections: CONNECTIONS,
        overallRate: options.rate,
        duration: 3_600, // stopped below
        timeout: 15,
        requests: [
          {
            setupRequest: (req, context) => {
              const d = signedTextDelivery(options.tag, load.offered, options.secret);
              load.offered += 1;
              (context as { delivery?: SignedDelivery }).delivery = d;
              options.onSent?.(d);
              return {
                ...req,
                body: d.body,
                headers: { 'content-type': 'application/json', 'x-hub-signature-256': d.signature },
              };
            },
            onResponse: (status, _body, context) => {
              const d = (context as { delivery?: SignedDelivery }).delivery;
              if (status !== 200 || !d) {
                load.failed += 1;
                return;
              }
              load.ok += 1;
              if (!killing) load.okWhileUp += 1;
              options.onOk?.(d);
            },
          },
        ],
      },
      (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
    );
    if (options.kill && options.killAtMs !== undefined) {
      const kill = options.kill;
      setTimeout(() => {
        load.upMs = performance.now() - started;
        load.offeredWhileUp = load.offered;
        killing = kill();
      }, options.killAtMs);
    }
    setTimeout(() => instance.stop(), options.durationMs);
  });
  if (!killing) {
    load.offeredWhileUp = load.offered;
    load.okWhileUp = load.ok;
    load.upMs = performance.now() - started;
  }
  await killing;
  load.failed = Math.max(load.failed, load.offered - load.ok);
  return load;
}

/** Replays every delivery, `concurrency` at a time, until each has its 200 (Meta retries for days). */
async function replay(port: number, deliveries: readonly SignedDelivery[], concurrency = 64) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  let retries = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const d = deliveries[next++];
        if (!d) return;
        while ((await postDelivery(`http://127.0.0.1:${port}`, d, { agent, timeoutMs: 15_000 })) !== 200) {
          retries += 1;
          if (retries > deliveries.length) throw new Error('the replay keeps failing');
          await sleep(50);
        }
      }
    }),
  );
  agent.destroy();
  return { ms: performance.now() - started, retries };
}

interface Final {
  inboxRows: number;
  distinctInbox: number;
  inboxNotProcessed: number;
  eventsPending: number;
  /** `message:<wamid>` events: one per wamid however often its delivery was stored. */
  messageEvents: number;
  inboundMessages: number;
  distinctWamids: number;
  missingWamids: number;
  strangerWamids: number;
  drainMs: number;
}

/** Waits for processing to finish (nothing pending), then counts. */
async function settle(url: string, sent: readonly SignedDelivery[]): Promise<Final> {
  const store = await openStore(url);
  try {
    const started = performance.now();
    const pending = async () =>
      Number(
        (
          await store.db
            .selectFrom('webhook_inbox')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('state', '=', 'pending')
            .executeTakeFirstOrThrow()
        ).n,
      );
    for (let waited = 0; (await pending()) > 0 && waited < 600_000; waited += 250) await sleep(250);
    const drainMs = performance.now() - started;
    const inbox = await store.db.selectFrom('webhook_inbox').select(['body_sha256', 'state']).execute();
    const eventsPending = Number(
      (
        await store.db
          .selectFrom('webhook_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('state', '=', 'pending')
          .executeTakeFirstOrThrow()
      ).n,
    );
    const messageEvents = Number(
      (
        await store.db
          .selectFrom('webhook_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('event_key', 'like', 'message:%')
          .executeTakeFirstOrThrow()
      ).n,
    );
    const messages = await store.db
      .selectFrom('messages')
      .select('wamid')
      .where('direction', '=', 'inbound')
      .execute();
    const wamids = new Set(messages.map((m) => m.wamid));
    const expected = new Set(sent.map((d) => d.wamid));
    return {
      inboxRows: inbox.length,
      distinctInbox: new Set(inbox.map((r) => r.body_sha256)).size,
      inboxNotProcessed: inbox.filter((r) => r.state !== 'processed').length,
      eventsPending,
      messageEvents,
      inboundMessages: messages.length,
      distinctWamids: wamids.size,
      missingWamids: [...expected].filter((w) => !wamids.has(w)).length,
      strangerWamids: [...wamids].filter((w) => w !== null && !expected.has(w)).length,
      drainMs,
    };
  } finally {
    await store.close();
  }
}

interface Soak {
  dialect: Dialect;
  rounds: Array<Load & { killAtMs: number; startMs: number; ackedMissing: number }>;
  sent: number;
  acked: number;
  replay: { ms: number; retries: number };
  final: Final;
}

async function soak(dialect: Dialect, log: (line: string) => void): Promise<Soak> {
  const db = await throwAwayDatabase(dialect, 'parley_killbench');
  const sent: SignedDelivery[] = [];
  const acked = new Set<string>();
  const rounds: Soak['rounds'] = [];
  try {
    for (let round = 0; round < KILLS; round++) {
      const t0 = performance.now();
      const parley = await startParleyProcess(db.url, SECRET);
      const startMs = performance.now() - t0;
      const killAtMs = KILL_AFTER_MS[0] + Math.random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]);
      const ackedThisRound = new Set<string>();
      const load = await offer({
        port: parley.port,
        secret: SECRET,
        tag: `K${round}R`,
        rate: OFFERED_PER_SECOND,
        durationMs: killAtMs + AFTER_KILL_MS,
        killAtMs,
        kill: () => killParley(parley),
        onSent: (d) => sent.push(d),
        onOk: (d) => {
          acked.add(d.sha256);
          ackedThisRound.add(d.sha256);
        },
      });
      await killParley(parley);
      // With the process gone: every 200 of this round is in the inbox.
      const stored = await storedDeliveryShas(db.url);
      const ackedMissing = [...ackedThisRound].filter((sha) => !stored.has(sha)).length;
      rounds.push({ ...load, killAtMs, startMs, ackedMissing });
      log(
        `${dialect} round ${round + 1}: killed at ${(killAtMs / 1000).toFixed(1)} s, offered ${load.offered}, 200 ${load.ok}, ` +
          `acknowledged but missing ${ackedMissing}`,
      );
    }
    // Meta retries everything; what had its 200 comes again too (a duplicate must be a no-op).
    const parley = await startParleyProcess(db.url, SECRET);
    try {
      log(`${dialect}: replaying all ${sent.length} deliveries`);
      const replayed = await replay(parley.port, sent);
      log(`${dialect}: waiting for processing to finish`);
      const final = await settle(db.url, sent);
      return { dialect, rounds, sent: sent.length, acked: acked.size, replay: replayed, final };
    } finally {
      await killParley(parley);
    }
  } finally {
    await db.drop();
  }
}

/** The generator against the bare floor for the same time: how much this machine lets it offer at all. */
async function floorBaseline(): Promise<Load> {
  const child = fork(CHILD, ['floor'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`floor server exited (${code})`)));
    });
    return await offer({
      port,
      secret: FLOOR_SECRET,
      tag: 'FLOOR',
      rate: OFFERED_PER_SECOND,
      durationMs: 3_000,
    });
  } finally {
    child.kill('SIGKILL');
  }
}

const perSecond = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en');

export const bench: BenchModule = {
  name: 'webhook-kill',
  title: 'Webhook durability: kill -9 under 2,000 deliveries/s, five times, then a replay of everything',
  async run({ log }) {
    log('baseline: the generator against the bare floor');
    const floor = await floorBaseline();
    const soaks: Soak[] = [];
    for (const dialect of DIALECTS) {
      log(`soak on ${dialect}`);
      soaks.push(await soak(dialect, log));
    }
    const verdict = (s: Soak) => {
      const f = s.final;
      const ok =
        s.rounds.every((r) => r.ackedMissing === 0) &&
        f.distinctInbox === s.sent &&
        f.messageEvents === s.sent &&
        f.inboxNotProcessed === 0 &&
        f.eventsPending === 0 &&
        f.inboundMessages === s.sent &&
        f.distinctWamids === s.sent &&
        f.missingWamids === 0 &&
        f.strangerWamids === 0;
      return ok ? '**pass**' : '**FAIL**';
    };
    const roundRows = soaks.flatMap((s) =>
      s.rounds.map((r, i) => [
        s.dialect,
        String(i + 1),
        (r.startMs / 1000).toFixed(1),
        (r.killAtMs / 1000).toFixed(2),
        perSecond(r.offeredWhileUp, r.upMs),
        perSecond(r.okWhileUp, r.upMs),
        r.ok.toLocaleString('en'),
        (r.offered - r.ok).toLocaleString('en'),
        String(r.ackedMissing),
      ]),
    );
    const finalRows = soaks.map((s) => [
      s.dialect,
      s.sent.toLocaleString('en'),
      s.acked.toLocaleString('en'),
      `${(s.replay.ms / 1000).toFixed(1)} s (${perSecond(s.sent, s.replay.ms)}/s), ${s.replay.retries} retried`,
      `${(s.final.drainMs / 1000).toFixed(1)} s`,
      `${s.final.inboxRows.toLocaleString('en')} (${s.final.distinctInbox.toLocaleString('en')} distinct bodies)`,
      s.final.messageEvents.toLocaleString('en'),
      String(s.final.inboxNotProcessed + s.final.eventsPending),
      `${s.final.inboundMessages.toLocaleString('en')} (${s.final.distinctWamids.toLocaleString('en')} distinct)`,
      `${s.final.missingWamids} / ${s.final.strangerWamids}`,
      verdict(s),
    ]);
    return [
      `\`parley serve\` as a child process on a throw-away store (a temp SQLite file; a fresh PostgreSQL database),`,
      `webhook processing running as in production. The generator (autocannon in the parent process, ${CONNECTIONS} keep-alive connections, one request in flight each)`,
      `offers ${OFFERED_PER_SECOND.toLocaleString('en')} signed, unique, Meta-shaped inbound texts a second, open loop; Parley is killed with`,
      `SIGKILL ${KILL_AFTER_MS[0] / 1000}–${KILL_AFTER_MS[1] / 1000} s into each burst (at random), the generator goes on ${AFTER_KILL_MS} ms more,`,
      `then Parley restarts on the same store: ${KILLS} kills. With the process dead, every delivery that had its 200 is looked up in`,
      `the inbox. Then every delivery ever sent is replayed (Meta retries what got no 200, and duplicates some`,
      `that did) until each has a 200, processing is left to finish, and the store is counted. Pass means: no 200`,
      `missing from the inbox at any kill; every delivery's body in the inbox and every inbox row processed (a`,
      `retried delivery may be stored again: the inbox keeps what arrived); one \`message:<wamid>\` event and one inbound`,
      `message per wamid sent, none missing, none unknown; nothing pending.`,
      '',
      `Baseline, same run: the same generator against the bare HMAC-and-insert floor for 3 s offered ` +
        `${perSecond(floor.offered, floor.upMs)}/s and got ${perSecond(floor.ok, floor.upMs)} 200s/s — what this machine lets the generator reach at all.`,
      '',
      table(
        [
          'store',
          'round',
          'start (s)',
          'killed at (s)',
          'offered/s',
          '200s/s',
          '200s',
          'no 200 (incl. during the 300 ms after the kill)',
          '200 but not in inbox',
        ],
        roundRows,
      ),
      '',
      table(
        [
          'store',
          'deliveries sent',
          'got a 200 before a kill',
          'replay of all',
          'processing finished after',
          'inbox rows',
          'message events',
          'pending',
          'inbound messages',
          'wamids missing / unknown',
          'verdict',
        ],
        finalRows,
      ),
      '',
      `Rates: offered/s and 200s/s are over the time the server was up in each round (start of load to the kill). ` +
        `Achieved against ${OFFERED_PER_SECOND.toLocaleString('en')}/s offered: ` +
        soaks
          .map((s) => {
            const up = s.rounds.reduce((a, r) => a + r.upMs, 0);
            const okUp = s.rounds.reduce((a, r) => a + r.okWhileUp, 0);
            const offUp = s.rounds.reduce((a, r) => a + r.offeredWhileUp, 0);
            return `${s.dialect} offered ${perSecond(offUp, up)}/s and acknowledged ${perSecond(okUp, up)}/s (${(((okUp / up) * 1000) / OFFERED_PER_SECOND).toFixed(2)} of the target; the floor: ${(((floor.ok / floor.upMs) * 1000) / OFFERED_PER_SECOND).toFixed(2)})`;
          })
          .join('; ') +
        '.',
    ].join('\n');
  },
};
