import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Dialect } from '../platform/database/index.js';
import { childEnvironment, TEST_POSTGRES_URL } from '../test-support/index.js';
import { signWebhookBody } from './webhook-signature.js';

/**
 * Parley as a real process (`parley serve`, the production entry point) for the tests and benches that
 * need real sockets or a real crash: start it on a throw-away database, send it signed Meta-shaped
 * deliveries, kill it with SIGKILL. No vitest here, so bench modules can use it too.
 */

export interface ParleyProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  base: string;
  port: number;
}

/** Starts `parley serve` on an ephemeral loopback port; resolves once it says where it listens. */
export async function startParleyProcess(
  databaseUrl: string,
  appSecret: string,
  env: Record<string, string> = {},
): Promise<ParleyProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    env: childEnvironment({
      PORT: '0',
      HOST: '127.0.0.1',
      PARLEY_DATABASE_URL: databaseUrl,
      PARLEY_DEMO: '0',
      PARLEY_SEND_WORKERS: '0',
      PARLEY_LOG_LEVEL: 'warn',
      WHATSAPP_APP_SECRET: appSecret,
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Parley did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const url = /running at (http:\/\/[^\s]+)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Parley exited (${code ?? signal}): ${out}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, base, port: Number(new URL(base).port) };
}

/** SIGKILL: no shutdown hook runs, whatever was in flight is cut. Resolves when the process is gone. */
export function killParley(running: ParleyProcess): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export interface ThrowAwayDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A database of its own for a Parley process: a temp SQLite file, or a fresh PostgreSQL database. */
export async function throwAwayDatabase(
  dialect: Dialect,
  prefix = 'parley_proc',
): Promise<ThrowAwayDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `${prefix.replace(/_/g, '-')}-`));
    return {
      url: `sqlite:${join(dir, 'parley.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
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

export interface SignedDelivery {
  body: string;
  wamid: string;
  /** SHA-256 of the body: how the inbox knows a delivery (`webhook_inbox.body_sha256`). */
  sha256: string;
  /** The `X-Hub-Signature-256` header value. */
  signature: string;
}

/** The body hashes of every delivery the store's inbox holds (a retried one once). */
export async function storedDeliveryShas(url: string): Promise<Set<string>> {
  const store = await openStore(url);
  try {
    const rows = await store.db.selectFrom('webhook_inbox').select('body_sha256').execute();
    return new Set(rows.map((r) => r.body_sha256));
  } finally {
    await store.close();
  }
}

/**
 * Waits (up to `timeoutMs`) until no stored delivery is pending, then reads what processing left: every
 * inbox row's state and body hash, and the wamid of every inbound message.
 */
export async function afterProcessing(
  url: string,
  options: { timeoutMs: number; pollMs: number },
): Promise<{ inbox: Array<{ state: string; body_sha256: string }>; inboundWamids: Array<string | null> }> {
  const store = await openStore(url);
  try {
    for (let waited = 0; waited < options.timeoutMs; waited += options.pollMs) {
      const pending = await store.db
        .selectFrom('webhook_inbox')
        .select('id')
        .where('state', '=', 'pending')
        .limit(1)
        .execute();
      if (pending.length === 0) break;
      await new Promise((r) => setTimeout(r, options.pollMs));
    }
    const inbox = await store.db.selectFrom('webhook_inbox').select(['state', 'body_sha256']).execute();
    const messages = await store.db
      .selectFrom('messages')
      .select('wamid')
      .where('direction', '=', 'inbound')
      .execute();
    return { inbox, inboundWamids: messages.map((m) => m.wamid) };
  } finally {
    await store.close();
  }
}

/**
 * POSTs one signed delivery to Parley's webhook at `base` (`http://127.0.0.1:<port>`): the HTTP status, or 0
 * when no answer came (refused, reset, the process killed, nothing within `timeoutMs` in all): not
 * acknowledged, as Meta would see it. An `agent` shares keep-alive connections among many deliveries.
 */
export function postDelivery(
  base: string,
  d: Pick<SignedDelivery, 'body' | 'signature'>,
  options: { timeoutMs: number; agent?: Agent },
): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      new URL('/webhooks/whatsapp', base),
      {
        method: 'POST',
        ...(options.agent ? { agent: options.agent } : {}),
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': d.signature },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    const deadline = setTimeout(() => req.destroy(), options.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('error', () => resolve(0));
    req.end(d.body);
  });
}

/**
 * A unique, signed Meta-shaped inbound text from an unknown number (no HCP needed: it lands in unknown
 * contacts, and is processed like any other inbound message).
 */
export function signedTextDelivery(tag: string, i: number, appSecret: string): SignedDelivery {
  const wamid = `wamid.${tag}${i}_${randomBytes(8).toString('hex')}`;
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
  return {
    body,
    wamid,
    sha256: createHash('sha256').update(body).digest('hex'),
    signature: signWebhookBody(body, appSecret),
  };
}
