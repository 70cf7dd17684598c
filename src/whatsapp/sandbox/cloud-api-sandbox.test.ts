import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyCloudApiError } from '../cloud-api-errors.js';
import { createCloudApiClient, type CloudApiClient } from '../cloud-api.client.js';
import type { TemplateSend } from '../send-payloads.js';
import type { RegisteredTemplate } from './cloud-api-sandbox.js';
import { startStandaloneSandbox, type StandaloneSandbox } from './standalone.js';

const SECRET = 'sandbox-test-secret';
const TOKEN = 'sandbox-test-token';
const NUMBER = {
  phoneNumberId: '106540352242922',
  displayPhoneNumber: '15550783881',
  wabaId: '102290129340398',
};
const TEMPLATES: RegisteredTemplate[] = [
  {
    name: 'visit_reminder',
    language: 'pt_BR',
    category: 'utility',
    status: 'APPROVED',
    bodyParameterCount: 2,
    body: 'Olá {{1}}, lembrete da visita em {{2}}.',
    buttons: ['Confirmar'],
  },
  {
    name: 'draft_only',
    language: 'pt_BR',
    category: 'marketing',
    status: 'PENDING',
    bodyParameterCount: 0,
    body: 'x',
    buttons: [],
  },
];

interface Delivered {
  raw: Buffer;
  signature: string;
  payload: {
    entry: Array<{
      changes: Array<{
        value: {
          statuses?: Array<{
            id: string;
            status: string;
            biz_opaque_callback_data?: string;
            errors?: Array<{ code: number }>;
          }>;
        };
      }>;
    }>;
  };
}

function template(
  to: string,
  parameters: string[],
  name = 'visit_reminder',
  language = 'pt_BR',
): TemplateSend {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'template',
    biz_opaque_callback_data: 'msg_parley_1',
    template: {
      name,
      language: { code: language },
      components: [{ type: 'body', parameters: parameters.map((text) => ({ type: 'text' as const, text })) }],
    },
  };
}

const statusesOf = (delivered: Delivered[], wamid: string) =>
  delivered
    .flatMap((d) => d.payload.entry.flatMap((e) => e.changes.flatMap((c) => c.value.statuses ?? [])))
    .filter((s) => s.id === wamid);

