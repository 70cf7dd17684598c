import { afterAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../test-support/index.js';
import {
  killParley as kill,
  afterProcessing,
  postDelivery,
  signedTextDelivery,
  startParleyProcess,
  storedDeliveryShas,
  throwAwayDatabase,
  type SignedDelivery,
} from './parley-process.test-support.js';

/**
 * RELIABILITY 9, the short version the default run keeps: Parley runs as a real process, takes signed
 * deliveries, and is killed with SIGKILL in the middle of them — twice. Every delivery that got a 200
 * must be in the inbox when the process is gone; after Meta-style retries of everything, each delivery is
 * processed exactly once. (The rate itself is the bench's business.)
 */

const SECRET = 'kill-test-app-secret-0123';

function delivery(i: number) {
  return signedTextDelivery('KILL', i, SECRET);
}

const post = (base: string, d: SignedDelivery) => postDelivery(base, d, { timeoutMs: 10_000 });

describe.each(DIALECTS)('kill -9 in the middle of deliveries on %s', (dialect) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('keeps every acknowledged delivery, and processes each exactly once after retries', async () => {
    const db = await throwAwayDatabase(dialect, 'parley_kill');
    cleanups.push(db.drop);
    const deliveries = Array.from({ length: 240 }, (_, i) => delivery(i));
    const acknowledged = new Set<string>();

    for (const round of [0, 1]) {
      const running = await startParleyProcess(db.url, SECRET);
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
          if ((await post(running.base, d)) === 200) acknowledged.add(d.sha256);
        }
      });
      await Promise.all(workers);
      await kill(running).catch(() => undefined);

      // With the process gone: every 200 is in the inbox.
      const stored = await storedDeliveryShas(db.url);
      expect([...acknowledged].filter((sha) => !stored.has(sha))).toEqual([]);
    }
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(acknowledged.size).toBeLessThan(deliveries.length); // the kills did cut deliveries short

    // Meta retries everything it did not get a 200 for (and duplicates some it did): all acknowledged now.
    const last = await startParleyProcess(db.url, SECRET);
    cleanups.push(() => kill(last).catch(() => undefined));
    for (const d of deliveries) expect(await post(last.base, d)).toBe(200);

    const { inbox, inboundWamids } = await afterProcessing(db.url, { timeoutMs: 20_000, pollMs: 100 });
    // Every delivery is stored, retries too (the events, keyed by Meta's ids, make a retry a no-op).
    expect(new Set(inbox.map((r) => r.body_sha256))).toEqual(new Set(deliveries.map((d) => d.sha256)));
    expect(inbox.every((r) => r.state === 'processed')).toBe(true);
    expect(inboundWamids.sort()).toEqual(deliveries.map((d) => d.wamid).sort());
  }, 120_000);
});
