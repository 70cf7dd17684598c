/**
 * The two servers the webhook-ingest bench compares, each run in a child process of its own so that the
 * parent's load generator does not count in their CPU time:
 * - `parley`: the whole Parley app on a throw-away SQLite file (webhook processing paused, so what is
 *   measured is the acknowledgement path: verify, parse, store the raw delivery and its events, answer);
 * - `floor`: a bare node:http route that only verifies the HMAC over the raw bytes and inserts one row
 *   into SQLite — the least a receiver that promises "acknowledged means stored" could do.
 * The parent talks to the child over IPC: the child says { port }, answers 'cpu' with its CPU time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { createParley } from '../src/parley.js';
import { parseConfig } from '../src/platform/config/index.js';
import { createLogger } from '../src/platform/logging/index.js';
import { webhookProcessorOf } from '../src/whatsapp/index.js';

export const BENCH_SECRET = 'bench-app-secret-0123456789';

let parleyContext: Parameters<typeof webhookProcessorOf>[0] | undefined;

async function startParley(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const config = parseConfig({
    PARLEY_DATABASE_URL: `sqlite:${join(dir, 'parley.db')}`,
    PARLEY_DEMO: '0',
    PARLEY_SEND_WORKERS: '0',
    PARLEY_LOG_LEVEL: 'warn',
    WHATSAPP_APP_SECRET: BENCH_SECRET,
  });
  const parley = await createParley({ config, logger: createLogger({ level: 'warn' }) });
  webhookProcessorOf(parley.context)?.pause();
  parleyContext = parley.context;
  await parley.app.listen({ port: 0, host: '127.0.0.1' });
  return (parley.app.server.address() as { port: number }).port;
}

async function startFloor(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-floor-'));
  const db = new SQLite(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('create table inbox (id integer primary key, body text not null, received_at text not null)');
  const insert = db.prepare('insert into inbox (body, received_at) values (?, ?)');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const given = Buffer.from(
        String(req.headers['x-hub-signature-256'] ?? '').replace(/^sha256=/, ''),
        'hex',
      );
      const expected = createHmac('sha256', BENCH_SECRET).update(body).digest();
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401).end();
        return;
      }
      insert.run(body.toString('utf8'), new Date().toISOString());
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const kind = process.argv[2];
const port = kind === 'floor' ? await startFloor() : await startParley();
process.send?.({ port });
process.on('message', (m) => {
  if (m === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ cpuMicros: u.user + u.system });
  }
  if (m === 'exit') process.exit(0);
  // Resume processing and answer when the inbox is empty: how long the backlog took, and its size.
  if (m === 'drain' && parleyContext) {
    const ctx = parleyContext;
    const started = performance.now();
    void (async () => {
      const processor = webhookProcessorOf(ctx)!;
      const cpuBefore = process.cpuUsage();
      processor.resume();
      await processor.drain();
      const cpu = process.cpuUsage(cpuBefore);
      const counts = await ctx.db
        .selectFrom('webhook_inbox')
        .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('state')
        .execute();
      const messages = await ctx.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('direction', '=', 'inbound')
        .executeTakeFirstOrThrow();
      processor.pause();
      process.send?.({
        drainedMs: performance.now() - started,
        drainCpuMicros: cpu.user + cpu.system,
        inbox: Object.fromEntries(counts.map((c) => [c.state, Number(c.n)])),
        inboundMessages: Number(messages.n),
      });
    })();
  }
});
