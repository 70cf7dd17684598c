import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, MessagesTable } from '../platform/database/index.js';
import { bareMessageRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { keptFacts } from './analytics-figures.js';
import { FACT_COLUMNS, refreshConversationFacts } from './conversation-facts.store.js';

/**
 * The facts kept per message (migrations 0024 and 0026, conversation-facts.store.ts): the database marks an HCP
 * whenever their conversation changes, and the refresher brings every marked HCP's facts back to what
 * `replyTimes` says. What the `whatsapp` report relies on: an HCP that is not marked has current facts.
 */

const T0 = Date.parse('2026-03-02T09:00:00.000Z');

function messageRow(
  p: TestParley,
  id: string,
  hcpId: string,
  direction: 'inbound' | 'outbound',
  status: string,
  minute: number,
  templateId: string | null = null,
): MessagesTable {
  const at = new Date(T0 + minute * 60_000).toISOString();
  return bareMessageRow({
    id,
    hcp_id: hcpId,
    rep_id: direction === 'outbound' ? p.world.users.rep1.id : null,
    direction,
    wamid: `wamid.${id}`,
    phone_number_id: p.context.config.whatsapp.phoneNumberId,
    type: direction === 'outbound' ? 'template' : 'text',
    template_id: templateId,
    send_kind: direction === 'outbound' ? 'rep' : null,
    status,
    created_at: at,
  });
}

const marks = async (db: Db) =>
  new Set((await db.selectFrom('stale_conversations').select('hcp_id').execute()).map((m) => m.hcp_id));

/** HCPs whose kept facts differ from what their messages say now. */
async function wrongFacts(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom('messages').select(FACT_COLUMNS).execute();
  const facts = keptFacts(rows);
  const wrong = (r: (typeof rows)[number]) => {
    const kept = facts.get(r.id)!;
    return (
      kept.replyWaitMs !== r.reply_wait_ms ||
      kept.weekRank !== r.week_rank ||
      kept.prevSentAt !== r.prev_sent_at ||
      kept.prevTemplateSentAt !== r.prev_template_sent_at
    );
  };
  return new Set(rows.filter(wrong).map((r) => r.hcp_id!));
}

describe.each(DIALECTS)('conversation facts on %s', (dialect) => {
  let p: TestParley;
  let db: Db;
  let hcps: string[];
  beforeAll(async () => {
    p = await startTestParley(dialect);
    db = p.context.db;
    hcps = Object.values(p.world.hcps).map((h) => h.id);
  });
  afterAll(async () => {
    await p?.destroy();
  });
  const reset = async () => {
    await db.deleteFrom('messages').execute();
    await refreshConversationFacts(db);
  };

  it('marks an HCP when their conversation changes, not when a receipt only moves a status on', async () => {
    await reset();
    const [a, b] = hcps as [string, string];
    await db
      .insertInto('messages')
      .values([
        messageRow(p, 'msg_f1', a, 'outbound', 'delivered', 0),
        messageRow(p, 'msg_f2', a, 'inbound', 'received', 5),
        messageRow(p, 'msg_f3', b, 'outbound', 'queued', 0),
      ])
      .execute();
    expect(await marks(db)).toEqual(new Set([a, b]));
    expect(await refreshConversationFacts(db)).toBe(2);
    expect(await marks(db)).toEqual(new Set());
    const kept = await db.selectFrom('messages').select(['id', 'reply_wait_ms']).orderBy('id').execute();
    expect(kept).toEqual([
      { id: 'msg_f1', reply_wait_ms: 5 * 60_000 },
      { id: 'msg_f2', reply_wait_ms: null },
      { id: 'msg_f3', reply_wait_ms: null },
    ]);

    // A read receipt: the message was already part of the conversation.
    await db.updateTable('messages').set({ status: 'read' }).where('id', '=', 'msg_f1').execute();
    expect(await marks(db)).toEqual(new Set());
    // A queued message leaving Parley joins the conversation.
    await db.updateTable('messages').set({ status: 'sent' }).where('id', '=', 'msg_f3').execute();
    expect(await marks(db)).toEqual(new Set([b]));
    await refreshConversationFacts(db);
    // An inbound message's time from Meta moves it in the conversation.
    await db
      .updateTable('messages')
      .set({ meta_timestamp: new Date(T0 - 60_000).toISOString() })
      .where('id', '=', 'msg_f2')
      .execute();
    expect(await marks(db)).toEqual(new Set([a]));
    await refreshConversationFacts(db);
    expect(
      (await db.selectFrom('messages').select('reply_wait_ms').where('id', '=', 'msg_f1').executeTakeFirst())!
        .reply_wait_ms,
    ).toBeNull();
    // Erasure or retention deleting messages.
    await db.deleteFrom('messages').where('id', '=', 'msg_f3').execute();
    expect(await marks(db)).toEqual(new Set([b]));
    expect(await wrongFacts(db)).toEqual(new Set());
  });

  it('leaves no unmarked HCP with wrong facts, whatever the writes and partial refreshes', async () => {
    const step = fc.oneof(
      fc.record({
        op: fc.constant('insert' as const),
        // Two HCPs and many queued messages: long conversations, and messages leaving Parley late.
        hcp: fc.nat({ max: 1 }),
        direction: fc.constantFrom('inbound' as const, 'outbound' as const),
        status: fc.constantFrom('queued', 'queued', 'sent', 'delivered', 'read', 'failed', 'cancelled'),
        // Every 6 hours over 10 days: replies, ties, and weeks (2026-03-02 is a Monday) side by side.
        slot: fc.integer({ min: 0, max: 40 }),
        template: fc.constantFrom(null, 'tpl_a', 'tpl_b'),
      }),
      fc.record({ op: fc.constant('promote' as const), nth: fc.nat() }),
      fc.record({ op: fc.constant('delete' as const), nth: fc.nat() }),
      fc.record({
        op: fc.constant('refresh' as const),
        limit: fc.constantFrom(1, 2, Number.MAX_SAFE_INTEGER),
      }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 30, size: 'max' }), async (steps) => {
        await reset();
        run++;
        let n = 0;
        for (const s of steps) {
          if (s.op === 'insert') {
            const id = `msg_p${run}_${n++}`;
            const status = s.direction === 'inbound' ? 'received' : s.status;
            await db
              .insertInto('messages')
              .values(messageRow(p, id, hcps[s.hcp]!, s.direction, status, s.slot * 360, s.template))
              .execute();
          } else if (s.op === 'refresh') await refreshConversationFacts(db, s.limit);
          else {
            // Promotion picks among queued messages (one leaving Parley), deletion among all.
            let candidates = db.selectFrom('messages').select('id').orderBy('id');
            if (s.op === 'promote') candidates = candidates.where('status', '=', 'queued');
            const ids = (await candidates.execute()).map((r) => r.id);
            const id = ids[s.nth % Math.max(1, ids.length)];
            if (id === undefined) continue;
            if (s.op === 'delete') await db.deleteFrom('messages').where('id', '=', id).execute();
            else await db.updateTable('messages').set({ status: 'sent' }).where('id', '=', id).execute();
          }
          const marked = await marks(db);
          for (const hcp of await wrongFacts(db)) expect(marked).toContain(hcp);
        }
        await refreshConversationFacts(db);
        expect(await marks(db)).toEqual(new Set());
        expect(await wrongFacts(db)).toEqual(new Set());
      }),
      { numRuns: dialect === 'sqlite' ? 150 : 50 },
    );
  }, 120_000);

  it('keeps facts right when refreshers and writers run at once', async () => {
    await reset();
    const writes = Array.from({ length: 40 }, (_, i) =>
      db
        .insertInto('messages')
        .values(
          messageRow(
            p,
            `msg_c${String(i).padStart(2, '0')}`,
            hcps[i % hcps.length]!,
            i % 3 === 2 ? 'inbound' : 'outbound',
            i % 3 === 2 ? 'received' : 'delivered',
            (i * 7) % 30,
          ),
        )
        .execute(),
    );
    await Promise.all([
      ...writes,
      refreshConversationFacts(db, 1),
      refreshConversationFacts(db),
      refreshConversationFacts(db, 2),
    ]);
    const marked = await marks(db);
    for (const hcp of await wrongFacts(db)) expect(marked).toContain(hcp);
    await refreshConversationFacts(db);
    expect(await wrongFacts(db)).toEqual(new Set());
  });
});
