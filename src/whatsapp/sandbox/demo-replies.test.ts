import { createHmac, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { triageText } from '../../assistant/index.js';
import { classifyConsentReply } from '../../consent/index.js';
import { createCloudApiClient } from '../cloud-api.client.js';
import {
  DEFAULT_DEMO_REPLY_SETTINGS,
  DEMO_REPLY_TEXTS,
  planDemoReply,
  replyLanguageOf,
  type DemoReplyKind,
  type ReplyLanguage,
} from './demo-replies.js';
import { startStandaloneSandbox, type StandaloneSandbox } from './standalone.js';

const wamidOf = () => `wamid.${randomBytes(24).toString('base64')}`;
const LANGUAGES: ReplyLanguage[] = ['pt', 'es', 'en', 'hi'];

describe('planned demo replies (pure)', () => {
  it('are a function of the wamid: the same message always gets the same reply, after the same delay', () => {
    for (let i = 0; i < 200; i++) {
      const wamid = wamidOf();
      expect(planDemoReply(wamid, 'pt')).toEqual(planDemoReply(wamid, 'pt'));
      // The language changes the words, never whether or when the HCP answers.
      const [pt, es] = [planDemoReply(wamid, 'pt'), planDemoReply(wamid, 'es')];
      expect(es?.kind).toBe(pt?.kind);
      expect(es?.delayMs).toBe(pt?.delayMs);
    }
  });

  it('answer about a third of messages: mostly thanks, some questions, now and then an adverse event, never STOP', () => {
    const n = 6000;
    const plans = Array.from({ length: n }, () => planDemoReply(wamidOf(), 'en'));
    const replies = plans.filter((p) => p !== undefined);
    expect(replies.length / n).toBeGreaterThan(DEFAULT_DEMO_REPLY_SETTINGS.share - 0.03);
    expect(replies.length / n).toBeLessThan(DEFAULT_DEMO_REPLY_SETTINGS.share + 0.03);
    const share = (kind: string) => replies.filter((r) => r.kind === kind).length / replies.length;
    expect(share('thanks')).toBeCloseTo(0.6, 1);
    expect(share('question')).toBeCloseTo(0.3, 1);
    expect(share('adverse_event')).toBeCloseTo(0.1, 1);
    expect(replies.some((r) => (r.kind as DemoReplyKind) === 'stop')).toBe(false);
    const { min, max } = DEFAULT_DEMO_REPLY_SETTINGS.delayMs;
    expect(replies.every((r) => r.delayMs >= min && r.delayMs <= max)).toBe(true);
  });

  it('follow the settings: a share of 0 answers nothing, 1 answers everything', () => {
    const wamids = Array.from({ length: 100 }, wamidOf);
    const none = { share: 0, delayMs: { min: 0, max: 0 } };
    const all = { share: 1, delayMs: { min: 0, max: 0 } };
    expect(wamids.map((w) => planDemoReply(w, 'pt', none)).filter(Boolean)).toHaveLength(0);
    expect(wamids.map((w) => planDemoReply(w, 'pt', all)).filter(Boolean)).toHaveLength(100);
  });

  it.each(LANGUAGES)(
    'in %s, read by Parley as meant: thanks is nothing, a question and an adverse event open cases, STOP opts out',
    (language) => {
      const read = (kind: DemoReplyKind) =>
        triageText(DEMO_REPLY_TEXTS[kind][language]).findings.map((f) => f.kind);
      expect(read('thanks')).toEqual([]);
      expect(read('question')).toEqual(['medical_inquiry']);
      expect(read('adverse_event')).toEqual(['adverse_event']); // one case, not also an inquiry
      const consent = (kind: DemoReplyKind) =>
        classifyConsentReply(DEMO_REPLY_TEXTS[kind][language], { language }).intent;
      expect(consent('thanks')).toBe('none');
      expect(consent('question')).toBe('none');
      expect(consent('adverse_event')).toBe('none');
      expect(consent('stop')).toBe('opt_out');
    },
  );

  it('speak the language of the template read, else of the number’s country', () => {
    expect(replyLanguageOf('pt_BR', '34600000000')).toBe('pt');
    expect(replyLanguageOf('es_ES', '5511900000000')).toBe('es');
    expect(replyLanguageOf('en_US', '5511900000000')).toBe('en');
    expect(replyLanguageOf('hi', '919800000000')).toBe('hi');
    expect(replyLanguageOf(undefined, '5511900000000')).toBe('pt');
    expect(replyLanguageOf(undefined, '34600000000')).toBe('es');
    expect(replyLanguageOf(undefined, '5215500000000')).toBe('es');
    expect(replyLanguageOf('fr', '919800000000')).toBe('en');
  });
});

interface Delivery {
  raw: Buffer;
  signature: string;
  value: {
    metadata: { phone_number_id: string };
    messages?: Array<{
      from: string;
      id: string;
      timestamp: string;
      context?: { from: string; id: string };
      text?: { body: string };
    }>;
    statuses?: Array<{ id: string; status: string; timestamp: string }>;
  };
}

const SECRET = 'demo-replies-secret';
const TOKEN = 'demo-replies-token';
const NUMBER = {
  phoneNumberId: '106540352242922',
  displayPhoneNumber: '15550783881',
  wabaId: '102290129340398',
};
const SETTINGS = { share: 1, delayMs: { min: 20, max: 40 } };

describe('the stand-in’s demo replies, over HTTP', () => {
  let running: StandaloneSandbox | undefined;
  afterEach(async () => {
    await running?.sandbox.drain();
    await running?.close();
    running = undefined;
  });

  async function start(replies: {
    enabled: boolean;
    share?: number;
    delayMs?: { min: number; max: number };
  }) {
    const delivered: Delivery[] = [];
    running = await startStandaloneSandbox({
      port: 0,
      accessToken: TOKEN,
      appSecret: SECRET,
      templates: async () => [
        {
          name: 'visit_reminder',
          language: 'pt_BR',
          category: 'utility',
          status: 'APPROVED',
          bodyParameterCount: 0,
          body: 'Lembrete da visita.',
          buttons: [],
        },
      ],
      numbers: async () => [NUMBER],
      statusDelaysMs: { sent: 0, delivered: 5, read: 10 },
      chaos: { duplicate: 0, reorder: 0 },
      replies,
      deliverWebhook: async (raw, signature) => {
        const payload = JSON.parse(raw.toString('utf8')) as {
          entry: Array<{ changes: Array<{ value: Delivery['value'] }> }>;
        };
        delivered.push({ raw, signature, value: payload.entry[0]!.changes[0]!.value });
        return 200;
      },
    });
    const client = createCloudApiClient({
      baseUrl: running.baseUrl,
      apiVersion: 'v23.0',
      accessToken: TOKEN,
    });
    return { delivered, client, sandbox: running.sandbox };
  }

  const templateTo = (to: string) => ({
    messaging_product: 'whatsapp' as const,
    to,
    type: 'template' as const,
    template: { name: 'visit_reminder', language: { code: 'pt_BR' } },
  });

  it('delivers the planned reply after the read status, quoting the message (context.id), signed over its bytes', async () => {
    const { delivered, client, sandbox } = await start({ enabled: true, ...SETTINGS });
    const wamids: string[] = [];
    for (const to of ['+5511900000001', '+5511900000002', '+5511900000003']) {
      const outcome = await client.send(NUMBER.phoneNumberId, templateTo(to));
      if (outcome.outcome !== 'accepted') throw new Error('not accepted');
      wamids.push(outcome.wamid);
    }
    await sandbox.drain();
    for (const [i, wamid] of wamids.entries()) {
      const planned = planDemoReply(wamid, 'pt', SETTINGS)!;
      const replies = delivered.filter((d) => d.value.messages?.[0]?.context?.id === wamid);
      expect(replies).toHaveLength(1);
      const reply = replies[0]!;
      const message = reply.value.messages![0]!;
      expect(message).toMatchObject({
        from: `551190000000${i + 1}`,
        context: { from: NUMBER.displayPhoneNumber, id: wamid },
        text: { body: planned.text },
      });
      expect(reply.value.metadata.phone_number_id).toBe(NUMBER.phoneNumberId);
      expect(reply.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(reply.raw).digest('hex')}`);
      // It comes after the HCP read the message, and says so in Meta's timestamp too.
      const read = delivered.findIndex(
        (d) => d.value.statuses?.[0]?.id === wamid && d.value.statuses[0].status === 'read',
      );
      expect(read).toBeGreaterThanOrEqual(0);
      expect(delivered.indexOf(reply)).toBeGreaterThan(read);
      expect(Number(message.timestamp)).toBeGreaterThanOrEqual(
        Number(delivered[read]!.value.statuses![0]!.timestamp),
      );
    }
  });

  it('opens the HCP’s customer-service window, as a real reply does (free text then goes through)', async () => {
    const { delivered, client, sandbox } = await start({ enabled: true, ...SETTINGS });
    await client.send(NUMBER.phoneNumberId, templateTo('+5511900000004'));
    await sandbox.drain();
    const text = await client.send(NUMBER.phoneNumberId, {
      messaging_product: 'whatsapp',
      to: '+5511900000004',
      type: 'text',
      text: { body: 'Obrigado, doutora!' },
    });
    if (text.outcome !== 'accepted') throw new Error('not accepted');
    await sandbox.drain();
    const statuses = delivered.flatMap((d) => d.value.statuses ?? []).filter((s) => s.id === text.wamid);
    expect(statuses.map((s) => s.status)).not.toContain('failed');
  });

  it('never answers a message that failed (free text outside the window)', async () => {
    const { delivered, client, sandbox } = await start({ enabled: true, ...SETTINGS });
    const outcome = await client.send(NUMBER.phoneNumberId, {
      messaging_product: 'whatsapp',
      to: '+5511900000005',
      type: 'text',
      text: { body: 'Olá' },
    });
    if (outcome.outcome !== 'accepted') throw new Error('not accepted');
    await sandbox.drain();
    expect(delivered.filter((d) => d.value.messages)).toHaveLength(0);
  });

  it('sends nothing by itself when replies are off (the default in tests)', async () => {
    const { delivered, client, sandbox } = await start({ enabled: false, ...SETTINGS });
    for (const to of ['+5511900000006', '+5511900000007'])
      expect((await client.send(NUMBER.phoneNumberId, templateTo(to))).outcome).toBe('accepted');
    await sandbox.drain();
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.filter((d) => d.value.messages)).toHaveLength(0);
  });

  it('writes a canned reply on demand, STOP included, in the HCP’s language', async () => {
    const { delivered } = await start({ enabled: false });
    const post = (body: object) =>
      fetch(`${running!.baseUrl}/_control/inbound`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ from: '5511900000008', reply: 'stop', contextWamid: 'wamid.X' })).status).toBe(200);
    expect((await post({ from: '34600000009', reply: 'question' })).status).toBe(200);
    expect((await post({ from: '34600000009', reply: 'thanks', language: 'en' })).status).toBe(200);
    expect((await post({ from: '34600000009', reply: 'shout' })).status).toBe(400);
    expect(delivered.map((d) => d.value.messages?.[0]?.text?.body)).toEqual([
      'PARAR',
      DEMO_REPLY_TEXTS.question.es,
      DEMO_REPLY_TEXTS.thanks.en,
    ]);
    expect(delivered[0]!.value.messages![0]!.context?.id).toBe('wamid.X');
  });
});
