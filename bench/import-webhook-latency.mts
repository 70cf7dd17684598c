// Webhook acknowledgements while `parley import` runs beside `parley serve` on the same database: the
// measurement of docs/benchmarks.md, "Webhooks during a large import".
//   npx tsx bench/import-webhook-latency.mts <checkout> <database url> <import file> [port]
// Starts `<checkout>/bin/parley.js serve` (no demo data), waits for it, then runs
// `<checkout>/bin/parley.js import interactions <file>` and meanwhile POSTs a signed Meta status delivery
// (for a message Parley does not know: stored and acknowledged like any other) every 50 ms, one at a time.
// Prints the import's own summary and the acknowledgements' latencies and statuses while it ran.
// With `idle:<seconds>` for the import file, no import runs: the deliveries go on for that long beside the
// server's own background work alone (the fold of imports' timeline chunks after an import).
// SLOW_MS=<ms> also prints each acknowledgement slower than that, with its time since the start (s).
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { envelope } from '../src/whatsapp/webhook-fixtures.test-support.js';

const [, , checkout, databaseUrl, file, portArg] = process.argv;
if (!checkout || !databaseUrl || !file) {
  console.error(
    'usage: npx tsx bench/import-webhook-latency.mts <checkout> <database url> <import file> [port]',
  );
  process.exit(2);
}
const port = Number(portArg ?? 18_080);
const secret = 'bench-webhook-secret-0001';
const env = {
  ...process.env,
  PARLEY_DATABASE_URL: databaseUrl,
  PARLEY_DEMO: '0',
  PARLEY_LOG_LEVEL: 'warn',
  WHATSAPP_APP_SECRET: secret,
  PORT: String(port),
};
const cli = resolve(checkout, 'bin/parley.js');
const server = spawn(process.execPath, [cli, 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {
    // not listening yet
  }
  if (i > 600) throw new Error('parley serve did not start');
  await sleep(100);
}

const delivery = (n: number) =>
  JSON.stringify(
    envelope({
      statuses: [
        {
          id: `wamid.BENCH${Date.now()}x${n}`,
          status: 'delivered',
          timestamp: '1751142888',
          recipient_id: '5511987654321',
        },
      ],
    }),
  );

let importing = true;
const started = performance.now();
const importer = file.startsWith('idle:')
  ? spawn('sleep', [file.slice('idle:'.length)], { stdio: ['ignore', 'pipe', 'inherit'] })
  : spawn(process.execPath, [cli, 'import', 'interactions', file], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
let importOutput = '';
importer.stdout.on('data', (d: Buffer) => (importOutput += d.toString()));
const importDone = new Promise<number | null>((done) => importer.on('exit', (code) => done(code)));
importDone.then(() => (importing = false));

const slowMs = process.env.SLOW_MS ? Number(process.env.SLOW_MS) : undefined;
const during: number[] = [];
const statuses = new Map<number | string, number>();
for (let n = 0; importing; n++) {
  const body = delivery(n);
  const t0 = performance.now();
  let status: number | string;
  try {
    const res = await fetch(`${base}/webhooks/whatsapp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
      body,
    });
    await res.arrayBuffer();
    status = res.status;
  } catch {
    status = 'error';
  }
  const ms = performance.now() - t0;
  if (slowMs !== undefined && ms > slowMs)
    console.error(`slow: ${ms.toFixed(0)} ms at ${((t0 - started) / 1000).toFixed(1)} s`);
  if (importing) {
    during.push(ms);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  await sleep(50);
}
const code = await importDone;
const wall = (performance.now() - started) / 1000;
server.kill('SIGTERM');

during.sort((a, b) => a - b);
const at = (q: number) => during[Math.min(during.length - 1, Math.floor(q * during.length))] ?? NaN;
console.log(importOutput.trim().split('\n').slice(-3).join('\n'));
console.log(
  JSON.stringify({
    importExit: code,
    importWallSeconds: Number(wall.toFixed(1)),
    deliveries: during.length,
    statuses: Object.fromEntries(statuses),
    p50ms: Number(at(0.5).toFixed(1)),
    p99ms: Number(at(0.99).toFixed(1)),
    maxMs: Number((during[during.length - 1] ?? NaN).toFixed(1)),
    over1s: during.filter((ms) => ms > 1000).length,
  }),
);
