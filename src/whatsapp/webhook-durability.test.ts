import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createParley } from '../parley.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import {
  envelope,
  newWamid,
  postWebhook,
  processorOf,
  textMessage,
} from './webhook-fixtures.test-support.js';
import { signWebhookBody } from './webhook-signature.js';
import { webhookProcessorOf } from './whatsapp.routes.js';

const ANA = '5511987654321';

async function count(
  p: TestParley,
  table: 'messages' | 'interactions' | 'webhook_inbox',
  where?: [string, string],
) {
  let q = p.context.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n'));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  if (where) q = q.where(where[0] as any, '=', where[1]);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

describe.each(DIALECTS)('webhook durability on %s', (dialect) => {
  let p: TestParley;
  const PREVIOUS = 'the-previous-app-secret';
  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { WHATSAPP_APP_SECRET_PREVIOUS: PREVIOUS } });
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('accepts a delivery signed with the previous app secret during a rotation', async () => {
    const body = JSON.stringify(envelope({ messages: [textMessage(ANA, 'rotação')] }));
    expect((await postWebhook(p, body, signWebhookBody(body, PREVIOUS))).statusCode).toBe(200);
  });

  it('acknowledges while processing is paused, then processes every delivery once it resumes', async () => {
    const processor = processorOf(p);
    processor.pause();
    await processor.drain();
    const wamids = Array.from({ length: 60 }, () => newWamid());
    const bodies = wamids.map((id) =>
      JSON.stringify(envelope({ messages: [textMessage(ANA, 'pausado', { id })] })),
    );
    const responses = await Promise.all(bodies.map((body) => postWebhook(p, body)));
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    // Acknowledged means stored: each raw delivery is in the inbox, waiting; no message exists yet.
    const stored = await p.context.db
      .selectFrom('webhook_inbox')
      .select(['state'])
      .where(
        'body_sha256',
        'in',
        bodies.map((b) => createHash('sha256').update(b).digest('hex')),
      )
      .execute();
    expect(stored).toHaveLength(60);
    expect(stored.every((s) => s.state === 'pending')).toBe(true);
    expect(
      await p.context.db.selectFrom('messages').select('wamid').where('wamid', 'in', wamids).execute(),
    ).toEqual([]);
    processor.resume();
    await processor.drain();
    const messages = await p.context.db
      .selectFrom('messages')
      .select('wamid')
      .where('wamid', 'in', wamids)
      .execute();
    expect(messages).toHaveLength(60);
  });

  it('leaves no partial rows when processing fails midway, and applies the event once when it succeeds later', async () => {
    const wamid = newWamid();
    const body = JSON.stringify(envelope({ messages: [textMessage(ANA, 'falha no meio', { id: wamid })] }));
    // The window upsert comes after the message and the timeline entry: without its table the step fails,
    // as a crash at that point would, and the transaction must take the earlier steps with it.
    await sql`alter table service_windows rename to service_windows_away`.execute(p.context.db);
    try {
      expect((await postWebhook(p, body)).statusCode).toBe(200);
      await processorOf(p).drain();
      expect(await count(p, 'messages', ['wamid', wamid])).toBe(0);
      expect(await count(p, 'interactions', ['external_id', wamid])).toBe(0);
      const event = await p.context.db
        .selectFrom('webhook_events')
        .select('state')
        .where('event_key', '=', `message:${wamid}`)
        .executeTakeFirstOrThrow();
      expect(event.state).toBe('pending');
    } finally {
      await sql`alter table service_windows_away rename to service_windows`.execute(p.context.db);
    }
    await processorOf(p).drain();
    expect(await count(p, 'messages', ['wamid', wamid])).toBe(1);
    expect(await count(p, 'interactions', ['external_id', wamid])).toBe(1);
  });

  it('quarantines signed but malformed events and acknowledges them, with no 5xx and no partial rows', async () => {
    const valid = () => textMessage(ANA, 'válida');
    const junk = fc.oneof(
      fc.anything({ maxDepth: 4 }),
      fc.string({ maxLength: 2000 }),
      fc.constant('x'.repeat(20_000)),
      fc.constant(JSON.parse('['.repeat(200) + ']'.repeat(200)) as unknown),
    );
    const mutation = fc.oneof(
      // a message with one required field removed or of the wrong type
      fc.tuple(fc.constantFrom('id', 'timestamp', 'type', 'text'), fc.option(junk)).map(([key, value]) => {
        const m: Record<string, unknown> = { ...valid() };
        if (value === null) delete m[key];
        else m[key] = value;
        return envelope({ messages: [m] });
      }),
      // unknown fields everywhere, deeply nested
      junk.map((value) => ({ ...envelope({ messages: [{ ...valid(), extra: value }] }), unknown: value })),
      // an unknown change field, or a value of the wrong shape
      fc.tuple(fc.string({ maxLength: 40 }), junk).map(([field, value]) => ({
        object: 'whatsapp_business_account',
        entry: [{ id: '1', changes: [{ field, value }] }],
      })),
      // not an envelope at all
      junk,
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (payload) => {
        const raw = JSON.stringify(payload) ?? 'undefined';
        const messagesBefore = await count(p, 'messages');
        const res = await postWebhook(p, raw);
        expect(res.statusCode).toBe(200);
        await processorOf(p).drain();
        const pending = await p.context.db
          .selectFrom('webhook_inbox')
          .select('id')
          .where('state', '=', 'pending')
          .execute();
        expect(pending).toEqual([]);
        // Every message row has its timeline entry and audit entry: nothing half-applied.
        const messagesAfter = await count(p, 'messages');
        const orphans = await p.context.db
          .selectFrom('messages')
          .leftJoin('audit_events', 'audit_events.target_id', 'messages.id')
          .select('messages.id')
          .where('messages.direction', '=', 'inbound')
          .where('audit_events.id', 'is', null)
          .execute();
        expect(orphans).toEqual([]);
        expect(messagesAfter - messagesBefore).toBeLessThanOrEqual(1);
      }),
      { numRuns: 25 },
    );
    const quarantined = await p.context.db
      .selectFrom('webhook_events')
      .select('event_key')
      .where('state', '=', 'quarantined')
      .execute();
    const quarantinedInbox = await p.context.db
      .selectFrom('webhook_inbox')
      .select('id')
      .where('state', '=', 'quarantined')
      .execute();
    expect(quarantined.length + quarantinedInbox.length).toBeGreaterThan(0);
  }, 180_000);
});

