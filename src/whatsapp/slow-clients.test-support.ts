import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { postDelivery, signedTextDelivery, type SignedDelivery } from './parley-process.test-support.js';

/**
 * Hostile slow clients (slowloris) and a steady flow of signed valid deliveries, over real sockets, for
 * the slow-client test and bench (RELIABILITY 8). No vitest here.
 */

export type SlowKind = 'silent' | 'header-trickle' | 'body-trickle';
export const SLOW_KINDS: readonly SlowKind[] = ['silent', 'header-trickle', 'body-trickle'];

export interface SlowClient {
  kind: SlowKind;
  socket: Socket;
  connectedAt: number;
  closedAt?: number;
  /** What the server wrote back (a 408 when it closes a slow request). */
  received: string;
  /** The bytes still to trickle. */
  pending: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One slow connection to the webhook: `silent` says nothing; `header-trickle` sends a signed delivery's
 * request head a byte at a time; `body-trickle` sends the whole head, then the body a byte at a time.
 */
export function openSlowClient(port: number, kind: SlowKind, delivery: SignedDelivery): Promise<SlowClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const client: SlowClient = { kind, socket, connectedAt: 0, received: '', pending: '' };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (client.received += chunk));
    socket.on('close', () => (client.closedAt = performance.now()));
    socket.on('error', () => undefined); // a reset when the server closes it: recorded by 'close'
    socket.once('connect', () => {
      client.connectedAt = performance.now();
      const head = [
        'POST /webhooks/whatsapp HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        `X-Hub-Signature-256: ${delivery.signature}`,
        `Content-Length: ${Buffer.byteLength(delivery.body)}`,
        '',
        '',
      ].join('\r\n');
      if (kind === 'header-trickle') client.pending = head;
      if (kind === 'body-trickle') {
        socket.write(head);
        client.pending = delivery.body;
      }
      resolve(client);
    });
    socket.once('error', reject);
  });
}

export interface SlowCrowd {
  clients: SlowClient[];
  open(): number;
  /** Stops trickling and destroys every socket still open. */
  close(): void;
}

/**
 * `count` slow clients, the three kinds in turn, opened in batches of 100 as an attacker's pool ramps up
 * (Node's listen backlog is 511), each trickling a byte a second (spread over ten ticks).
 */
export async function openSlowCrowd(port: number, count: number, appSecret: string): Promise<SlowCrowd> {
  const clients: SlowClient[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) =>
      openSlowClient(port, SLOW_KINDS[(i + j) % 3]!, signedTextDelivery('TRICKLE', i + j, appSecret)),
    );
    clients.push(...(await Promise.all(batch)));
  }
  let tick = 0;
  const trickle = setInterval(() => {
    tick += 1;
    for (let i = tick % 10; i < clients.length; i += 10) {
      const c = clients[i]!;
      if (!c.pending || c.closedAt !== undefined) continue;
      c.socket.write(c.pending[0]!);
      c.pending = c.pending.slice(1);
    }
  }, 100);
  return {
    clients,
    open: () => clients.filter((c) => c.closedAt === undefined).length,
    close() {
      clearInterval(trickle);
      for (const c of clients) c.socket.destroy();
    },
  };
}

export interface FlowResult {
  status: number;
  ms: number;
  sha256: string;
}

/**
 * `count` signed valid deliveries, open loop at `perSecond` over keep-alive connections: each one's status
 * and answer time (from its own send, so a late client timer is not blamed on the server).
 */
export async function flowDeliveries(
  port: number,
  appSecret: string,
  options: { count: number; perSecond: number; tag: string; onEach?: () => void },
): Promise<FlowResult[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: options.count }, async (_, i) => {
      const wait = started + (i * 1000) / options.perSecond - performance.now();
      if (wait > 0) await sleep(wait);
      options.onEach?.();
      const d = signedTextDelivery(options.tag, i, appSecret);
      const t0 = performance.now();
      const status = await postDelivery(`http://127.0.0.1:${port}`, d, { agent, timeoutMs: 10_000 });
      return { status, ms: performance.now() - t0, sha256: d.sha256 };
    }),
  );
  agent.destroy();
  return results;
}

/** The q-quantile (0.99 for p99) of the samples, nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}
