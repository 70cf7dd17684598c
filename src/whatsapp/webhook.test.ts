import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, TEST_APP_SECRET, type TestParley } from '../test-support/index.js';
import {
  deliver,
  envelope,
  loadFixture,
  newWamid,
  postWebhook,
  processorOf,
  textMessage,
  webhookFixtureNames,
} from './webhook-fixtures.test-support.js';
import { openStoredBody } from './inbox.store.js';
import { readDelivery } from './webhook-payload.js';
import { signWebhookBody } from './webhook-signature.js';

const ANA = '5511987654321'; // the test world's br1a, territory of rep1

async function countRows(p: TestParley) {
  const db = p.context.db;
  const count = async (table: 'webhook_inbox' | 'webhook_events' | 'messages' | 'interactions' | 'cases') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    inbox: await count('webhook_inbox'),
    events: await count('webhook_events'),
    messages: await count('messages'),
    interactions: await count('interactions'),
    cases: await count('cases'),
  };
}

async function auditCount(p: TestParley, action: string, targetId?: string) {
  let q = p.context.db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('action', '=', action);
  if (targetId) q = q.where('target_id', '=', targetId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

describe.each(DIALECTS)('the WhatsApp webhook on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  describe('verification handshake', () => {
    it('echoes the challenge as text/plain when the token matches', async () => {
      const res = await p.app.inject({
        method: 'GET',
        url: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(p.context.config.whatsapp.verifyToken)}&hub.challenge=1158201444`,
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toBe('1158201444');
    });

    it.each([
      ['a wrong token', 'hub.mode=subscribe&hub.verify_token=wrong-token&hub.challenge=1'],
      ['no token', 'hub.mode=subscribe&hub.challenge=1'],
      ['another mode', `hub.mode=unsubscribe&hub.verify_token=parley-demo-verify-token&hub.challenge=1`],
    ])('refuses %s with 403 and does not echo the challenge', async (_name, query) => {
      const res = await p.app.inject({ method: 'GET', url: `/webhooks/whatsapp?${query}` });
      expect(res.statusCode).toBe(403);
      expect(res.body).not.toBe('1');
    });
  });

  describe('signatures over the raw bytes', () => {
    const body = JSON.stringify(envelope({ messages: [textMessage(ANA, 'forged text')] }));
    const good = signWebhookBody(body, TEST_APP_SECRET);
    const flipped = Buffer.from(body);
    flipped[20] = flipped[20]! ^ 1;

    it.each<[string, string | Buffer, string | null]>([
      ['one byte of the body flipped', flipped, good],
      ['a wrong secret', body, signWebhookBody(body, 'another-secret-entirely')],
      ['a missing header', body, null],
      ['a sha1= prefix', body, `sha1=${createHmac('sha1', TEST_APP_SECRET).update(body).digest('hex')}`],
      ['a sha256 without prefix', body, good.slice('sha256='.length)],
      ['odd-length hex', body, good.slice(0, -1)],
      ['truncated hex', body, good.slice(0, 40)],
      ['upper-case non-hex junk', body, `sha256=${'Z'.repeat(64)}`],
      ['an empty body', '', signWebhookBody('', TEST_APP_SECRET)],
    ])('answers 401 to %s and stores nothing anywhere', async (_name, payload, signature) => {
      const before = await countRows(p);
      const res = await postWebhook(p, payload, signature);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_signature' } });
      await processorOf(p).drain();
      expect(await countRows(p)).toEqual(before);
      const lines = await p.context.db
        .selectFrom('security_log')
        .select(['kind', 'detail_json'])
        .where('kind', '=', 'invalid_signature')
        .execute();
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.map((l) => l.detail_json).join()).not.toContain('forged');
      expect(p.logs.join()).not.toContain('forged text');
    });

    it('answers Meta without browser security headers, which every other route sends', async () => {
      const raw = JSON.stringify({ object: 'whatsapp_business_account', entry: [] });
      const webhook = await postWebhook(p, raw, signWebhookBody(raw, TEST_APP_SECRET));
      expect(webhook.statusCode).toBe(200);
      expect(webhook.headers['content-security-policy']).toBeUndefined();
      expect(webhook.headers['x-content-type-options']).toBeUndefined();
      const health = await p.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(health.headers['x-content-type-options']).toBe('nosniff');
      expect(health.headers['referrer-policy']).toBe('no-referrer');
      expect(health.headers['cross-origin-resource-policy']).toBe('same-origin');
    });

    it('verifies a body with non-ASCII text, escapes, odd key order and trailing space as sent', async () => {
      const wamid = newWamid();
      const raw =
        `{"entry":[{"changes":[{"value":{"messages":[{"type":"text","timestamp":"1772546400",` +
        `"text":{"body":"Ol\\u00e1, obrigada \\ud83d\\ude2e — até já"},"id":"${wamid}","from":"${ANA}"}],` +
        `"metadata":{"phone_number_id":"106540352242922","display_phone_number":"15550783881"},` +
        `"messaging_product":"whatsapp"},"field":"messages"}],"id":"102290129340398"}],` +
        `"object":"whatsapp_business_account"}  `;
      const reserialised = JSON.stringify(JSON.parse(raw));
      expect(reserialised).not.toBe(raw);
      // A check over re-serialised JSON would fail: the signature only matches the exact bytes.
      expect((await postWebhook(p, raw, signWebhookBody(reserialised, TEST_APP_SECRET))).statusCode).toBe(
        401,
      );
      const res = await postWebhook(p, raw, signWebhookBody(raw, TEST_APP_SECRET));
      expect(res.statusCode).toBe(200);
      await processorOf(p).drain();
      const message = await p.context.db
        .selectFrom('messages')
        .select(['body_enc'])
        .where('wamid', '=', wamid)
        .executeTakeFirstOrThrow();
      expect(p.context.cipher.open(message.body_enc!)).toBe('Olá, obrigada 😮 — até já');
      // The inbox keeps exactly the bytes received, sealed: they hold numbers and message text.
      const stored = await p.context.db
        .selectFrom('webhook_inbox')
        .innerJoin('webhook_events', 'webhook_events.inbox_id', 'webhook_inbox.id')
        .select('webhook_inbox.body')
        .where('webhook_events.event_key', '=', `message:${wamid}`)
        .executeTakeFirstOrThrow();
      expect(stored.body).not.toContain(ANA);
      expect(stored.body).not.toContain('obrigada');
      expect(openStoredBody(p.context, stored.body)).toBe(raw);
    });

    it('refuses a body declared over 3 MB with 413 before reading or hashing it', async () => {
      const before = await countRows(p);
      const address = await p.app.listen({ port: 0, host: '127.0.0.1' });
      const { hostname, port } = new URL(address);
      // A 10 MB body is announced but only its first bytes are sent: the answer must not wait for the rest.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: hostname,
            port,
            method: 'POST',
            path: '/webhooks/whatsapp',
            headers: {
              'content-type': 'application/json',
              'content-length': String(10 * 1024 * 1024),
              'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
            req.destroy();
          },
        );
        req.on('error', reject);
        req.write(Buffer.alloc(64 * 1024, 0x20));
      });
      expect(status).toBe(413);
      expect(await countRows(p)).toEqual(before);
    });
  });

  describe('every example payload from Meta', () => {
    it.each(webhookFixtureNames())(
      '%s is acknowledged, stored and processed without quarantine',
      async (name) => {
        const json = loadFixture(name);
        const res = await postWebhook(p, JSON.stringify(json));
        expect(res.statusCode).toBe(200);
        await processorOf(p).drain();
        // Keys, not the delivery: an event another example already carried (same wamid and status) is
        // stored once, by whichever delivery came first.
        const parsed = readDelivery(json, (v) => p.context.cipher.blindIndex(v));
        if (!parsed.ok) throw new Error(parsed.reason);
        expect(parsed.events.filter((e) => e.kind === 'quarantine')).toEqual([]);
        const events = await p.context.db
          .selectFrom('webhook_events')
          .select(['state', 'error', 'kind'])
          .where(
            'event_key',
            'in',
            parsed.events.map((e) => e.key),
          )
          .execute();
        expect(events).toHaveLength(parsed.events.length);
        expect(events.filter((e) => e.state !== 'processed')).toEqual([]);
      },
    );

    it('turns a message from an unknown number into an unknown contact, never an HCP', async () => {
      const hcpsBefore = await p.context.db.selectFrom('hcps').select('id').execute();
      // From 16505551234, not in the test world (a no-op if an earlier test already delivered it).
      expect(await deliver(p, loadFixture('inbound_text.meta.json'))).toBe(200);
      const contacts = await p.context.db.selectFrom('unknown_contacts').selectAll().execute();
      expect(contacts.length).toBeGreaterThan(0);
      expect(contacts.every((c) => !c.wa_id_enc.includes('16505551234'))).toBe(true);
      expect(await p.context.db.selectFrom('hcps').select('id').execute()).toEqual(hcpsBefore);
      const admin = await p.world.tokenFor('admin');
      const res = await p.app.inject({
        method: 'GET',
        url: '/api/contacts/unknown',
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().items.map((i: { waId: string }) => i.waId)).toContain('16505551234');
      const rep = await p.world.tokenFor('rep1');
      const denied = await p.app.inject({
        method: 'GET',
        url: '/api/contacts/unknown',
        headers: { authorization: `Bearer ${rep}` },
      });
      expect(denied.statusCode).toBe(403);
    });
  });

  describe('replays and batches', () => {
    it('stores one message, one timeline entry and one audit entry for 5 replays in a row', async () => {
      const wamid = newWamid();
      const body = JSON.stringify(
        envelope({ messages: [textMessage(ANA, 'Obrigada pelo material', { id: wamid })] }),
      );
      for (let i = 0; i < 5; i++) {
        expect((await postWebhook(p, body)).statusCode).toBe(200);
        await processorOf(p).drain();
      }
      await expectOnce(p, wamid);
    });

    it('stores one message, one timeline entry and one audit entry for 5 concurrent deliveries', async () => {
      const wamid = newWamid();
      const message = textMessage(ANA, 'Recebido, obrigada', { id: wamid });
      // Byte-different deliveries of the same event (as two subscribed apps or a re-batch would produce).
      const bodies = Array.from({ length: 5 }, (_, i) =>
        JSON.stringify({ ...envelope({ messages: [message] }), [`x${i}`]: i }),
      );
      const responses = await Promise.all([
        ...bodies.map((b) => postWebhook(p, b)),
        ...bodies.map(() => postWebhook(p, bodies[0]!)),
      ]);
      expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
      await Promise.all([processorOf(p).drain(), processorOf(p).drain()]);
      await expectOnce(p, wamid);
    });

    it('stores each event of overlapping multi-entry batches once and drops none', async () => {
      const [a, b, c, d] = [newWamid(), newWamid(), newWamid(), newWamid()];
      const m = (id: string, text: string) => textMessage(ANA, text, { id });
      const first = {
        object: 'whatsapp_business_account',
        entry: [
          envelope({ messages: [m(a, 'um'), m(b, 'dois')] }).entry as unknown[],
          envelope({ messages: [m(c, 'três')] }).entry as unknown[],
        ].flat(),
      };
      const second = {
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '102290129340398',
            changes: [
              (envelope({ messages: [m(b, 'dois'), m(d, 'quatro')] }).entry as { changes: unknown[] }[])[0]!
                .changes[0],
              (envelope({ messages: [m(c, 'três')] }).entry as { changes: unknown[] }[])[0]!.changes[0],
            ],
          },
        ],
      };
      expect(await deliver(p, first)).toBe(200);
      expect(await deliver(p, second)).toBe(200);
      for (const wamid of [a, b, c, d]) await expectOnce(p, wamid);
      const keys = await p.context.db
        .selectFrom('webhook_events')
        .select(['event_key', 'state'])
        .where(
          'event_key',
          'in',
          [a, b, c, d].map((w) => `message:${w}`),
        )
        .execute();
      expect(keys).toHaveLength(4);
      expect(keys.every((k) => k.state === 'processed')).toBe(true);
    });
  });
});

async function expectOnce(p: TestParley, wamid: string) {
  const messages = await p.context.db
    .selectFrom('messages')
    .select('id')
    .where('wamid', '=', wamid)
    .execute();
  expect(messages).toHaveLength(1);
  const interactions = await p.context.db
    .selectFrom('interactions')
    .select('id')
    .where('source', '=', 'whatsapp')
    .where('external_id', '=', wamid)
    .execute();
  expect(interactions).toHaveLength(1);
  expect(await auditCount(p, 'message.received', messages[0]!.id)).toBe(1);
}
