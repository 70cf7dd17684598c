import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareHcpRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { nextHcpSeqs } from '../hcps/index.js';
import { insertOutbound, insertTemplate } from './consent-fixtures.test-support.js';
import { foldConsent } from './consent-ledger.js';
import { checkOptInRequestLimits } from './opt-in-limits.js';
import { listConsentEntries, openConsentHoldsOf, optInRequestTimes } from './consent.store.js';
import {
  CONSENT_BUTTON_PAYLOADS,
  applyWhatsappConsentReply,
  type WhatsappConsentReply,
} from './whatsapp-consent-reply.js';

describe.each(DIALECTS)('applyWhatsappConsentReply on %s', (dialect) => {
  let p: TestParley;
  let n = 0;

  beforeAll(async () => {
    p = await startTestParley(dialect);
    await insertTemplate(p.context.db, {
      id: 'tpl_optin',
      type: 'opt_in_request',
      authorId: p.world.users.brand.id,
      key: 'optin_br',
      version: 2,
    });
    await insertTemplate(p.context.db, {
      id: 'tpl_confirm',
      type: 'confirmation',
      authorId: p.world.users.brand.id,
    });
  });
  afterAll(async () => {
    await p.destroy();
  });

  /** A new inbound message id, and the reply applied in its own transaction as the webhook worker does. */
  async function reply(
    input: Omit<WhatsappConsentReply, 'messageId' | 'wamid' | 'at' | 'language'> &
      Partial<WhatsappConsentReply>,
  ) {
    n += 1;
    const full: WhatsappConsentReply = {
      messageId: `msg_in_${n}`,
      wamid: `wamid.IN${n}`,
      at: p.clock.now(),
      language: 'pt-BR',
      ...input,
    };
    const result = await p.context.db
      .transaction()
      .execute((tx) => applyWhatsappConsentReply(tx, p.context, full));
    return { ...result, messageId: full.messageId, wamid: full.wamid };
  }

  function later(minutes: number) {
    p.clock.advance(minutes * 60_000);
    return p.clock.now().toISOString();
  }

  it('withdraws every WhatsApp purpose on STOP, with the wamid as evidence, and cancels unsent messages', async () => {
    const hcpId = p.world.hcps.br1a.id;
    const at = later(1);
    await insertOutbound(p.context.db, {
      id: 'out_q1',
      hcpId,
      status: 'queued',
      createdAt: at,
      outbox: 'pending',
    });
    await insertOutbound(p.context.db, {
      id: 'out_s1',
      hcpId,
      status: 'scheduled',
      createdAt: at,
      outbox: 'pending',
    });
    later(1);

    const result = await reply({ hcpId, text: 'Por favor, PARAR' });
    expect(result.effect).toBe('opted_out');

    const ledger = await listConsentEntries(p.context.db, hcpId);
    expect(ledger).toHaveLength(5);
    for (const e of ledger)
      expect(e).toMatchObject({
        channel: 'whatsapp',
        status: 'withdrawn',
        source: 'whatsapp_reply',
        evidence: result.wamid,
        messageId: result.messageId,
        capturedBy: null,
      });
    for (const purpose of [
      'promotional',
      'non_promotional',
      'service',
      'medical_information',
      'events',
    ] as const)
      expect(foldConsent(ledger, 'whatsapp', purpose, p.clock.now()).status).toBe('withdrawn');

    const unsent = await p.context.db
      .selectFrom('messages')
      .innerJoin('outbox', 'outbox.message_id', 'messages.id')
      .select(['messages.status', 'outbox.state'])
      .where('messages.id', 'in', ['out_q1', 'out_s1'])
      .execute();
    expect(unsent).toEqual([
      { status: 'cancelled', state: 'cancelled' },
      { status: 'cancelled', state: 'cancelled' },
    ]);
    // Nothing is left for an outbox worker to claim.
    const claimable = await p.context.db
      .selectFrom('outbox')
      .innerJoin('messages', 'messages.id', 'outbox.message_id')
      .select('outbox.id')
      .where('messages.hcp_id', '=', hcpId)
      .where('outbox.state', '=', 'pending')
      .execute();
    expect(claimable).toEqual([]);
  });

  it('records nothing twice when the same inbound message is processed again', async () => {
    const hcpId = p.world.hcps.es1a.id;
    const first = await reply({ hcpId, text: 'BAJA', language: 'es-ES' });
    const again = await p.context.db.transaction().execute((tx) =>
      applyWhatsappConsentReply(tx, p.context, {
        hcpId,
        messageId: first.messageId,
        wamid: first.wamid,
        text: 'BAJA',
        language: 'es-ES',
        at: p.clock.now(),
      }),
    );
    expect(again.effect).toBe('opted_out');
    expect(await listConsentEntries(p.context.db, hcpId)).toHaveLength(5);
  });

  it('withdraws on the opt-out button whatever its label says', async () => {
    const hcpId = p.world.hcps.br2a.id;
    const result = await reply({
      hcpId,
      text: 'Não receber mais',
      buttonPayload: CONSENT_BUTTON_PAYLOADS.optOut,
    });
    expect(result.effect).toBe('opted_out');
    const ledger = await listConsentEntries(p.context.db, hcpId);
    expect(ledger.filter((e) => e.status === 'withdrawn')).toHaveLength(5);
  });

  it('confirms a pending verbal grant when the HCP answers yes to an opt-in request', async () => {
    const hcpId = p.world.hcps.br1b.id;
    await p.context.db
      .insertInto('consent_entries')
      .values({
        id: 'con_verbal_b',
        hcp_id: hcpId,
        channel: 'whatsapp',
        purpose: 'promotional',
        status: 'pending',
        source: 'verbal',
        captured_by: p.world.users.rep1.id,
        captured_at: later(1),
        evidence: 'call',
        wording_version: null,
        message_id: null,
        expires_at: null,
        recorded_at: p.clock.now().toISOString(),
      })
      .execute();
    await insertOutbound(p.context.db, {
      id: 'out_optin_b',
      hcpId,
      status: 'delivered',
      createdAt: later(1),
      templateId: 'tpl_optin',
    });
    later(5);

    const result = await reply({ hcpId, text: 'Sim!', repliedToMessageId: 'out_optin_b' });
    expect(result.effect).toBe('opted_in');
    const ledger = await listConsentEntries(p.context.db, hcpId);
    const grant = ledger.find((e) => e.source === 'double_opt_in');
    expect(grant).toMatchObject({
      purpose: 'promotional',
      status: 'granted',
      evidence: result.wamid,
      wordingVersion: 'optin_br@2',
    });
    expect(ledger.filter((e) => e.source === 'double_opt_in')).toHaveLength(1);
    expect(foldConsent(ledger, 'whatsapp', 'promotional', p.clock.now()).status).toBe('granted');
  });

  it.each<[string, Partial<WhatsappConsentReply>, 'opted_in' | 'refused', 'granted' | 'refused']>([
    [
      'grants the default purposes on the yes button',
      { text: 'Sim', buttonPayload: CONSENT_BUTTON_PAYLOADS.optInYes },
      'opted_in',
      'granted',
    ],
    ['records a refusal when the HCP answers no', { text: 'Não, obrigado' }, 'refused', 'refused'],
  ])('%s (no verbal grant pending)', async (_name, input, effect, status) => {
    // A fresh HCP for each row, so each starts with an empty ledger.
    const hcpId = (
      await p.context.db
        .insertInto('hcps')
        .values({
          ...bareHcpRow({
            id: `hcp_fresh_${effect}`,
            crmId: `CRM-${effect}`,
            at: p.clock.now().toISOString(),
          }),
          seq: (await nextHcpSeqs(p.context.db, 1))[0]!,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    await insertOutbound(p.context.db, {
      id: `out_optin_${effect}`,
      hcpId,
      status: 'read',
      createdAt: later(1),
      templateId: 'tpl_optin',
    });
    later(1);
    // No context id: the reply is read against the last templated message sent.
    const result = await reply({ hcpId, text: '', ...input });
    expect(result.effect).toBe(effect);
    const ledger = await listConsentEntries(p.context.db, hcpId);
    expect(ledger.map((e) => [e.purpose, e.status, e.source]).sort()).toEqual([
      ['non_promotional', status, 'double_opt_in'],
      ['service', status, 'double_opt_in'],
    ]);
  });

  it('holds "cancelar" right after an appointment confirmation for a person, without touching the ledger', async () => {
    const hcpId = p.world.hcps.br1a.id;
    const before = (await listConsentEntries(p.context.db, hcpId)).length;
    await insertOutbound(p.context.db, {
      id: 'out_conf_a',
      hcpId,
      status: 'delivered',
      createdAt: later(1),
      templateId: 'tpl_confirm',
    });
    later(1);
    const result = await reply({ hcpId, text: 'Cancelar' });
    expect(result.effect).toBe('held_for_review');
    expect(await listConsentEntries(p.context.db, hcpId)).toHaveLength(before);
    const holds = await openConsentHoldsOf(p.context.db, hcpId);
    expect(holds).toEqual([
      expect.objectContaining({ messageId: result.messageId, matched: 'cancelar', status: 'open' }),
    ]);
    const audit = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', holds[0]?.id ?? '')
      .execute();
    expect(audit).toEqual([{ action: 'consent.held' }]);
  });

  it('shows the hold to compliance, who resolves it as an opt-out: WhatsApp consent withdrawn, sends cancelled', async () => {
    const hcpId = p.world.hcps.br1a.id;
    const compliance = await p.world.tokenFor('compliance');
    const rep = await p.world.tokenFor('rep1');
    const headers = { authorization: `Bearer ${compliance}` };

    expect(
      (
        await p.app.inject({
          method: 'GET',
          url: '/api/consent/holds',
          headers: { authorization: `Bearer ${rep}` },
        })
      ).statusCode,
    ).toBe(403);
    const list = await p.app.inject({ method: 'GET', url: '/api/consent/holds?limit=10', headers });
    expect(list.statusCode).toBe(200);
    const [hold] = list.json().items;
    expect(hold).toMatchObject({ hcpId, status: 'open', matched: 'cancelar' });
    const view = await p.app.inject({
      method: 'GET',
      url: `/api/hcps/${hcpId}/consent`,
      headers: { authorization: `Bearer ${rep}` },
    });
    expect(view.json().holds).toEqual([expect.objectContaining({ id: hold.id })]);

    await insertOutbound(p.context.db, {
      id: 'out_after_hold',
      hcpId,
      status: 'queued',
      createdAt: later(1),
      outbox: 'pending',
    });
    const resolve = await p.app.inject({
      method: 'POST',
      url: `/api/consent/holds/${hold.id}/resolve`,
      headers,
      payload: { resolution: 'opted_out' },
    });
    expect(resolve.statusCode).toBe(200);
    expect(resolve.json()).toMatchObject({
      status: 'resolved',
      resolution: 'opted_out',
      resolvedBy: p.world.users.compliance.id,
    });
    const fromHold = (await listConsentEntries(p.context.db, hcpId)).filter(
      (e) => e.messageId === hold.messageId,
    );
    expect(fromHold).toHaveLength(5);
    expect(
      fromHold.every((e) => e.status === 'withdrawn' && e.capturedBy === p.world.users.compliance.id),
    ).toBe(true);
    const cancelled = await p.context.db
      .selectFrom('messages')
      .select('status')
      .where('id', '=', 'out_after_hold')
      .executeTakeFirstOrThrow();
    expect(cancelled.status).toBe('cancelled');
    expect(await openConsentHoldsOf(p.context.db, hcpId)).toEqual([]);

    const again = await p.app.inject({
      method: 'POST',
      url: `/api/consent/holds/${hold.id}/resolve`,
      headers,
      payload: { resolution: 'not_an_opt_out' },
    });
    expect(again.statusCode).toBe(409);
  });

  it.each<[string, string, string | null]>([
    ['ignores "sim" that answers a confirmation', 'sim', 'out_conf_a'],
    ['ignores an ordinary sentence', 'vou parar na farmácia amanhã', null],
  ])('%s', async (_name, text, repliedToMessageId) => {
    const hcpId = p.world.hcps.br1a.id;
    const before = (await listConsentEntries(p.context.db, hcpId)).length;
    const result = await reply({ hcpId, text, repliedToMessageId });
    expect(result.effect).toBe('none');
    expect(await listConsentEntries(p.context.db, hcpId)).toHaveLength(before);
  });

  it('counts an opt-out at once even when Meta’s clock runs ahead of ours', async () => {
    const hcpId = p.world.hcps.br2a.id;
    later(1);
    const result = await reply({ hcpId, text: 'STOP', at: new Date(p.clock.now().getTime() + 90_000) });
    expect(result.effect).toBe('opted_out');
    const ledger = await listConsentEntries(p.context.db, hcpId);
    const latest = ledger.filter((e) => e.messageId === result.messageId);
    expect(latest.every((e) => e.capturedAt === p.clock.now().toISOString())).toBe(true);
    expect(foldConsent(ledger, 'whatsapp', 'service', p.clock.now()).entryId).toBe(
      latest.find((e) => e.purpose === 'service')?.id,
    );
  });

  it('counts the opt-in requests an HCP was sent, a cancelled one excluded, for the opt-in limits', async () => {
    const hcpId = p.world.hcps.es1a.id;
    await insertOutbound(p.context.db, {
      id: 'oir_1',
      hcpId,
      status: 'read',
      createdAt: '2026-01-05T10:00:00.000Z',
      templateId: 'tpl_optin',
    });
    await insertOutbound(p.context.db, {
      id: 'oir_2',
      hcpId,
      status: 'cancelled',
      createdAt: '2026-02-20T10:00:00.000Z',
      templateId: 'tpl_optin',
    });
    await insertOutbound(p.context.db, {
      id: 'oir_3',
      hcpId,
      status: 'queued',
      createdAt: '2026-02-25T10:00:00.000Z',
      templateId: 'tpl_optin',
    });
    await insertOutbound(p.context.db, {
      id: 'oir_x',
      hcpId,
      status: 'read',
      createdAt: '2026-02-26T10:00:00.000Z',
      templateId: 'tpl_confirm',
    });
    const times = await optInRequestTimes(p.context.db, hcpId);
    expect(times).toEqual(['2026-01-05T10:00:00.000Z', '2026-02-25T10:00:00.000Z']);
    expect(checkOptInRequestLimits(times, new Date('2026-03-03T14:00:00.000Z'))).toMatchObject({
      allowed: false,
      reason: 'opt_in_request_too_soon',
      nextAllowedAt: '2026-03-27T10:00:00.000Z',
    });
  });
});