describe.each(DIALECTS)('a crash between acknowledgement and processing on %s', (dialect) => {
  it('processes the acknowledged delivery exactly once after restart on the same store', async () => {
    const first = await startTestParley(dialect);
    try {
      processorOf(first).pause();
      // A run the timer started before the pause may still be going: let it finish first.
      await processorOf(first).drain();
      const wamid = newWamid();
      const body = JSON.stringify(
        envelope({ messages: [textMessage(ANA, 'antes da queda', { id: wamid })] }),
      );
      expect((await postWebhook(first, body)).statusCode).toBe(200);
      expect(await count(first, 'messages', ['wamid', wamid])).toBe(0);
      // The process goes away before processing: the store keeps what was acknowledged.
      await first.close();

      const second = await createParley({
        config: first.context.config,
        clock: first.clock,
        logger: first.context.logger,
        store: first.store,
      });
      try {
        const processor = webhookProcessorOf(second.context)!;
        await processor.drain();
        await processor.drain();
        // Meta retries the same delivery after the restart: still once.
        await second.app.inject({
          method: 'POST',
          url: '/webhooks/whatsapp',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': signWebhookBody(body, 'test-app-secret-0123456789'),
          },
          payload: body,
        });
        await processor.drain();
        const db = second.context.db;
        expect(
          await db.selectFrom('messages').select('id').where('wamid', '=', wamid).execute(),
        ).toHaveLength(1);
        expect(
          await db.selectFrom('interactions').select('id').where('external_id', '=', wamid).execute(),
        ).toHaveLength(1);
        expect(
          await db
            .selectFrom('audit_events')
            .select('id')
            .where('action', '=', 'message.received')
            .where('changes_json', 'like', `%${wamid}%`)
            .execute(),
        ).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await first.store.destroy();
    }
  });
});
