import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, TEST_APP_SECRET, type TestParley } from '../test-support/index.js';
import {
  createCloudApiClient,
  planDemoReply,
  sandboxNumbers,
  startStandaloneSandbox,
  templatesApprovedAtMeta,
  webhookProcessorOf,
  type StandaloneSandbox,
} from '../whatsapp/index.js';
import { redecideQueued } from './compose.js';
import { approvedTemplate, freshWeek, grant, postMessage } from './messaging-fixtures.test-support.js';
import { startOutboxWorkers } from './outbox-worker.js';

/**
 * The demo's HCP replies, end to end: Parley sends a template through the stand-in, the HCP reads it and
 * writes back by themselves; Parley's signed webhook route takes the reply, links it to the message it
 * answers (context.id) and to that message's rep, and its first triage files the questions and adverse
 * events the demo HCPs send.
 */
describe.each(DIALECTS)('demo HCP replies reaching Parley on %s', (dialect) => {
  let p: TestParley;
  let running: StandaloneSandbox;
  const SETTINGS = { share: 1, delayMs: { min: 0, max: 0 } };

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
    running = await startStandaloneSandbox({
      port: 0,
      accessToken: p.context.config.whatsapp.accessToken,
      appSecret: TEST_APP_SECRET,
      now: () => p.clock.now(),
      statusDelaysMs: { sent: 0, delivered: 0, read: 0 },
      chaos: { duplicate: 0, reorder: 0 },
      replies: { enabled: true, ...SETTINGS },
      templates: () => templatesApprovedAtMeta(p.context.db),
      numbers: () => sandboxNumbers(p.context.db, p.context.config.whatsapp.phoneNumberId),
      async deliverWebhook(body, signature) {
        const res = await p.app.inject({
          method: 'POST',
          url: '/webhooks/whatsapp',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
          payload: body,
        });
        return res.statusCode;
      },
    });
    await grant(p, p.world.hcps.br1a.id, 'service');
  });
  afterAll(async () => {
    await running?.close();
    await p?.destroy();
  });
  beforeEach(() => freshWeek(p));

  it('stores the reply as the HCP’s, linked to the message it answers and its rep, and triages it', async () => {
    const template = await approvedTemplate(p);
    const res = await postMessage(p, {
      hcpId: p.world.hcps.br1a.id,
      templateId: template.id,
      parameters: { hora: '15:30' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const messageId = res.json().message.id as string;
    const client = createCloudApiClient({
      baseUrl: running.baseUrl,
      apiVersion: p.context.config.whatsapp.apiVersion,
      accessToken: p.context.config.whatsapp.accessToken,
    });
    const workers = startOutboxWorkers(p.context, {
      client,
      redecide: (tx, message, now) => redecideQueued(tx, p.context, message, now),
      workers: 1,
    });
    await workers.runOnce();
    await running.sandbox.drain();
    await webhookProcessorOf(p.context)?.drain();

    const outbound = await p.context.db
      .selectFrom('messages')
      .selectAll()
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(outbound.wamid).toMatch(/^wamid\./);
    const planned = planDemoReply(outbound.wamid!, 'pt', SETTINGS)!;
    const replies = await p.context.db
      .selectFrom('messages')
      .selectAll()
      .where('direction', '=', 'inbound')
      .where('context_wamid', '=', outbound.wamid)
      .execute();
    expect(replies).toHaveLength(1);
    const reply = replies[0]!;
    expect(reply).toMatchObject({ hcp_id: p.world.hcps.br1a.id, rep_id: outbound.rep_id, type: 'text' });
    expect(p.context.cipher.open(reply.body_enc!)).toBe(planned.text);

    const cases = await p.context.db
      .selectFrom('cases')
      .select(['kind', 'hcp_id'])
      .where('message_id', '=', reply.id)
      .execute();
    const expected = { thanks: [], question: ['medical_inquiry'], adverse_event: ['adverse_event'] }[
      planned.kind
    ];
    expect(cases.map((c) => c.kind)).toEqual(expected);
  });
});
