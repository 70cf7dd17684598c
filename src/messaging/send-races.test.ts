import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listConsentEntries } from '../consent/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { webhookProcessorOf, type CloudApiClient } from '../whatsapp/index.js';
import { newId } from '../platform/crypto/index.js';
import { redecideQueued } from './compose.js';
import { OPT_IN_WELCOME_KEY, OPT_OUT_CONFIRMATION_KEY } from './consent-follow-ups.js';
import {
  approvedTemplate,
  deliverWebhook,
  freshWeek,
  grant,
  inboundText,
  postMessage,
  sendBasisViolations,
  startStandIn,
  workersFor,
  type StandIn,
} from './messaging-fixtures.test-support.js';

/**
 * Races on the send path (issue 4 items 3 and 8, RELIABILITY 18 and 25): two sends racing past a cap, an
 * opt-out racing a queued send, a withdrawal cancelling what is queued, and the one confirmation of an
 * opt-out. Opt-outs arrive as signed webhooks through the real route and are processed by the real
 * processor; sends go to the stand-in over HTTP.
 */

const ANA = '5511987654321'; // br1a, territory br1 (rep1)

describe.each(DIALECTS)('races on the send path on %s', (dialect) => {
  let p: TestParley;
  let standIn: StandIn;
  let hcpId: string;

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
    standIn = await startStandIn(p);
    hcpId = p.world.hcps.br1a.id;
    await grant(p, hcpId, 'service');
    // rep2 works br1 too, so two different reps can race for the same HCP.
    await p.context.db
      .insertInto('user_territories')
      .values({ user_id: p.world.users.rep2.id, territory_id: p.world.territories.br1 })
      .execute();
    await approvedTemplate(p, {
      key: OPT_OUT_CONFIRMATION_KEY,
      type: 'service',
      body: 'Pronto, {{hcp_name}}: você não receberá mais mensagens nossas pelo WhatsApp.',
      parameters: [{ name: 'hcp_name', type: 'hcp_name' }],
    });
    await approvedTemplate(p, {
      key: OPT_IN_WELCOME_KEY,
      type: 'service',
      body: 'Obrigado, {{hcp_name}}! Você receberá lembretes de visita e confirmações, no máximo 2 por semana.',
      parameters: [{ name: 'hcp_name', type: 'hcp_name' }],
    });
  });
  afterAll(async () => {
    await standIn?.close();
    await p?.destroy();
  });
  beforeEach(() => freshWeek(p));

  const sendsFor = (messageId: string) =>
    standIn.standalone.sandbox.accepted.filter((a) => a.request.biz_opaque_callback_data === messageId);
  const messageRow = (id: string) =>
    p.context.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const confirmationsOf = async (inboundWamid: string) => {
    const inbound = await p.context.db
      .selectFrom('messages')
      .select('id')
      .where('wamid', '=', inboundWamid)
      .executeTakeFirstOrThrow();
    return p.context.db
      .selectFrom('messages')
      .selectAll()
      .where('idempotency_key', '=', `optout:${inbound.id}`)
      .execute();
  };
  // A new grant after a withdrawal, a minute later, so the ledger orders them.
  const regrant = async () => {
    p.clock.advance(60_000);
    await grant(p, hcpId, 'service');
  };
  const proposal = async () => {
    const template = await approvedTemplate(p);
    return { hcpId, templateId: template.id, parameters: { hora: '10:00' } };
  };

  it.each([1, 2, 3])(
    'lets exactly one of six simultaneous sends by two reps to the same HCP pass the daily cap (round %i)',
    async () => {
      const bodies = await Promise.all(Array.from({ length: 6 }, proposal));
      const answers = await Promise.all(
        bodies.map((body, i) => postMessage(p, body, { user: i % 2 === 0 ? 'rep1' : 'rep2' })),
      );
      const statuses = answers.map((a) => a.statusCode).sort();
      expect(statuses).toEqual([202, 422, 422, 422, 422, 422]);
      for (const a of answers.filter((x) => x.statusCode === 422))
        expect(a.json().decision.reasons.map((r: { code: string }) => r.code)).toContain('frequency_cap');
      const queued = await p.context.db
        .selectFrom('messages')
        .select('id')
        .where('hcp_id', '=', hcpId)
        .where('direction', '=', 'outbound')
        .where('status', '=', 'queued')
        .execute();
      expect(queued).toHaveLength(1);
      await workersFor(p, standIn.client).runOnce();
      expect(sendsFor(queued[0]!.id)).toHaveLength(1);
    },
  );

  it('refuses a send with no consent at the API and queues nothing', async () => {
    const other = p.world.hcps.br1b.id; // no consent recorded
    const template = await approvedTemplate(p);
    const res = await postMessage(p, {
      hcpId: other,
      templateId: template.id,
      parameters: { hora: '10:00' },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().decision.reasons.map((r: { code: string }) => r.code)).toContain('consent_missing');
    const rows = await p.context.db
      .selectFrom('messages')
      .innerJoin('outbox', 'outbox.message_id', 'messages.id')
      .select('messages.id')
      .where('messages.hcp_id', '=', other)
      .execute();
    expect(rows).toEqual([]);
  });

  it('never sends a queued message once an opt-out arriving after it was committed, and confirms the opt-out once', async () => {
    const queued = await postMessage(p, await proposal());
    expect(queued.statusCode, queued.body).toBe(202);
    const id = queued.json().message.id as string;
    const stop = inboundText(p, ANA, 'PARAR');
    expect(await deliverWebhook(p, stop.json)).toBe(200);
    // The replayed delivery (Meta retries for days) changes nothing.
    for (let i = 0; i < 3; i++) expect(await deliverWebhook(p, stop.json)).toBe(200);
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    await workers.runOnce();
    expect(sendsFor(id)).toHaveLength(0);
    expect((await messageRow(id)).status).toBe('cancelled');
    const confirmations = await confirmationsOf(stop.wamid);
    expect(confirmations).toHaveLength(1);
    expect(sendsFor(confirmations[0]!.id)).toHaveLength(1);
    expect(sendsFor(confirmations[0]!.id)[0]!.request).toMatchObject({
      type: 'template',
      template: { language: { code: 'pt_BR' } },
    });
    // After the opt-out, a new send is refused and nothing is queued.
    const again = await postMessage(p, await proposal());
    expect(again.statusCode).toBe(422);
    expect(again.json().decision.reasons.map((r: { code: string }) => r.code)).toContain('consent_withdrawn');
    await regrant();
  });

  it('sends the opt-out confirmation in quiet hours and past the caps, exactly once however often the webhook is replayed', async () => {
    const first = await postMessage(p, await proposal());
    expect(first.statusCode, first.body).toBe(202);
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    p.clock.advance(11 * 3600_000); // 22:00 in São Paulo: quiet hours, and the daily cap is spent
    const stop = inboundText(p, ANA, 'Por favor, STOP');
    await Promise.all([deliverWebhook(p, stop.json), deliverWebhook(p, stop.json)]);
    await Promise.all([workers.runOnce(), workersFor(p, standIn.client).runOnce()]);
    await deliverWebhook(p, stop.json);
    await workers.runOnce();
    const confirmations = await confirmationsOf(stop.wamid);
    expect(confirmations).toHaveLength(1);
    expect(confirmations[0]).toMatchObject({ rep_id: p.world.users.rep1.id });
    expect(['sent', 'delivered', 'read']).toContain(confirmations[0]!.status);
    expect(sendsFor(confirmations[0]!.id)).toHaveLength(1);
    const ledger = await listConsentEntries(p.context.db, hcpId);
    const basis = await p.context.db
      .selectFrom('message_send_bases')
      .selectAll()
      .where('message_id', '=', confirmations[0]!.id)
      .executeTakeFirstOrThrow();
    expect(ledger.find((e) => e.id === basis.consent_entry_id)).toMatchObject({
      status: 'withdrawn',
      source: 'whatsapp_reply',
    });
    await regrant();
  });

  it('sends a message the worker claimed before the opt-out was committed, and does not cancel it afterwards', async () => {
    const queued = await postMessage(p, await proposal());
    const id = queued.json().message.id as string;
    const stop = inboundText(p, ANA, 'PARAR');
    // The opt-out lands while the request is on its way to Meta: the claim came first.
    const racing: CloudApiClient = {
      send: async (number, request) => {
        if (request.biz_opaque_callback_data === id) await deliverWebhook(p, stop.json);
        return standIn.client.send(number, request);
      },
      markRead: (number, request) => standIn.client.markRead(number, request),
    };
    await workersFor(p, racing).runOnce();
    expect(sendsFor(id)).toHaveLength(1);
    expect(['sent', 'delivered', 'read']).toContain((await messageRow(id)).status);
    await workersFor(p, standIn.client).runOnce();
    expect(await confirmationsOf(stop.wamid)).toHaveLength(1);
    await regrant();
  });

  it('stops a claimed send when consent is withdrawn between the claim and the request (the last look)', async () => {
    const queued = await postMessage(p, await proposal());
    const id = queued.json().message.id as string;
    // A withdrawal that takes effect a millisecond after the claim decided (it commits with the claim):
    // the claim marks the message `sending`, so only the last look before the HTTP request can stop it.
    const workers = workersFor(p, standIn.client, {
      redecide: async (tx, message, now) => {
        const decision = await redecideQueued(tx, p.context, message, now);
        const later = new Date(now.getTime() + 1).toISOString();
        p.clock.advance(1);
        await tx
          .insertInto('consent_entries')
          .values({
            id: newId('cns'),
            hcp_id: hcpId,
            channel: 'whatsapp',
            purpose: 'service',
            status: 'withdrawn',
            source: 'crm_import',
            captured_by: null,
            captured_at: later,
            evidence: null,
            wording_version: null,
            message_id: null,
            expires_at: null,
            recorded_at: later,
          })
          .execute();
        return decision;
      },
    });
    await workers.runOnce();
    expect(sendsFor(id)).toHaveLength(0);
    expect((await messageRow(id)).status).toBe('cancelled');
    const history = await p.context.db
      .selectFrom('message_history')
      .select('status')
      .where('message_id', '=', id)
      .orderBy('at')
      .orderBy('id')
      .execute();
    expect(history.map((h) => h.status)).toEqual(['queued', 'sending', 'cancelled']);
    await regrant();
  });

  it('whatever the interleaving of an opt-out and a worker, a message is sent only if claimed first, once, and never after it was cancelled', async () => {
    const outcomes: string[] = [];
    for (let trial = 0; trial < 8; trial++) {
      freshWeek(p);
      const queued = await postMessage(p, await proposal());
      expect(queued.statusCode, queued.body).toBe(202);
      const id = queued.json().message.id as string;
      const stop = inboundText(p, ANA, 'PARAR');
      const workers = workersFor(p, standIn.client);
      const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
      // Staggered starts (the worker first, both at once, the opt-out first), then whatever the event
      // loop and the store make of them.
      await Promise.all([
        pause(trial % 2 === 0 ? trial : 0).then(() => deliverWebhook(p, stop.json)),
        pause(trial % 2 === 1 ? trial : 0).then(() => workers.runOnce()),
      ]);
      await workers.runOnce();
      await webhookProcessorOf(p.context)?.drain();
      const row = await messageRow(id);
      const sends = sendsFor(id).length;
      expect(sends).toBeLessThanOrEqual(1);
      if (row.status === 'cancelled') expect(sends).toBe(0);
      if (sends === 1) {
        expect(['sent', 'delivered', 'read']).toContain(row.status);
        const history = await p.context.db
          .selectFrom('message_history')
          .select('status')
          .where('message_id', '=', id)
          .execute();
        expect(history.map((h) => h.status)).not.toContain('cancelled');
      }
      expect(await confirmationsOf(stop.wamid)).toHaveLength(1);
      outcomes.push(sends === 1 ? 'sent' : 'cancelled');
      await regrant();
    }
    expect(outcomes).toHaveLength(8);
  });

  it('cancels queued and scheduled messages when a person records a withdrawal, and the worker sends none of them', async () => {
    const now = await postMessage(p, await proposal());
    const later = await postMessage(p, {
      ...(await proposal()),
      sendAt: new Date(p.clock.now().getTime() + 24 * 3600_000).toISOString(),
    });
    expect([now.statusCode, later.statusCode]).toEqual([202, 202]);
    const ids = [now.json().message.id as string, later.json().message.id as string];
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/hcps/${hcpId}/consent`,
      headers: { authorization: `Bearer ${await p.world.tokenFor('rep1')}` },
      payload: { channel: 'whatsapp', purpose: 'service', status: 'withdrawn', source: 'verbal' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    p.clock.advance(25 * 3600_000);
    await workers.runOnce();
    for (const id of ids) {
      expect((await messageRow(id)).status).toBe('cancelled');
      expect(sendsFor(id)).toHaveLength(0);
    }
    const outbox = await p.context.db
      .selectFrom('outbox')
      .select('state')
      .where('message_id', 'in', ids)
      .execute();
    expect(outbox.map((o) => o.state)).toEqual(['cancelled', 'cancelled']);
    await regrant();
  });

  it('welcomes an HCP who opted in by replying to an opt-in request, exactly once however often the webhook is replayed', async () => {
    const bruno = p.world.hcps.br1b;
    const request = await approvedTemplate(p, {
      type: 'opt_in_request',
      body: 'Podemos enviar lembretes de visita por WhatsApp?',
      parameters: [],
    });
    // The rep records a verbal consent (pending until the HCP confirms), then asks by WhatsApp.
    const verbal = await p.app.inject({
      method: 'POST',
      url: `/api/hcps/${bruno.id}/consent`,
      headers: { authorization: `Bearer ${await p.world.tokenFor('rep1')}` },
      payload: {
        channel: 'whatsapp',
        purpose: 'service',
        status: 'granted',
        source: 'verbal',
        evidence: 'call-note-17',
      },
    });
    expect(verbal.statusCode, verbal.body).toBe(201);
    const asked = await postMessage(p, { hcpId: bruno.id, templateId: request.id });
    expect(asked.statusCode, asked.body).toBe(202);
    await workersFor(p, standIn.client).runOnce();
    expect(sendsFor(asked.json().message.id)).toHaveLength(1);
    p.clock.advance(60_000);
    const yes = inboundText(p, '5511912345678', 'Sim');
    await Promise.all([deliverWebhook(p, yes.json), deliverWebhook(p, yes.json)]);
    const workers = workersFor(p, standIn.client);
    await Promise.all([workers.runOnce(), workersFor(p, standIn.client).runOnce()]);
    await workers.runOnce();
    const inbound = await p.context.db
      .selectFrom('messages')
      .select('id')
      .where('wamid', '=', yes.wamid)
      .executeTakeFirstOrThrow();
    const welcomes = await p.context.db
      .selectFrom('messages')
      .selectAll()
      .where('idempotency_key', '=', `optin:${inbound.id}`)
      .execute();
    expect(welcomes).toHaveLength(1);
    expect(welcomes[0]!.status, welcomes[0]!.error_detail ?? '').not.toBe('cancelled');
    expect(sendsFor(welcomes[0]!.id)).toHaveLength(1);
    const ledger = await listConsentEntries(p.context.db, bruno.id);
    expect(ledger.some((e) => e.status === 'granted' && e.source === 'double_opt_in')).toBe(true);
  });

  it('joins every message that left Parley in this run to a consent entry valid when it was claimed (RELIABILITY 24)', async () => {
    await standIn.standalone.sandbox.drain();
    await webhookProcessorOf(p.context)?.drain();
    expect(await sendBasisViolations(p.context.db)).toEqual([]);
  });
});
