import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { webhookProcessorOf } from '../whatsapp/index.js';
import { cancelReviewsPastWindow } from './messages.store.js';
import {
  approvedTemplate,
  freshWeek,
  grant,
  messageRow,
  postMessage,
  sendBasisViolations,
  sendsFor,
  startStandIn,
  workersFor,
  type StandIn,
} from './messaging-fixtures.test-support.js';

/**
 * Messages that wait (issue 4 item 7): scheduled ones, decided when asked and again when due; free text
 * held for compliance review, approved, rejected, or cancelled when the 24-hour window closes first.
 */

const ANA = '+5511987654321';
const HOUR = 3600_000;

describe.each(DIALECTS)('scheduled and reviewed messages on %s', (dialect) => {
  let p: TestParley;
  let standIn: StandIn;
  let hcpId: string;

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
    standIn = await startStandIn(p);
    hcpId = p.world.hcps.br1a.id;
    await grant(p, hcpId, 'service');
  });
  afterAll(async () => {
    await standIn?.close();
    await p?.destroy();
  });
  beforeEach(() => freshWeek(p));

  const asCompliance = async (method: 'GET' | 'POST', url: string, payload?: object) =>
    p.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${await p.world.tokenFor('compliance')}` },
      ...(payload ? { payload } : {}),
    });
  const schedule = async (sendAt: Date) => {
    const template = await approvedTemplate(p);
    return postMessage(p, {
      hcpId,
      templateId: template.id,
      parameters: { hora: '10:00' },
      sendAt: sendAt.toISOString(),
    });
  };
  const hcpWrites = async (text: string) => {
    await standIn.standalone.sandbox.simulateInbound({ from: ANA, content: { type: 'text', body: text } });
    await webhookProcessorOf(p.context)?.drain();
  };

  it('sends a scheduled message at its time, not before', async () => {
    const due = new Date(p.clock.now().getTime() + 24 * HOUR); // Wednesday 11:00 in São Paulo
    const res = await schedule(due);
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().message.id as string;
    expect(res.json().message.status).toBe('scheduled');
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    p.clock.set(new Date(due.getTime() - 60_000));
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(0);
    p.clock.set(due);
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(1);
    expect(sendsFor(standIn, id)[0]!.at.toISOString()).toBe(due.toISOString());
  });

  it('refuses at request time a message scheduled into quiet hours', async () => {
    const res = await schedule(new Date(p.clock.now().getTime() + 9.5 * HOUR)); // 20:30 in São Paulo
    expect(res.statusCode).toBe(422);
    expect(res.json().decision.reasons.map((r: { code: string }) => r.code)).toContain('quiet_hours');
  });

  it('cancels with quiet_hours a scheduled message whose due time became quiet while it waited', async () => {
    const due = new Date(p.clock.now().getTime() + 24 * HOUR);
    const res = await schedule(due);
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().message.id as string;
    // The market declares its due date a public holiday after the message was scheduled.
    const market = await p.context.db
      .selectFrom('markets')
      .select('holidays_json')
      .where('code', '=', 'BR')
      .executeTakeFirstOrThrow();
    const holidays = JSON.parse(market.holidays_json) as string[];
    await p.context.db
      .updateTable('markets')
      .set({ holidays_json: JSON.stringify([...holidays, due.toISOString().slice(0, 10)]) })
      .where('code', '=', 'BR')
      .execute();
    try {
      p.clock.set(due);
      await workersFor(p, standIn.client).runOnce();
      const row = await messageRow(p, id);
      expect(row.status).toBe('cancelled');
      expect(row.error_detail).toContain('quiet_hours');
      expect(sendsFor(standIn, id)).toHaveLength(0);
    } finally {
      await p.context.db
        .updateTable('markets')
        .set({ holidays_json: market.holidays_json })
        .where('code', '=', 'BR')
        .execute();
    }
  });

  it('holds free text for review; approval queues it and the worker sends it, naming the reviewer', async () => {
    await hcpWrites('Oi, pode confirmar o horário de amanhã?');
    const res = await postMessage(p, { hcpId, text: 'Claro, amanhã às 10h.' });
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().message.id as string;
    expect(res.json().message.status).toBe('pending_review');
    expect(
      await p.context.db.selectFrom('outbox').select('id').where('message_id', '=', id).execute(),
    ).toEqual([]);
    const queue = await asCompliance('GET', '/api/reviews?limit=200');
    expect(queue.json().items.map((m: { id: string }) => m.id)).toContain(id);
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(0);
    const approved = await asCompliance('POST', `/api/reviews/${id}/approve`, { comment: 'ok' });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'queued' });
    expect(approved.json().provenance.reviewedBy).toBe(p.world.users.compliance.id);
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(1);
    expect(sendsFor(standIn, id)[0]!.request).toMatchObject({
      type: 'text',
      text: { body: 'Claro, amanhã às 10h.' },
    });
  });

  it('cancels free text that compliance rejects; nothing is sent', async () => {
    await hcpWrites('Vocês têm amostras?');
    const res = await postMessage(p, { hcpId, text: 'Temos sim, passo aí amanhã.' });
    const id = res.json().message.id as string;
    const rejected = await asCompliance('POST', `/api/reviews/${id}/reject`, { comment: 'promotional tone' });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(rejected.json().status).toBe('cancelled');
    await workersFor(p, standIn.client).runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(0);
    const again = await asCompliance('POST', `/api/reviews/${id}/approve`, {});
    expect(again.statusCode).toBe(409);
  });

  it('cancels free text still waiting for review when the 24-hour window closes', async () => {
    await hcpWrites('Bom dia!');
    const res = await postMessage(p, { hcpId, text: 'Bom dia, doutora!' });
    const id = res.json().message.id as string;
    p.clock.advance(23 * HOUR);
    await cancelReviewsPastWindow(p.context);
    expect((await messageRow(p, id)).status).toBe('pending_review');
    p.clock.advance(2 * HOUR);
    expect(await cancelReviewsPastWindow(p.context)).toBeGreaterThanOrEqual(1);
    const row = await messageRow(p, id);
    expect(row.status).toBe('cancelled');
    expect(row.error_detail).toContain('window_closed');
    const late = await asCompliance('POST', `/api/reviews/${id}/approve`, {});
    expect(late.statusCode).toBe(409);
  });

  it("sends a rep's template reply inside the HCP's window even when the day's cap is spent: the exemption holds at claim time too", async () => {
    const workers = workersFor(p, standIn.client);
    const first = await schedule(new Date(p.clock.now().getTime() + 60_000));
    expect(first.statusCode, first.body).toBe(202);
    p.clock.advance(2 * 60_000);
    await workers.runOnce();
    expect(sendsFor(standIn, first.json().message.id)).toHaveLength(1);
    p.clock.advance(2 * HOUR);
    await hcpWrites('Obrigada! Pode me lembrar do horário?');
    const template = await approvedTemplate(p);
    const reply = await postMessage(p, { hcpId, templateId: template.id, parameters: { hora: '10:00' } });
    expect(reply.statusCode, reply.body).toBe(202);
    const id = reply.json().message.id as string;
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(1);
    expect((await messageRow(p, id)).status).not.toBe('cancelled');
  });

  it('joins every message that left Parley in this run to a consent entry valid when it was claimed (RELIABILITY 24)', async () => {
    expect(await sendBasisViolations(p.context.db)).toEqual([]);
  });
});
