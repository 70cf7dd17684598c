import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import {
  bareMessageRow,
  bareTemplateRow,
  DIALECTS,
  startTestParley,
  type TestParley,
} from '../test-support/index.js';
import { deliver, envelope, newWamid, textMessage } from './webhook-fixtures.test-support.js';

const ANA = '5511987654321'; // br1a: territory br1 (rep1)
const BRUNO = '5511912345678'; // br1b: territory br1 (rep1)
const DIEGO = '34612345678'; // es1a: territory es1 (repEs)
const T0 = 1772546400; // 2026-03-03T14:00:00Z

describe.each(DIALECTS)('processing inbound WhatsApp on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const db = () => p.context.db;
  const get = async (url: string, user: Parameters<TestParley['world']['tokenFor']>[0]) =>
    p.app.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${await p.world.tokenFor(user)}` },
    });
  const patch = async (url: string, user: Parameters<TestParley['world']['tokenFor']>[0], payload: unknown) =>
    p.app.inject({
      method: 'PATCH',
      url,
      headers: { authorization: `Bearer ${await p.world.tokenFor(user)}` },
      payload: payload as Record<string, unknown>,
    });

  async function outbound(hcpId: string, repId: string, createdAt: string) {
    const wamid = newWamid();
    await db()
      .insertInto('messages')
      .values(
        bareMessageRow({
          id: newId('msg'),
          hcp_id: hcpId,
          rep_id: repId,
          direction: 'outbound',
          wamid,
          phone_number_id: p.context.config.whatsapp.phoneNumberId,
          status: 'delivered',
          created_at: createdAt,
        }),
      )
      .execute();
    return wamid;
  }

  const inbound = async (wamid: string) =>
    db().selectFrom('messages').selectAll().where('wamid', '=', wamid).executeTakeFirstOrThrow();

  describe('who a reply belongs to', () => {
    it('belongs to the rep whose message it answers (context.id), even if another rep wrote later', async () => {
      const answered = await outbound(
        p.world.hcps.br2a.id,
        p.world.users.rep2.id,
        '2026-03-01T10:00:00.000Z',
      );
      await outbound(p.world.hcps.br2a.id, p.world.users.manager.id, '2026-03-02T10:00:00.000Z');
      const wamid = newWamid();
      await deliver(
        p,
        envelope({
          messages: [textMessage('5521998765432', 'Ok, obrigada', { id: wamid, contextId: answered })],
        }),
      );
      const m = await inbound(wamid);
      expect(m.rep_id).toBe(p.world.users.rep2.id);
      expect(m.context_wamid).toBe(answered);
    });

    it('else belongs to the rep who last wrote to the HCP', async () => {
      await outbound(p.world.hcps.es1a.id, p.world.users.repEs.id, '2026-03-01T10:00:00.000Z');
      await outbound(p.world.hcps.es1a.id, p.world.users.rep2.id, '2026-03-02T10:00:00.000Z');
      const wamid = newWamid();
      await deliver(p, envelope({ messages: [textMessage(DIEGO, 'Gracias', { id: wamid })] }));
      expect((await inbound(wamid)).rep_id).toBe(p.world.users.rep2.id);
    });

    it("else belongs to the territory's rep", async () => {
      const wamid = newWamid();
      await deliver(p, envelope({ messages: [textMessage(BRUNO, 'Bom dia', { id: wamid })] }));
      const m = await inbound(wamid);
      expect(m.rep_id).toBe(p.world.users.rep1.id);
      expect(m.hcp_id).toBe(p.world.hcps.br1b.id);
      expect(m.body_enc).not.toContain('Bom dia');
      expect(p.context.cipher.open(m.body_enc!)).toBe('Bom dia');
      expect(m.meta_timestamp).toBe('2026-03-03T14:00:00.000Z');
      const interaction = await db()
        .selectFrom('interactions')
        .selectAll()
        .where('external_id', '=', wamid)
        .executeTakeFirstOrThrow();
      expect(interaction).toMatchObject({
        source: 'whatsapp',
        channel: 'whatsapp',
        direction: 'inbound',
        kind: 'message',
        rep_id: p.world.users.rep1.id,
        summary: 'WhatsApp text received',
        occurred_at: '2026-03-03T14:00:00.000Z',
      });
    });
  });

  it('opens the service window per sending number from Meta’s timestamp and never moves it back', async () => {
    const hcpId = p.world.hcps.br1b.id;
    await deliver(p, envelope({ messages: [textMessage(BRUNO, 'mais tarde', { timestamp: T0 + 7200 })] }));
    await deliver(
      p,
      envelope({ messages: [textMessage(BRUNO, 'antes, chegou atrasada', { timestamp: T0 - 86_400 })] }),
    );
    await deliver(
      p,
      envelope({ messages: [textMessage(BRUNO, 'outro número', { timestamp: T0 + 60 })] }, '999000111'),
    );
    const windows = await db()
      .selectFrom('service_windows')
      .select(['phone_number_id', 'last_inbound_at'])
      .where('hcp_id', '=', hcpId)
      .orderBy('phone_number_id')
      .execute();
    expect(windows).toEqual([
      { phone_number_id: '106540352242922', last_inbound_at: '2026-03-03T16:00:00.000Z' },
      { phone_number_id: '999000111', last_inbound_at: '2026-03-03T14:01:00.000Z' },
    ]);
  });

  it('stores media as its id and metadata, not downloaded, and queues it for review', async () => {
    const wamid = newWamid();
    await deliver(
      p,
      envelope({
        messages: [
          {
            from: ANA,
            id: wamid,
            timestamp: String(T0),
            type: 'document',
            document: {
              caption: 'Exame da paciente',
              filename: 'paciente-joana.pdf',
              mime_type: 'application/pdf',
              sha256: 'abc123',
              id: '1003383421387256',
            },
          },
        ],
      }),
    );
    const m = await inbound(wamid);
    expect(m.status).toBe('needs_review');
    expect(m.provenance_json).toContain('1003383421387256');
    expect(m.provenance_json).not.toContain('joana');
    const queue = await get('/api/whatsapp/media-review', 'compliance');
    expect(queue.statusCode).toBe(200);
    const item = queue.json().items.find((i: { messageId: string }) => i.messageId === m.id);
    expect(item).toMatchObject({
      type: 'document',
      media: { id: '1003383421387256', mimeType: 'application/pdf' },
    });
    expect((await get('/api/whatsapp/media-review', 'rep1')).statusCode).toBe(403);
    const done = await p.app.inject({
      method: 'POST',
      url: `/api/whatsapp/media-review/${m.id}/reviewed`,
      headers: { authorization: `Bearer ${await p.world.tokenFor('compliance')}` },
      payload: { note: 'no safety content' },
    });
    expect(done.statusCode).toBe(200);
    expect((await inbound(wamid)).status).toBe('reviewed');
    const audit = await db()
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', m.id)
      .orderBy('seq')
      .execute();
    expect(audit.map((a) => a.action)).toEqual(['message.received', 'message.media_reviewed']);
  });

  it('sets and clears the marketing stop flag from user_preferences, granting no consent', async () => {
    const pref = (value: 'stop' | 'resume', ts: number) => ({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'user_preferences',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
                contacts: [{ wa_id: ANA }],
                user_preferences: [
                  { wa_id: ANA, detail: 'x', category: 'marketing_messages', value, timestamp: ts },
                ],
              },
            },
          ],
        },
      ],
    });
    const consentBefore = await db().selectFrom('consent_entries').select('id').execute();
    const flag = async () =>
      (
        await db()
          .selectFrom('hcps')
          .select('marketing_stopped')
          .where('id', '=', p.world.hcps.br1a.id)
          .executeTakeFirstOrThrow()
      ).marketing_stopped;
    await deliver(p, pref('stop', T0));
    expect(await flag()).toBe(1);
    await deliver(p, pref('resume', T0 + 10));
    expect(await flag()).toBe(0);
    expect(await db().selectFrom('consent_entries').select('id').execute()).toEqual(consentBefore);
    const actions = await db()
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', p.world.hcps.br1a.id)
      .where('action', 'like', 'hcp.marketing%')
      .orderBy('seq')
      .execute();
    expect(actions.map((a) => a.action)).toEqual(['hcp.marketing_stopped', 'hcp.marketing_resumed']);
  });

  it('ignores a marketing preference older than one already applied (Meta delivers unordered)', async () => {
    const pref = (value: 'stop' | 'resume', ts: number) => ({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'user_preferences',
              value: {
                user_preferences: [
                  { wa_id: BRUNO, detail: 'x', category: 'marketing_messages', value, timestamp: ts },
                ],
              },
            },
          ],
        },
      ],
    });
    const flag = async () =>
      (
        await db()
          .selectFrom('hcps')
          .select('marketing_stopped')
          .where('id', '=', p.world.hcps.br1b.id)
          .executeTakeFirstOrThrow()
      ).marketing_stopped;
    await deliver(p, pref('stop', T0 + 100));
    await deliver(p, pref('resume', T0 + 50)); // older, arriving late
    expect(await flag()).toBe(1);
    await deliver(p, pref('resume', T0 + 200));
    expect(await flag()).toBe(0);
  });

  it("matches a sender by Meta's business-scoped user id when no number is sent", async () => {
    await db()
      .updateTable('hcps')
      .set({ bsuid: 'BR.ana-bsuid' })
      .where('id', '=', p.world.hcps.br1a.id)
      .execute();
    const wamid = newWamid();
    const message = {
      ...textMessage(ANA, 'sem número', { id: wamid }),
      from: undefined,
      from_user_id: 'BR.ana-bsuid',
    };
    await deliver(
      p,
      envelope({ messages: [message], contacts: [{ user_id: 'BR.ana-bsuid', profile: { name: 'Ana' } }] }),
    );
    expect((await inbound(wamid)).hcp_id).toBe(p.world.hcps.br1a.id);
  });

  it('takes a text holding a NUL as written: acknowledged, stored sealed, never refused (both stores)', async () => {
    const wamid = newWamid();
    const status = await deliver(
      p,
      envelope({ messages: [textMessage(BRUNO, 'Bom\u0000dia', { id: wamid })] }),
    );
    expect(status).toBe(200);
    expect(p.context.cipher.open((await inbound(wamid)).body_enc!)).toBe('Bom\u0000dia');
  });

  it('withdraws WhatsApp consent in the processing transaction when an HCP writes STOP', async () => {
    const wamid = newWamid();
    await deliver(p, envelope({ messages: [textMessage('5521998765432', 'STOP', { id: wamid })] }));
    const entries = await db()
      .selectFrom('consent_entries')
      .select(['status', 'source', 'evidence', 'channel'])
      .where('hcp_id', '=', p.world.hcps.br2a.id)
      .execute();
    expect(entries.length).toBeGreaterThan(0);
    expect(
      entries.every(
        (e) => e.status === 'withdrawn' && e.source === 'whatsapp_reply' && e.channel === 'whatsapp',
      ),
    ).toBe(true);
  });

  describe('first triage and cases', () => {
    let aeCase: string;
    let inquiryCase: string;

    beforeAll(async () => {
      await deliver(
        p,
        envelope({
          messages: [
            textMessage(ANA, 'Minha paciente teve urticária e tontura depois da primeira dose', {
              timestamp: T0 - 3600,
            }),
          ],
        }),
      );
      const cases = await db()
        .selectFrom('cases')
        .selectAll()
        .where('hcp_id', '=', p.world.hcps.br1a.id)
        .execute();
      aeCase = cases.find((c) => c.kind === 'adverse_event')!.id;
      inquiryCase = cases.find((c) => c.kind === 'medical_inquiry')!.id;
    });

    it("opens a case with the sealed verbatim, awareAt = Meta's timestamp and due 24 h later", async () => {
      const row = await db()
        .selectFrom('cases')
        .selectAll()
        .where('id', '=', aeCase)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        owner_team: 'safety',
        status: 'open',
        aware_at: '2026-03-03T13:00:00.000Z',
        due_at: '2026-03-04T13:00:00.000Z',
        market_code: 'BR',
      });
      expect(row.verbatim_enc).not.toContain('urticária');
      expect(p.context.cipher.open(row.verbatim_enc)).toContain('urticária');
    });

    it('shows pv the adverse event with its verbatim, not the medical inquiry', async () => {
      const items = (await get('/api/cases', 'pv')).json().items as { id: string; verbatim: string | null }[];
      expect(items.find((c) => c.id === aeCase)?.verbatim).toContain('urticária');
      expect(items.find((c) => c.id === inquiryCase)).toBeUndefined();
    });

    it('shows the msl of the market the medical inquiry only', async () => {
      const ids = ((await get('/api/cases', 'msl')).json().items as { id: string }[]).map((c) => c.id);
      expect(ids).toContain(inquiryCase);
      expect(ids).not.toContain(aeCase);
    });

    it("shows the HCP's rep that cases were opened, without their content", async () => {
      const items = (await get('/api/cases', 'rep1')).json().items as Record<string, unknown>[];
      const mine = items.find((c) => c.id === aeCase);
      expect(mine).toMatchObject({ verbatim: null, product: null, triage: null, contentWithheld: true });
      expect(JSON.stringify(items)).not.toContain('urticária');
    });

    it('hides the case from a rep who does not see the HCP, and from roles without case access', async () => {
      const ids = ((await get('/api/cases', 'rep2')).json().items as { id: string }[]).map((c) => c.id);
      expect(ids).not.toContain(aeCase);
      expect((await get('/api/cases', 'brand')).statusCode).toBe(403);
      expect((await get('/api/cases', 'admin')).statusCode).toBe(403);
    });

    it('lets pv move the case forward, audited with before and after', async () => {
      const res = await patch(`/api/cases/${aeCase}`, 'pv', { status: 'in_progress', reason: 'triaged' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id: aeCase, status: 'in_progress' });
      const audit = await db()
        .selectFrom('audit_events')
        .select(['changes_json', 'actor_id'])
        .where('target_id', '=', aeCase)
        .where('action', '=', 'case.updated')
        .execute();
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.changes_json)).toEqual({
        before: { status: 'open', ownerTeam: 'safety' },
        after: { status: 'in_progress', ownerTeam: 'safety' },
      });
    });

    it('answers 404 to pv for a medical inquiry, and logs it as out of scope', async () => {
      const res = await patch(`/api/cases/${inquiryCase}`, 'pv', { status: 'closed' });
      expect(res.statusCode).toBe(404);
      const line = await db()
        .selectFrom('security_log')
        .select('kind')
        .where('target', '=', inquiryCase)
        .executeTakeFirst();
      expect(line?.kind).toBe('out_of_scope');
    });

    it('refuses a transition the case cannot make', async () => {
      await patch(`/api/cases/${inquiryCase}`, 'msl', { status: 'closed' });
      const res = await patch(`/api/cases/${inquiryCase}`, 'msl', { status: 'open' });
      expect(res.statusCode).toBe(409);
    });

    it('opens a case for an unknown sender too, with no HCP, visible to pv', async () => {
      const wamid = newWamid();
      await deliver(
        p,
        envelope({
          messages: [
            textMessage('447700900123', 'I had a severe allergic reaction to your drug', { id: wamid }),
          ],
        }),
      );
      const m = await inbound(wamid);
      expect(m.hcp_id).toBeNull();
      const items = (await get('/api/cases?kind=adverse_event', 'pv')).json().items as {
        messageId: string;
        hcpId: string | null;
      }[];
      expect(items.find((c) => c.messageId === m.id)).toMatchObject({ hcpId: null });
    });
  });

  it("follows Meta's review state and category of a template, audited", async () => {
    const now = p.clock.now().toISOString();
    const id = newId('tpl');
    await db()
      .insertInto('templates')
      .values(
        bareTemplateRow({
          id,
          key: 'webhook_followup',
          body: 'Olá {{hcp_name}}.',
          approval_code: 'BR-WEBHOOK-1',
          author_id: p.world.users.brand.id,
          approved_by: p.world.users.compliance.id,
          approved_at: now,
          created_at: now,
        }),
      )
      .execute();
    const update = (field: string, value: Record<string, unknown>) => ({
      object: 'whatsapp_business_account',
      entry: [{ id: '102290129340398', time: T0, changes: [{ field, value }] }],
    });
    const names = {
      message_template_id: 777,
      message_template_name: 'webhook_followup',
      message_template_language: 'pt_BR',
    };
    await deliver(
      p,
      update('message_template_status_update', { ...names, event: 'PAUSED', reason: 'LOW_QUALITY' }),
    );
    await deliver(
      p,
      update('template_category_update', {
        ...names,
        previous_category: 'UTILITY',
        new_category: 'MARKETING',
      }),
    );
    const row = await db()
      .selectFrom('templates')
      .select(['whatsapp_status', 'whatsapp_category', 'status'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ whatsapp_status: 'paused', whatsapp_category: 'marketing', status: 'approved' });
    const actions = await db()
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', id)
      .orderBy('seq')
      .execute();
    expect(actions.map((a) => a.action)).toEqual([
      'template.meta_status_changed',
      'template.meta_recategorised',
    ]);
  });

  it('writes no phone number, message text or verbatim to the logs', () => {
    const logs = p.logs.join('\n');
    for (const secret of [ANA, BRUNO, DIEGO, '5521998765432', 'urticária', 'Bom dia', 'paciente-joana'])
      expect(logs).not.toContain(secret);
  });

  it('suspends the HCP’s WhatsApp number when Meta reports a number change', async () => {
    await deliver(
      p,
      envelope({
        messages: [
          {
            from: DIEGO,
            id: newWamid(),
            timestamp: String(T0),
            type: 'system',
            system: { body: 'User changed number', wa_id: '34699999999', type: 'user_changed_number' },
          },
        ],
      }),
    );
    const hcp = await db()
      .selectFrom('hcps')
      .select('whatsapp_status')
      .where('id', '=', p.world.hcps.es1a.id)
      .executeTakeFirstOrThrow();
    expect(hcp.whatsapp_status).toBe('suspended');
    const audit = await db()
      .selectFrom('audit_events')
      .select('changes_json')
      .where('action', '=', 'hcp.whatsapp_suspended')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.changes_json).not.toContain('34699999999');
  });
});