describe('the Cloud API stand-in, through a real HTTP client', () => {
  let running: StandaloneSandbox;
  let client: CloudApiClient;
  const delivered: Delivered[] = [];

  beforeAll(async () => {
    running = await startStandaloneSandbox({
      port: 0,
      accessToken: TOKEN,
      appSecret: SECRET,
      templates: async () => TEMPLATES,
      numbers: async () => [NUMBER],
      statusDelaysMs: { sent: 0, delivered: 0, read: 0 },
      chaos: { duplicate: 0, reorder: 0 },
      limits: { messagesPerSecond: 1000, pairBurst: 1000, pairRefillMs: 1 },
      timeoutFaultMs: 1500,
      deliverWebhook: async (raw, signature) => {
        delivered.push({ raw, signature, payload: JSON.parse(raw.toString('utf8')) as Delivered['payload'] });
        return 200;
      },
    });
    client = createCloudApiClient({
      baseUrl: running.baseUrl,
      apiVersion: 'v23.0',
      accessToken: TOKEN,
      timeoutMs: 500,
    });
  });
  afterAll(async () => running?.close());
  afterEach(async () => running.sandbox.drain());

  it('accepts an approved template with the right parameters and answers in Meta’s shape', async () => {
    const outcome = await client.send(
      NUMBER.phoneNumberId,
      template('+5511987654321', ['Dra. Ana', '12/03']),
    );
    expect(outcome).toMatchObject({ outcome: 'accepted', waId: '5511987654321', messageStatus: 'accepted' });
    if (outcome.outcome !== 'accepted') throw new Error('not accepted');
    expect(outcome.wamid).toMatch(/^wamid\./);
  });

  it('signs every webhook over the exact bytes it sends and echoes biz_opaque_callback_data', async () => {
    const outcome = await client.send(
      NUMBER.phoneNumberId,
      template('+5511912345678', ['Dr. Bruno', '13/03']),
    );
    if (outcome.outcome !== 'accepted') throw new Error('not accepted');
    await running.sandbox.drain();
    const mine = delivered.filter((d) => statusesOf([d], outcome.wamid).length > 0);
    expect(mine.map((d) => statusesOf([d], outcome.wamid)[0]!.status).sort()).toEqual([
      'delivered',
      'read',
      'sent',
    ]);
    for (const d of mine) {
      expect(d.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(d.raw).digest('hex')}`);
      expect(statusesOf([d], outcome.wamid)[0]!.biz_opaque_callback_data).toBe('msg_parley_1');
    }
  });

  it.each([
    ['an unknown template name', template('+5511900000001', ['a', 'b'], 'no_such_template'), 132001, 400],
    [
      'a template in a language Meta has no translation for',
      template('+5511900000001', ['a', 'b'], 'visit_reminder', 'es_ES'),
      132001,
      400,
    ],
    ['a template not approved at Meta', template('+5511900000001', [], 'draft_only'), 132001, 400],
    ['a parameter count that does not match', template('+5511900000001', ['only one']), 132000, 400],
  ])('rejects %s with Meta’s error code', async (_name, body, code, httpStatus) => {
    const outcome = await client.send(NUMBER.phoneNumberId, body);
    expect(outcome).toMatchObject({
      outcome: 'rejected',
      httpStatus,
      error: { code, type: 'OAuthException' },
    });
    if (outcome.outcome === 'rejected') expect(outcome.error.message).toMatch(new RegExp(`^\\(#${code}\\)`));
  });

  it('answers 190 with 401 to a wrong access token', async () => {
    const wrong = createCloudApiClient({
      baseUrl: running.baseUrl,
      apiVersion: 'v23.0',
      accessToken: 'not-the-token',
    });
    expect(await wrong.send(NUMBER.phoneNumberId, template('+5511900000002', ['a', 'b']))).toMatchObject({
      outcome: 'rejected',
      httpStatus: 401,
      error: { code: 190 },
    });
  });

  it('answers any other path with Meta’s code-100 error', async () => {
    const response = await fetch(`${running.baseUrl}/v23.0/${NUMBER.phoneNumberId}/whatever`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(100);
  });

  it('fails free text outside the customer-service window with 131047, asynchronously as Meta does', async () => {
    const outcome = await client.send(NUMBER.phoneNumberId, {
      messaging_product: 'whatsapp',
      to: '+5511955550001',
      type: 'text',
      text: { body: 'Olá' },
    });
    if (outcome.outcome !== 'accepted') throw new Error('not accepted');
    await running.sandbox.drain();
    const statuses = statusesOf(delivered, outcome.wamid);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ status: 'failed', errors: [{ code: 131047 }] });
  });

  it('delivers free text once the HCP has written within 24 hours', async () => {
    await running.sandbox.simulateInbound({
      from: '5511955550002',
      content: { type: 'text', body: 'Oi, pode me mandar o material?' },
    });
    const outcome = await client.send(NUMBER.phoneNumberId, {
      messaging_product: 'whatsapp',
      to: '+5511955550002',
      type: 'text',
      text: { body: 'Claro!' },
    });
    if (outcome.outcome !== 'accepted') throw new Error('not accepted');
    await running.sandbox.drain();
    expect(
      statusesOf(delivered, outcome.wamid)
        .map((s) => s.status)
        .sort(),
    ).toEqual(['delivered', 'read', 'sent']);
  });

  it('turns an injected 131026 into a rejection the worker classifies as unreachable', async () => {
    running.sandbox.injectFault({ kind: 'error', code: 131026 });
    const outcome = await client.send(NUMBER.phoneNumberId, template('+5511900000003', ['a', 'b']));
    if (outcome.outcome !== 'rejected') throw new Error('expected a rejection');
    expect(classifyCloudApiError(outcome.error.code, outcome.httpStatus).handling).toBe('fail_unreachable');
  });

  it('reports a dropped connection after the request left as ambiguous, never as not sent', async () => {
    running.sandbox.injectFault({ kind: 'drop' });
    expect((await client.send(NUMBER.phoneNumberId, template('+5511900000004', ['a', 'b']))).outcome).toBe(
      'ambiguous',
    );
  });

  it('reports a timeout as ambiguous', async () => {
    running.sandbox.injectFault({ kind: 'timeout' });
    expect((await client.send(NUMBER.phoneNumberId, template('+5511900000005', ['a', 'b']))).outcome).toBe(
      'ambiguous',
    );
  });

  it('reports a refused connection as not sent (safe to retry)', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const nowhere = createCloudApiClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiVersion: 'v23.0',
      accessToken: TOKEN,
    });
    expect(await nowhere.send(NUMBER.phoneNumberId, template('+5511900000006', ['a', 'b']))).toMatchObject({
      outcome: 'not_sent',
      cause: 'ECONNREFUSED',
    });
  });

  it('marks a message as read with {"success": true}', async () => {
    expect(
      await client.markRead(NUMBER.phoneNumberId, {
        messaging_product: 'whatsapp',
        status: 'read',
        message_id: 'wamid.X',
      }),
    ).toEqual({ outcome: 'read_marked' });
  });

  it('lists its registry of templates like the message_templates edge', async () => {
    const response = await fetch(`${running.baseUrl}/v23.0/${NUMBER.wabaId}/message_templates`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await response.json()) as { data: Array<{ name: string; status: string }> };
    expect(body.data.map((t) => [t.name, t.status])).toEqual([
      ['visit_reminder', 'APPROVED'],
      ['draft_only', 'PENDING'],
    ]);
  });
});

