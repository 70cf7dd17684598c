import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import { bareMessageRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { advanceStatus } from './message-status.js';
import { settleMessageStatuses } from './statuses.store.js';
import { deliver, envelope, newWamid } from './webhook-fixtures.test-support.js';

const FORWARD = ['sent', 'delivered', 'read'] as const;

describe('advanceStatus', () => {
  it.each([
    ['moves queued to sent', 'queued', 'sent', 'sent'],
    ['skips delivered when read comes first', 'sent', 'read', 'read'],
    ['never moves read back to delivered', 'read', 'delivered', 'read'],
    ['never moves delivered back to sent', 'delivered', 'sent', 'delivered'],
    ['settles an unknown send with sent', 'unknown', 'sent', 'sent'],
    ['records failed over sent', 'sent', 'failed', 'failed'],
    ['keeps failed terminal', 'failed', 'read', 'failed'],
    ['keeps cancelled terminal', 'cancelled', 'sent', 'cancelled'],
    ['ignores played as a message state', 'read', 'played', 'read'],
  ])('%s', (_name, current, incoming, expected) => {
    expect(advanceStatus(current, incoming)).toBe(expected);
  });

  it('ends in the highest state for any permutation with duplicates', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FORWARD), { minLength: 1, maxLength: 12 }), (sequence) => {
        const end = sequence.reduce(advanceStatus, 'queued' as string);
        const highest = FORWARD[Math.max(...sequence.map((s) => FORWARD.indexOf(s)))];
        expect(end).toBe(highest);
      }),
    );
  });
});

describe.each(DIALECTS)('status webhooks on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  async function outboundMessage(wamid: string | null) {
    const id = newId('msg');
    const now = p.clock.now().toISOString();
    await p.context.db
      .insertInto('messages')
      .values(
        bareMessageRow({
          id,
          hcp_id: p.world.hcps.br1a.id,
          rep_id: p.world.users.rep1.id,
          direction: 'outbound',
          wamid,
          phone_number_id: p.context.config.whatsapp.phoneNumberId,
          status: 'sending',
          created_at: now,
        }),
      )
      .execute();
    return id;
  }

  const status = (wamid: string, s: string, ts: number, extra: Record<string, unknown> = {}) => ({
    id: wamid,
    status: s,
    timestamp: String(ts),
    recipient_id: '5511987654321',
    ...extra,
  });

  it('any permutation with duplicates of sent, delivered, read ends in the highest state, each transition recorded once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...FORWARD), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 3 }),
        async (sequence, perDelivery) => {
          const wamid = newWamid();
          const messageId = await outboundMessage(wamid);
          for (let i = 0; i < sequence.length; i += perDelivery) {
            const chunk = sequence.slice(i, i + perDelivery);
            const statuses = chunk.map((s) => status(wamid, s, 1772546400 + FORWARD.indexOf(s)));
            expect(await deliver(p, envelope({ statuses }))).toBe(200);
          }
          const message = await p.context.db
            .selectFrom('messages')
            .select('status')
            .where('id', '=', messageId)
            .executeTakeFirstOrThrow();
          const highest = FORWARD[Math.max(...sequence.map((s) => FORWARD.indexOf(s)))];
          expect(message.status).toBe(highest);
          const history = await p.context.db
            .selectFrom('message_status_events')
            .select(['status', 'message_id'])
            .where('wamid', '=', wamid)
            .execute();
          expect(history.map((h) => h.status).sort()).toEqual([...new Set(sequence)].sort());
          expect(history.every((h) => h.message_id === messageId)).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('records failed with its code and title, and nothing moves it afterwards', async () => {
    const wamid = newWamid();
    const messageId = await outboundMessage(wamid);
    const failed = status(wamid, 'failed', 1772546401, {
      errors: [
        {
          code: 131049,
          title: 'This message was not delivered to maintain healthy ecosystem engagement.',
          error_data: { details: 'In order to maintain a healthy ecosystem engagement...' },
        },
      ],
    });
    await deliver(p, envelope({ statuses: [failed, status(wamid, 'delivered', 1772546402)] }));
    const row = await p.context.db
      .selectFrom('messages')
      .select(['status', 'error_code', 'error_title'])
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'failed', error_code: 131049 });
    expect(row.error_title).toContain('healthy ecosystem');
  });

  it('keeps a status for an unknown wamid and applies it through biz_opaque_callback_data', async () => {
    const messageId = await outboundMessage(null);
    const wamid = newWamid();
    await deliver(
      p,
      envelope({
        statuses: [status(wamid, 'delivered', 1772546500, { biz_opaque_callback_data: messageId })],
      }),
    );
    const row = await p.context.db
      .selectFrom('messages')
      .select(['status', 'wamid'])
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'delivered', wamid });
  });

  it('keeps a status that arrives before its message is known and applies it once the wamid is saved', async () => {
    const wamid = newWamid();
    await deliver(p, envelope({ statuses: [status(wamid, 'read', 1772546600)] }));
    const kept = await p.context.db
      .selectFrom('message_status_events')
      .select(['status', 'message_id'])
      .where('wamid', '=', wamid)
      .execute();
    expect(kept).toEqual([{ status: 'read', message_id: null }]);
    const messageId = await outboundMessage(wamid);
    await p.context.db.transaction().execute((tx) => settleMessageStatuses(tx, p.context, messageId));
    const row = await p.context.db
      .selectFrom('messages')
      .select('status')
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('read');
    const audits = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', messageId)
      .execute();
    expect(audits).toEqual([{ action: 'message.status_changed' }]);
  });
});
