import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { startCrmSink, type CrmSink } from './crm-sink.worker.js';
import { recordInteraction } from './interactions.store.js';
import { backoffDelay, signDelivery } from './sink-delivery.js';

const SECRET = 'sink-secret-0123456789abcdef';

interface Received {
  headers: IncomingHttpHeaders;
  body: {
    deliveryId: string;
    stream: string;
    events: { eventId: string; type: string; data: Record<string, unknown> }[];
  };
  verified: boolean;
}

/** A real HTTP receiver that checks signatures the way a CRM integration would. */
async function startReceiver(
  answer: (n: number) => { status: number; delayMs?: number } = () => ({ status: 200 }),
) {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const expected = Buffer.from(
        `sha256=${createHmac('sha256', SECRET)
          .update(`${String(req.headers['x-parley-timestamp'])}.${raw}`)
          .digest('hex')}`,
      );
      const given = Buffer.from(String(req.headers['x-parley-signature-256'] ?? ''));
      const verified = given.length === expected.length && timingSafeEqual(given, expected);
      const { status, delayMs } = answer(++n);
      received.push({ headers: req.headers, body: JSON.parse(raw) as Received['body'], verified });
      setTimeout(() => {
        res.statusCode = status;
        res.end();
      }, delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until(check: () => boolean, ms = 10_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sink delivery rules', () => {
  it('signs "<timestamp>.<body>" with HMAC-SHA256', () => {
    const expected = createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex');
    expect(signDelivery('k', 1700000000, '{"a":1}')).toBe(`sha256=${expected}`);
  });
  it.each([
    [1, 0, 50],
    [1, 0.999, 100],
    [4, 0, 400],
    [20, 0.5, 45_000],
  ])('backs off on attempt %i (random %f) by about %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, 100, 60_000, random)).toBeCloseTo(expected, -1);
  });
});

