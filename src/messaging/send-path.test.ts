import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { mountedSandbox } from '../whatsapp/index.js';
import { outboxWorkersOf } from './index.js';
import { approvedTemplate } from './messaging-fixtures.test-support.js';

/**
 * The send path end to end (issue 5 items 8–10, issue 4 item 7): check, send, the outbox, the worker's
 * second decision, the Cloud API stand-in over real HTTP, and the status webhooks coming back.
 */

async function grant(p: TestParley, token: string, hcpId: string, purpose: string) {
  const res = await p.app.inject({
    method: 'POST',
    url: `/api/hcps/${hcpId}/consent`,
    headers: { authorization: `Bearer ${token}` },
    payload: {
      channel: 'whatsapp',
      purpose,
      status: 'granted',
      source: 'written_form',
      evidence: 'form-2026-01',
    },
  });
  expect(res.statusCode, res.body).toBe(201);
}

describe.each(DIALECTS)('the send path on %s', (dialect) => {
  let p: TestParley;
  let rep1: string;
  let compliance: string;

  beforeAll(async () => {
    // The workers are driven by hand (runOnce), so nothing races the assertions.
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
    await p.app.listen({ port: 0, host: '127.0.0.1' });
    rep1 = await p.world.tokenFor('rep1');
    compliance = await p.world.tokenFor('compliance');
    await grant(p, compliance, p.world.hcps.br1a.id, 'service');
  });
  afterAll(async () => {
    mountedSandbox(p.context)?.close();
    await p?.destroy();
  });
  beforeEach(async () => {
    p.clock.advance(7 * 24 * 3600_000 + 3600_000); // a fresh week for the caps, a Tuesday in office hours
    rep1 = await p.world.tokenFor('rep1');
    compliance = await p.world.tokenFor('compliance');
  });

  const send = (payload: object, headers: Record<string, string> = {}) =>
    p.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${rep1}`, ...headers },
      payload,
    });

  it('decides, queues, sends through the Cloud API and records the template version it carried', async () => {
    const template = await approvedTemplate(p);
    const check = await p.app.inject({
      method: 'POST',
      url: '/api/messages/check',
      headers: { authorization: `Bearer ${rep1}` },
      payload: { hcpId: p.world.hcps.br1a.id, templateId: template.id, parameters: { hora: '15:30' } },
    });
    expect(check.statusCode, check.body).toBe(200);
    expect(check.json()).toMatchObject({ outcome: 'allow', purpose: 'service' });

    const res = await send({
      hcpId: p.world.hcps.br1a.id,
      templateId: template.id,
      parameters: { hora: '15:30' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { message, decision } = res.json();
    expect(decision.outcome).toBe('allow');
    expect(message).toMatchObject({
      status: 'queued',
      templateId: template.id,
      text: 'Olá Dra. Ana Souza, lembrete da nossa visita às 15:30.',
    });
    expect(message.provenance.template).toMatchObject({
      key: template.key,
      version: 1,
      approvalCode: `BR-${template.key.toUpperCase()}-V1`,
    });
    expect(message.provenance.consentEntryId).toMatch(/^cns_|^con_|^[a-z]+_/);

    expect(await outboxWorkersOf(p.context)!.runOnce()).toBe(1);
    const sandbox = mountedSandbox(p.context)!;
    const accepted = sandbox.accepted.at(-1)!;
    expect(accepted.request).toMatchObject({
      type: 'template',
      to: '+5511987654321',
      biz_opaque_callback_data: message.id,
      template: {
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Dra. Ana Souza', parameter_name: 'hcp_name' },
              { type: 'text', text: '15:30', parameter_name: 'hora' },
            ],
          },
        ],
      },
    });
    // The values are pieces of the body: sealed at rest like it, beside their names in clear.
    const { provenance_json } = await p.context.db
      .selectFrom('messages')
      .select('provenance_json')
      .where('id', '=', message.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(provenance_json).bodyParameters).toEqual([{ name: 'hcp_name' }, { name: 'hora' }]);
    expect(provenance_json).not.toContain('Ana Souza');
    expect(provenance_json).not.toContain('15:30');

    const after = await p.app.inject({
      method: 'GET',
      url: `/api/messages/${message.id}`,
      headers: { authorization: `Bearer ${rep1}` },
    });
    expect(after.json()).toMatchObject({ status: 'sent', wamid: accepted.wamid });
    expect(after.json().statusHistory.map((h: { status: string }) => h.status)).toEqual(
      expect.arrayContaining(['queued', 'sending', 'sent']),
    );
    const timeline = await p.context.db
      .selectFrom('interactions')
      .select(['kind', 'status'])
      .where('message_id', '=', message.id)
      .execute();
    expect(timeline).toEqual([{ kind: 'message', status: 'sent' }]);
  });

  it('shows a role that may not read message bodies what a message carried, without its parameter values', async () => {
    const template = await approvedTemplate(p);
    const res = await send({
      hcpId: p.world.hcps.br1a.id,
      templateId: template.id,
      parameters: { hora: '16:45' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const read = async (user: 'rep1' | 'admin') =>
      p.app.inject({
        method: 'GET',
        url: `/api/messages/${res.json().message.id}`,
        headers: { authorization: `Bearer ${await p.world.tokenFor(user)}` },
      });
    const byRep = await read('rep1');
    expect(byRep.json().provenance.bodyParameters).toEqual([
      { name: 'hcp_name', value: 'Dra. Ana Souza' },
      { name: 'hora', value: '16:45' },
    ]);
    const byAdmin = await read('admin');
    expect(byAdmin.statusCode, byAdmin.body).toBe(200);
    expect(byAdmin.json()).toMatchObject({ text: null, parameters: null });
    expect(byAdmin.json().provenance.bodyParameters).toEqual([{ name: 'hcp_name' }, { name: 'hora' }]);
    expect(byAdmin.json().provenance.template.key).toBe(template.key);
    expect(byAdmin.body).not.toContain('Ana Souza');
    expect(byAdmin.body).not.toContain('16:45');
  });

  it('refuses with 422 and the reasons when the policy denies, storing the decision and a blocked attempt', async () => {
    const template = await approvedTemplate(p);
    const res = await send({
      hcpId: p.world.hcps.br1b.id,
      templateId: template.id,
      parameters: { hora: '10:00' },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('policy_denied');
    expect(res.json().decision.reasons.map((r: { code: string }) => r.code)).toContain('consent_missing');
    const blocked = await p.context.db
      .selectFrom('interactions')
      .select('kind')
      .where('hcp_id', '=', p.world.hcps.br1b.id)
      .where('kind', '=', 'blocked_attempt')
      .execute();
    expect(blocked.length).toBeGreaterThan(0);
    const queued = await p.context.db
      .selectFrom('messages')
      .select('id')
      .where('hcp_id', '=', p.world.hcps.br1b.id)
      .execute();
    expect(queued).toEqual([]);
  });

  it('answers the same Idempotency-Key twice with one message and the same answer; another body is a 422', async () => {
    const template = await approvedTemplate(p);
    const body = { hcpId: p.world.hcps.br1a.id, templateId: template.id, parameters: { hora: '09:00' } };
    const [a, b] = await Promise.all([
      send(body, { 'idempotency-key': 'k-1' }),
      send(body, { 'idempotency-key': 'k-1' }),
    ]);
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(b.json().message.id).toBe(a.json().message.id);
    const c = await send({ ...body, parameters: { hora: '09:30' } }, { 'idempotency-key': 'k-1' });
    expect(c.statusCode).toBe(422);
    expect(c.json().error.code).toBe('idempotency_key_reused');
    const rows = await p.context.db
      .selectFrom('messages')
      .select('id')
      .where('idempotency_key', 'is', null)
      .where('id', '=', a.json().message.id)
      .execute();
    expect(rows).toHaveLength(1);
    await outboxWorkersOf(p.context)!.runOnce();
  });

  it('cancels a queued message at claim time when consent was withdrawn after it was queued', async () => {
    const template = await approvedTemplate(p);
    const res = await send({
      hcpId: p.world.hcps.br1a.id,
      templateId: template.id,
      parameters: { hora: '11:00' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().message.id as string;
    // A withdrawal recorded straight into the ledger, as a CRM import would: the queue is not touched,
    // so only the worker's second decision can stop the send.
    await p.context.db
      .insertInto('consent_entries')
      .values({
        id: newId('cns'),
        hcp_id: p.world.hcps.br1a.id,
        channel: 'whatsapp',
        purpose: 'service',
        status: 'withdrawn',
        source: 'crm_import',
        captured_by: null,
        captured_at: p.clock.now().toISOString(),
        evidence: null,
        wording_version: null,
        message_id: null,
        expires_at: null,
        recorded_at: p.clock.now().toISOString(),
      })
      .execute();
    const sentBefore = mountedSandbox(p.context)!.accepted.length;
    await outboxWorkersOf(p.context)!.runOnce();
    expect(mountedSandbox(p.context)!.accepted.length).toBe(sentBefore);
    const after = await p.context.db
      .selectFrom('messages')
      .select(['status', 'error_detail'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(after.status).toBe('cancelled');
    expect(after.error_detail).toContain('consent_withdrawn');
    p.clock.advance(60_000);
    await grant(p, compliance, p.world.hcps.br1a.id, 'service');
  });

  it('fails a permanent Cloud API error without retrying; dead-letters after bounded transient retries; a redrive sends once', async () => {
    const sandbox = mountedSandbox(p.context)!;
    const workers = outboxWorkersOf(p.context)!;
    const template = await approvedTemplate(p);
    sandbox.injectFault({ kind: 'error', code: 131026 });
    const first = await send({
      hcpId: p.world.hcps.br1a.id,
      templateId: template.id,
      parameters: { hora: '12:00' },
    });
    expect(first.statusCode, first.body).toBe(202);
    await workers.runOnce();
    const failed = await p.context.db
      .selectFrom('messages')
      .select(['status', 'error_code'])
      .where('id', '=', first.json().message.id)
      .executeTakeFirstOrThrow();
    expect(failed).toEqual({ status: 'failed', error_code: 131026 });
    const hcp = await p.context.db
      .selectFrom('hcps')
      .select('whatsapp_status')
      .where('id', '=', p.world.hcps.br1a.id)
      .executeTakeFirstOrThrow();
    expect(hcp.whatsapp_status).toBe('unreachable');
    await p.context.db
      .updateTable('hcps')
      .set({ whatsapp_status: 'active' })
      .where('id', '=', p.world.hcps.br1a.id)
      .execute();

    // A transient error five times over: retried with backoff, then dead-lettered; redriving twice sends once.
    p.clock.advance(25 * 3600_000);
    rep1 = await p.world.tokenFor('rep1');
    const other = await approvedTemplate(p);
    sandbox.injectFault({ kind: 'error', code: 131000 }, 5);
    const second = await send({
      hcpId: p.world.hcps.br1a.id,
      templateId: other.id,
      parameters: { hora: '13:00' },
    });
    expect(second.statusCode, second.body).toBe(202);
    const id = second.json().message.id as string;
    const before = sandbox.accepted.length;
    for (let i = 0; i < 5; i++) {
      await workers.runOnce();
      p.clock.advance(10 * 60_000); // past any backoff (capped at 5 minutes)
    }
    const outbox = await p.context.db
      .selectFrom('outbox')
      .select(['id', 'state', 'attempts'])
      .where('message_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(outbox).toMatchObject({ state: 'dead', attempts: 5 });
    expect(sandbox.accepted.length).toBe(before);
    const admin = await p.world.tokenFor('admin');
    const dead = await p.app.inject({
      method: 'GET',
      url: '/api/outbox/dead',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(dead.json().items.map((d: { messageId: string }) => d.messageId)).toContain(id);
    const redrive = () =>
      p.app.inject({
        method: 'POST',
        url: `/api/outbox/${outbox.id}/redrive`,
        headers: { authorization: `Bearer ${admin}` },
      });
    const [r1, r2] = [await redrive(), await redrive()];
    expect([r1.statusCode, r2.statusCode]).toEqual([200, 409]);
    await workers.runOnce();
    expect(sandbox.accepted.filter((a) => a.request.biz_opaque_callback_data === id)).toHaveLength(1);
  });
});
