import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type Dialect, type Store } from '../platform/database/index.js';
import { childEnvironment, DIALECTS, TEST_POSTGRES_URL } from '../test-support/index.js';
import { signWebhookBody } from './webhook-signature.js';

/**
 * RELIABILITY 9, the short version the default run keeps: Parley runs as a real process, takes signed
 * deliveries, and is killed with SIGKILL in the middle of them — twice. Every delivery that got a 200
 * must be in the inbox when the process is gone; after Meta-style retries of everything, each delivery is
 * processed exactly once. (The rate itself is the bench's business.)
 */

const SECRET = 'kill-test-app-secret-0123';

interface Running {
  child: ChildProcess;
  base: string;
}

async function startParley(databaseUrl: string): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    env: childEnvironment({
      PORT: '0',
      HOST: '127.0.0.1',
      PARLEY_DATABASE_URL: databaseUrl,
      PARLEY_DEMO: '0',
      PARLEY_SEND_WORKERS: '0',
      PARLEY_LOG_LEVEL: 'warn',
      WHATSAPP_APP_SECRET: SECRET,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Parley did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const url = /running at (http:\/\/[^\s]+)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('exit', (code) => reject(new Error(`Parley exited (${code}): ${out}`)));
  });
  child.stderr!.resume();
  return { child, base };
}

function kill(running: Running): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A unique, signed inbound text from an unknown number (no HCP needed: it lands in unknown contacts). */
function delivery(i: number): { body: string; wamid: string; sha256: string } {
  const wamid = `wamid.KILL${i}_${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Dr Kill' }, wa_id: '5511977776666' }],
              messages: [
                {
                  from: '5511977776666',
                  id: wamid,
                  timestamp: '1772546400',
                  type: 'text',
                  text: { body: `Mensagem ${i}` },
                },
              ],
            },
          },
        ],
      },
    ],
  });
  return { body, wamid, sha256: createHash('sha256').update(body).digest('hex') };
}

async function post(base: string, body: string): Promise<number> {
  try {
    const res = await fetch(`${base}/webhooks/whatsapp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhookBody(body, SECRET) },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // the connection died with the process: not acknowledged
  }
}

async function throwAwayDatabase(dialect: Dialect): Promise<{ url: string; drop(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'parley-kill-'));
    return {
      url: `sqlite:${join(dir, 'parley.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `parley_kill_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

describe.each(DIALECTS)('kill -9 in the middle of deliveries on %s', (dialect) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('keeps every acknowledged delivery, and processes each exactly once after retries', async () => {
    const db = await throwAwayDatabase(dialect);
    cleanups.push(db.drop);
    const deliveries = Array.from({ length: 240 }, (_, i) => delivery(i));
    const acknowledged = new Set<string>();

    for (const round of [0, 1]) {
      const running = await startParley(db.url);
      cleanups.push(() => kill(running).catch(() => undefined));
      // Deliveries in flight, 12 at a time; the process is killed part-way through this round's share.
      const share = deliveries.slice(round * 120, round * 120 + 120);
      let sent = 0;
      const killAfter = 60 + Math.floor(Math.random() * 30);
      const workers = Array.from({ length: 12 }, async () => {
        for (;;) {
          const d = share[sent++];
          if (!d) return;
          if (sent === killAfter) void kill(running);
          if ((await post(running.base, d.body)) === 200) acknowledged.add(d.sha256);
        }
      });
      await Promise.all(workers);
      await kill(running).catch(() => undefined);

      // With the process gone: every 200 is in the inbox.
      const store: Store = await openStore(db.url);
      const stored = new Set(
        (await store.db.selectFrom('webhook_inbox').select('body_sha256').execute()).map(
          (r) => r.body_sha256,
        ),
      );
      await store.close();
      expect([...acknowledged].filter((sha) => !stored.has(sha))).toEqual([]);
    }
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(acknowledged.size).toBeLessThan(deliveries.length); // the kills did cut deliveries short

    // Meta retries everything it did not get a 200 for (and duplicates some it did): all acknowledged now.
    const last = await startParley(db.url);
    cleanups.push(() => kill(last).catch(() => undefined));
    for (const d of deliveries) expect(await post(last.base, d.body)).toBe(200);

    const store = await openStore(db.url);
    try {
      for (let i = 0; i < 200; i++) {
        const pending = await store.db
          .selectFrom('webhook_inbox')
          .select('id')
          .where('state', '=', 'pending')
          .execute();
        if (pending.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const inbox = await store.db.selectFrom('webhook_inbox').select(['state']).execute();
      expect(inbox).toHaveLength(deliveries.length);
      expect(inbox.every((r) => r.state === 'processed')).toBe(true);
      const messages = await store.db
        .selectFrom('messages')
        .select('wamid')
        .where('direction', '=', 'inbound')
        .execute();
      expect(messages.map((m) => m.wamid).sort()).toEqual(deliveries.map((d) => d.wamid).sort());
    } finally {
      await store.close();
    }
  }, 120_000);
});