describe.each(DIALECTS)('the CRM sink on %s', (dialect) => {
  let p: TestParley;
  let sinks: CrmSink[] = [];
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterEach(async () => {
    for (const s of sinks) await s.stop();
    sinks = [];
    await p.context.db.deleteFrom('sink_cursors').execute();
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const sinkTo = (url: string, extra: Partial<Parameters<typeof startCrmSink>[1]> = {}) => {
    const s = startCrmSink(p.context, {
      url,
      secret: SECRET,
      pollMs: 30,
      settleMs: 0,
      baseBackoffMs: 10,
      maxBackoffMs: 50,
      batchSize: 5,
      ...extra,
    });
    sinks.push(s);
    return s;
  };
  const addInteractions = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) {
      p.clock.advance(1);
      await recordInteraction(p.context.db, p.context, {
        hcpId: i % 2 ? p.world.hcps.br1a.id : p.world.hcps.br2a.id,
        channel: 'phone',
        direction: 'outbound',
        kind: 'call',
        occurredAt: '2026-02-01T10:00:00.000Z',
        source: tag,
        externalId: `${tag}-${i}`,
      });
    }
  };
  const eventsOf = (received: Received[], type = 'interaction') =>
    received.flatMap((r) => r.body.events).filter((e) => e.type === type);

  it('delivers every change once, signed, in order per HCP', async () => {
    const receiver = await startReceiver();
    await addInteractions(12, 'order');
    sinkTo(receiver.url);
    await until(() => eventsOf(receiver.received).filter((e) => e.data.source === 'order').length === 12);
    const events = eventsOf(receiver.received).filter((e) => e.data.source === 'order');
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(12);
    for (const hcp of [p.world.hcps.br1a.id, p.world.hcps.br2a.id]) {
      const keys = events
        .filter((e) => e.data.hcpId === hcp)
        .map((e) => `${String(e.data.updatedAt)}|${String(e.data.id)}`);
      expect(keys).toEqual([...keys].sort());
    }
    await receiver.close();
  });

  it('retries a failing receiver with backoff and loses nothing', async () => {
    const receiver = await startReceiver((n) => ({ status: n <= 3 ? 503 : 200 }));
    await addInteractions(7, 'retry');
    sinkTo(receiver.url);
    await until(
      () =>
        new Set(
          eventsOf(receiver.received.slice(3))
            .filter((e) => e.data.source === 'retry')
            .map((e) => e.eventId),
        ).size === 7,
    );
    // The three refused attempts were the same first batch, each time with the same delivery id.
    expect(new Set(receiver.received.slice(0, 4).map((r) => r.body.deliveryId)).size).toBe(1);
    await receiver.close();
  });

  it('resumes from its stored cursor after a restart, without gaps or duplicates', async () => {
    const receiver = await startReceiver();
    await addInteractions(6, 'resume');
    const first = sinkTo(receiver.url);
    await until(() => eventsOf(receiver.received).filter((e) => e.data.source === 'resume').length === 6);
    await first.stop();
    await addInteractions(9, 'resume2');
    const second = sinkTo(receiver.url);
    await until(() => eventsOf(receiver.received).filter((e) => e.data.source === 'resume2').length === 9);
    await second.stop();
    const ids = eventsOf(receiver.received).map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    const cursor = await p.context.db
      .selectFrom('sink_cursors')
      .selectAll()
      .where('stream', '=', 'crm:interactions')
      .executeTakeFirstOrThrow();
    expect(cursor.delivered).toBe(ids.length);
    await receiver.close();
  });

  it('re-sends a batch whose answer was lost with the same delivery id, so the receiver can drop it', async () => {
    // The first answer comes after the sink gave up waiting: received, yet not acknowledged.
    const receiver = await startReceiver((n) => ({ status: 200, delayMs: n === 1 ? 300 : 0 }));
    await addInteractions(3, 'lost');
    sinkTo(receiver.url, { timeoutMs: 100 });
    await until(() => receiver.received.length >= 2);
    expect(receiver.received[1]!.body.deliveryId).toBe(receiver.received[0]!.body.deliveryId);
    expect(receiver.received[1]!.body.events.map((e) => e.eventId)).toEqual(
      receiver.received[0]!.body.events.map((e) => e.eventId),
    );
    await receiver.close();
  });

  it('lets one of two instances deliver, so nothing is sent twice', async () => {
    const receiver = await startReceiver();
    await addInteractions(10, 'pair');
    sinkTo(receiver.url);
    sinkTo(receiver.url);
    await until(() => eventsOf(receiver.received).filter((e) => e.data.source === 'pair').length >= 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = eventsOf(receiver.received).map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    await receiver.close();
  });

  it('holds back changes younger than the settle time, then sends them', async () => {
    const receiver = await startReceiver();
    await addInteractions(1, 'settle');
    const sink = sinkTo(receiver.url, { settleMs: 60_000, pollMs: 10 });
    await sink.drain();
    expect(eventsOf(receiver.received).filter((e) => e.data.source === 'settle')).toHaveLength(0);
    p.clock.advance(61_000);
    await sink.drain();
    expect(eventsOf(receiver.received).filter((e) => e.data.source === 'settle')).toHaveLength(1);
    await receiver.close();
  });
});

describe.each(DIALECTS)('the CRM sink started by Parley on %s', (dialect) => {
  it('delivers an opt-out within seconds of it being recorded', async () => {
    const receiver = await startReceiver();
    const p = await startTestParley(dialect, {
      env: { PARLEY_CRM_SINK_URL: receiver.url, PARLEY_CRM_SINK_SECRET: SECRET },
    });
    try {
      const at = p.clock.now().toISOString();
      await p.context.db
        .insertInto('consent_entries')
        .values({
          id: newId('con'),
          hcp_id: p.world.hcps.br1a.id,
          channel: 'whatsapp',
          purpose: 'promotional',
          status: 'withdrawn',
          source: 'whatsapp_reply',
          captured_by: null,
          captured_at: at,
          evidence: 'wamid.X',
          wording_version: null,
          message_id: null,
          expires_at: null,
          recorded_at: at,
        })
        .execute();
      const started = Date.now();
      p.clock.advance(3000); // past the default settle time
      await until(() => eventsOf(receiver.received, 'consent').length === 1);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(eventsOf(receiver.received, 'consent')[0]!.data).toMatchObject({
        hcpCrmId: 'CRM-BR1A',
        channel: 'whatsapp',
        status: 'withdrawn',
      });
    } finally {
      await p.destroy();
      await receiver.close();
    }
  });

  function eventsOf(received: Received[], type: string) {
    return received.flatMap((r) => r.body.events).filter((e) => e.type === type);
  }
});
