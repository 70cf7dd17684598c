import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  afterProcessing,
  killParley,
  signedTextDelivery,
  startParleyProcess,
  throwAwayDatabase,
  type SignedDelivery,
} from './parley-process.test-support.js';

/**
 * RELIABILITY 10: PostgreSQL goes away under load. The real server is never touched (other suites use
 * it): `parley serve` reaches its database through a TCP proxy in this test, and the outage is the proxy
 * cutting every connection and refusing new ones. While it is cut, deliveries must get 503, never a 200
 * (nothing can be stored, so nothing may be acknowledged) and never a 500; the server stays up. After
 * the proxy is restored, Meta-style retries of everything that had no 200 get their 200s, and each delivery
 * is processed exactly once.
 */

const SECRET = 'outage-test-app-secret-01';

interface Proxy {
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy to PostgreSQL; `cut()` resets every connection through it and every new one until `restore()`. */
async function startProxy(targetPort: number): Promise<Proxy> {
  let down = false;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      down = true;
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

/**
 * Through `fetch`, not the test support's `postDelivery`: the load below is as many deliveries as eight
 * senders get answered in six seconds, and the processing bound at the end (60 s) is set for fetch's pace;
 * node:http's keep-alive client sends nearly twice as many (8,675 against 4,889 in one run).
 */
async function post(base: string, d: SignedDelivery): Promise<number> {
  try {
    const res = await fetch(`${base}/webhooks/whatsapp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': d.signature },
      body: d.body,
      signal: AbortSignal.timeout(20_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL stopped under load (through a proxy the test cuts)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('answers 503, never 200 or 500, while it is down; after it returns, retries lose nothing', async () => {
    const db = await throwAwayDatabase('postgres', 'parley_outage');
    cleanups.push(db.drop);
    const direct = new URL(db.url);
    const proxy = await startProxy(Number(direct.port || 5432));
    cleanups.push(proxy.close);
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const parley = await startParleyProcess(viaProxy.toString(), SECRET);
    cleanups.push(() => killParley(parley));

    // Load: 8 senders, each delivery sent once; the outage is cut and restored while they run.
    const deliveries: SignedDelivery[] = [];
    const statuses = new Map<SignedDelivery, number>();
    const duringOutage: number[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    let stop = false;
    const senders = Array.from({ length: 8 }, async (_, s) => {
      for (let i = 0; !stop; i++) {
        const d = signedTextDelivery(`OUT${s}_`, i, SECRET);
        deliveries.push(d);
        const sentIn = phase;
        const status = await post(parley.base, d);
        statuses.set(d, status);
        // Sent and answered while the database was unreachable the whole time.
        if (sentIn === 'down' && phase === 'down') duringOutage.push(status);
      }
    });
    await sleep(1_500);
    proxy.cut();
    phase = 'down';
    await sleep(3_000);
    proxy.restore();
    phase = 'after';
    await sleep(1_500);
    stop = true;
    await Promise.all(senders);

    const all = [...statuses.values()];
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(duringOutage.filter((s) => s !== 503)).toEqual([]);
    expect(all.filter((s) => s !== 200 && s !== 503)).toEqual([]); // never a 500, never a dropped connection
    expect(all.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(parley.child.exitCode).toBeNull();

    // Meta retries what got no 200 (and sometimes what did): everything gets its 200 now.
    for (const d of deliveries) {
      let status = 0;
      for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
        if (attempt > 0) await sleep(250);
        status = await post(parley.base, d);
      }
      expect(status).toBe(200);
    }

    const { inbox, inboundWamids } = await afterProcessing(db.url, { timeoutMs: 60_000, pollMs: 250 });
    expect(new Set(inbox.map((r) => r.body_sha256))).toEqual(new Set(deliveries.map((d) => d.sha256)));
    expect(inbox.filter((r) => r.state !== 'processed')).toEqual([]);
    expect(inboundWamids.sort()).toEqual(deliveries.map((d) => d.wamid).sort());
  }, 120_000);
});
