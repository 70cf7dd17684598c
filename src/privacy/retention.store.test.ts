import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { outbound, sharedTemplate } from './privacy-fixtures.test-support.js';
import { runRetention } from './retention.store.js';

describe.each(DIALECTS)('the retention job on %s (RELIABILITY 29)', (dialect) => {
  let p: TestParley;
  const ids = {} as Record<
    | 'zoneMsg'
    | 'strangerMsg'
    | 'msgA'
    | 'heldMsg'
    | 'youngMsg'
    | 'oldCall'
    | 'caseCall'
    | 'oldInbox'
    | 'pendingInbox'
    | 'oldSecurity'
    | 'heldSecurity',
    string
  >;
  const auditCount = async () =>
    Number(
      (
        await p.context.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const bodyOf = async (id: string) =>
    (await p.context.db.selectFrom('messages').select('body_enc').where('id', '=', id).executeTakeFirst())
      ?.body_enc;
  const exists = async (
    table: 'interactions' | 'webhook_inbox' | 'security_log' | 'policy_decisions',
    id: string,
  ) =>
    (await p.context.db.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

  beforeAll(async () => {
    p = await startTestParley(dialect);
    const { br1a, br1b } = p.world.hcps;
    const templateId = await sharedTemplate(p);
    // 02:30Z on 1 March 2021 is still 28 February in São Paulo: expires a day earlier than in UTC.
    ids.zoneMsg = await outbound(p, {
      hcpId: br1a.id,
      hcpName: br1a.name,
      templateId,
      note: 'ZONE-TEXT',
      at: '2021-03-01T02:30:00.000Z',
    });
    ids.msgA = await outbound(p, {
      hcpId: br1a.id,
      hcpName: br1a.name,
      templateId,
      note: 'A-TEXT',
      at: '2021-03-01T12:00:00.000Z',
    });
    ids.heldMsg = await outbound(p, {
      hcpId: br1b.id,
      hcpName: br1b.name,
      templateId,
      note: 'HELD-TEXT',
      at: '2020-01-01T12:00:00.000Z',
    });
    ids.youngMsg = await outbound(p, {
      hcpId: br1a.id,
      hcpName: br1a.name,
      templateId,
      note: 'YOUNG-TEXT',
      at: '2021-03-02T12:00:00.000Z',
    });
    await p.context.db.updateTable('hcps').set({ legal_hold: 1 }).where('id', '=', br1b.id).execute();
    // An inbound message from a number that matched no HCP (UTC days, the global period).
    ids.strangerMsg = await outbound(p, {
      hcpId: br1a.id,
      hcpName: 'x',
      templateId,
      note: 'STRANGER-TEXT',
      at: '2021-02-26T12:00:00.000Z',
    });
    await p.context.db
      .updateTable('messages')
      .set({ hcp_id: null, direction: 'inbound' })
      .where('id', '=', ids.strangerMsg)
      .execute();
    await p.context.db
      .insertInto('unknown_contacts')
      .values({
        id: newId('unk'),
        wa_id_bidx: p.context.cipher.blindIndex('wa:5511900000000'),
        wa_id_enc: p.context.cipher.seal('5511900000000'),
        profile_name_enc: null,
        message_id: ids.strangerMsg,
        phone_number_id: p.context.config.whatsapp.phoneNumberId,
        received_at: '2021-02-26T12:00:00.000Z',
      })
      .execute();
    const now = '2026-03-03T14:00:00.000Z';
    const { seq: br1aSeq } = await p.context.db
      .selectFrom('hcps')
      .select('seq')
      .where('id', '=', br1a.id)
      .executeTakeFirstOrThrow();
    const interaction = (id: string) => ({
      id,
      hcp_id: br1a.id,
      hcp_seq: br1aSeq,
      channel: 'f2f' as const,
      direction: 'outbound' as const,
      kind: 'call' as const,
      occurred_at: '2021-01-01T12:00:00.000Z',
      rep_id: p.world.users.rep1.id,
      summary: 'old call',
      topics_json: '[]',
      products_json: '[]',
      source: 'veeva',
      external_id: id,
      template_id: null,
      asset_ids_json: '[]',
      message_id: null,
      status: null,
      created_at: now,
      updated_at: now,
    });
    ids.oldCall = newId('int');
    ids.caseCall = newId('int');
    await p.context.db
      .insertInto('interactions')
      .values([interaction(ids.oldCall), interaction(ids.caseCall)])
      .execute();
    await p.context.db
      .insertInto('cases')
      .values({
        id: newId('case'),
        kind: 'adverse_event',
        hcp_id: br1a.id,
        message_id: null,
        interaction_id: ids.caseCall,
        verbatim_enc: p.context.cipher.seal('tontura'),
        product: null,
        market_code: 'BR',
        aware_at: '2021-01-01T12:00:00.000Z',
        due_at: '2021-01-02T12:00:00.000Z',
        status: 'closed',
        owner_team: 'safety',
        triage_json: '{}',
        created_at: now,
        updated_at: now,
      })
      .execute();
    ids.oldInbox = newId('whk');
    ids.pendingInbox = newId('whk');
    await p.context.db
      .insertInto('webhook_inbox')
      .values(
        [ids.oldInbox, ids.pendingInbox].map((id, i) => ({
          id,
          body_sha256: `sha-${id}`,
          body: p.context.cipher.seal('{}'),
          received_at: '2025-11-01T12:00:00.000Z',
          state: i === 0 ? ('processed' as const) : ('pending' as const),
          attempts: 0,
          processed_at: null,
          error: null,
        })),
      )
      .execute();
    ids.oldSecurity = newId('sec');
    ids.heldSecurity = newId('sec');
    await p.context.db
      .insertInto('security_log')
      .values(
        [
          [ids.oldSecurity, br1a.id],
          [ids.heldSecurity, br1b.id],
        ].map(([id, target]) => ({
          id: id!,
          at: '2024-01-01T12:00:00.000Z',
          kind: 'out_of_scope',
          actor_id: null,
          ip: null,
          method: null,
          route: null,
          target: target!,
          detail_json: '{}',
        })),
      )
      .execute();
  });
  afterAll(async () => {
    await p.destroy();
  });

  it('a dry run one millisecond before the zone boundary finds what is older, removes and audits nothing', async () => {
    p.clock.set('2026-02-28T02:59:59.999Z');
    const events = await auditCount();
    const run = await runRetention(p.context, { dryRun: true });
    expect(run.dryRun).toBe(true);
    // The stranger's message counts in UTC days and expired on 26 February.
    expect(run.kinds.message_bodies.ids).toEqual([ids.strangerMsg]);
    expect(run.kinds.interactions.ids).toEqual([ids.oldCall]);
    expect(run.kinds.webhook_inbox.ids).toEqual([ids.oldInbox]);
    expect(run.kinds.security_log.ids).toEqual([ids.oldSecurity]);
    expect(await auditCount()).toBe(events);
    expect(await exists('interactions', ids.oldCall)).toBe(true);
    expect(await bodyOf(ids.zoneMsg)).not.toBeNull();
  });

  it("removes, at the São Paulo midnight, what expired in the market's days — never what is held or younger", async () => {
    p.clock.set('2026-02-28T03:00:00.000Z');
    const events = await auditCount();
    const run = await runRetention(p.context);
    expect(run.kinds.message_bodies.ids).toEqual([ids.strangerMsg, ids.zoneMsg]);
    expect(await bodyOf(ids.zoneMsg)).toBeNull();
    expect(await bodyOf(ids.strangerMsg)).toBeNull();
    // The stranger's number goes with the body of the only message it was kept for.
    expect(await p.context.db.selectFrom('unknown_contacts').selectAll().execute()).toEqual([]);
    const kept = await p.context.db
      .selectFrom('messages')
      .selectAll()
      .where('id', '=', ids.zoneMsg)
      .executeTakeFirstOrThrow();
    expect(kept.parameters_enc).toBeNull();
    expect(kept.provenance_json).not.toContain('ZONE-TEXT');
    expect(kept.provenance_json).toContain('BR-PRIV-1');
    for (const id of [ids.msgA, ids.heldMsg, ids.youngMsg]) expect(await bodyOf(id)).not.toBeNull();
    expect(await exists('interactions', ids.oldCall)).toBe(false);
    expect(await exists('interactions', ids.caseCall)).toBe(true);
    expect(await exists('webhook_inbox', ids.oldInbox)).toBe(false);
    expect(await exists('webhook_inbox', ids.pendingInbox)).toBe(true);
    expect(await exists('security_log', ids.oldSecurity)).toBe(false);
    expect(await exists('security_log', ids.heldSecurity)).toBe(true);
    // One audit event per kind that removed something: counts and ids, no personal data; none deleted.
    const applied = await p.context.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'retention.applied')
      .orderBy('seq')
      .execute();
    expect(applied.map((e) => e.target_id).sort()).toEqual(
      ['decisions', 'interactions', 'message_bodies', 'security_log', 'webhook_inbox'].sort(),
    );
    expect(await auditCount()).toBe(events + applied.length);
    const bodies = applied.find((e) => e.target_id === 'message_bodies')!;
    expect(JSON.parse(bodies.changes_json)).toMatchObject({
      after: { count: 2, ids: [ids.strangerMsg, ids.zoneMsg] },
    });
    expect(applied.every((e) => e.personal_ref === null && !e.changes_json.includes('TEXT'))).toBe(true);
    expect(await p.context.audit.verify(p.context.db)).toMatchObject({ ok: true });
  });

  it('removes the next day what expires at the next local midnight, and a second run finds nothing new', async () => {
    p.clock.set('2026-03-01T02:59:59.999Z');
    expect((await runRetention(p.context)).kinds.message_bodies.ids).toEqual([]);
    p.clock.set('2026-03-01T03:00:00.000Z');
    expect((await runRetention(p.context)).kinds.message_bodies.ids).toEqual([ids.msgA]);
    expect((await runRetention(p.context)).kinds.message_bodies.ids).toEqual([]);
    expect(await bodyOf(ids.heldMsg)).not.toBeNull();
  });

  it('two runs at once (two instances) remove and audit each record once', async () => {
    const extra = [newId('sec'), newId('sec'), newId('sec')];
    await p.context.db
      .insertInto('security_log')
      .values(
        extra.map((id) => ({
          id,
          at: '2024-06-01T12:00:00.000Z',
          kind: 'out_of_scope',
          actor_id: null,
          ip: null,
          method: null,
          route: null,
          target: null,
          detail_json: '{}',
        })),
      )
      .execute();
    const runs = await Promise.all([runRetention(p.context), runRetention(p.context)]);
    const removed = runs.flatMap((r) => r.kinds.security_log.ids);
    expect(removed.sort()).toEqual([...extra].sort());
    const audited = (
      await p.context.db
        .selectFrom('audit_events')
        .select('changes_json')
        .where('action', '=', 'retention.applied')
        .where('target_id', '=', 'security_log')
        .execute()
    ).flatMap((e) => (JSON.parse(e.changes_json) as { after: { ids: string[] } }).after.ids);
    for (const id of extra) expect(audited.filter((x) => x === id)).toHaveLength(1);
    expect(await p.context.audit.verify(p.context.db)).toMatchObject({ ok: true });
  });
});