describe('the stand-in’s limits', () => {
  let running: StandaloneSandbox;
  let client: CloudApiClient;
  // A clock that stands still: every send falls in the same second, so the limits are exact.
  const instant = new Date('2026-03-03T14:00:00.000Z');
  beforeEach(async () => {
    running = await startStandaloneSandbox({
      port: 0,
      accessToken: TOKEN,
      appSecret: SECRET,
      templates: async () => TEMPLATES,
      numbers: async () => [NUMBER],
      statusDelaysMs: { sent: 0, delivered: 0, read: 0 },
      chaos: { duplicate: 0, reorder: 0 },
      limits: { messagesPerSecond: 5, pairBurst: 2, pairRefillMs: 60_000 },
      now: () => instant,
      deliverWebhook: async () => 200,
    });
    client = createCloudApiClient({ baseUrl: running.baseUrl, apiVersion: 'v23.0', accessToken: TOKEN });
  });
  afterEach(async () => {
    await running.sandbox.drain();
    await running.close();
  });

  it('answers 131056 when one recipient gets more than the pair limit allows', async () => {
    const outcomes = [];
    for (let i = 0; i < 3; i++)
      outcomes.push(await client.send(NUMBER.phoneNumberId, template('+5511977770001', ['a', 'b'])));
    expect(outcomes.map((o) => o.outcome)).toEqual(['accepted', 'accepted', 'rejected']);
    expect(outcomes[2]).toMatchObject({ httpStatus: 429, error: { code: 131056 } });
  });

  it('answers 130429 past the per-number throughput and never accepts more than the limit in a second', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        client.send(NUMBER.phoneNumberId, template(`+55119777701${10 + i}`, ['a', 'b'])),
      ),
    );
    expect(outcomes.filter((o) => o.outcome === 'accepted')).toHaveLength(5);
    expect(
      outcomes.filter((o) => o.outcome === 'rejected' && o.httpStatus === 429 && o.error.code === 130429),
    ).toHaveLength(7);
  });
});
