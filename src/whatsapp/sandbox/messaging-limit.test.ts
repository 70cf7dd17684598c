import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCloudApiClient, type CloudApiClient, type SendOutcome } from '../cloud-api.client.js';
import { classifyCloudApiError } from '../cloud-api-errors.js';
import type { TemplateSend } from '../send-payloads.js';
import {
  BusinessInitiatedRecipients,
  MESSAGING_LIMIT_REFUSAL,
  MESSAGING_LIMIT_WINDOW_MS,
  messagingLimitTierName,
} from './messaging-limit.js';
import { startStandaloneSandbox, type StandaloneSandbox } from './standalone.js';

const HOUR = 3600_000;

describe('the recipients a portfolio messaged outside a window (pure)', () => {
  it('admits N unique recipients, refuses the next new one, and never refuses a repeat', () => {
    const r = new BusinessInitiatedRecipients();
    expect(['a', 'b', 'c'].map((w) => r.admit(w, 0, 3))).toEqual(['admitted', 'admitted', 'admitted']);
    expect(r.admit('d', 1, 3)).toBe('over_limit');
    expect(r.admit('b', 2, 3)).toBe('already_counted');
    expect(r.count(2)).toBe(3);
  });

  it('frees a recipient 24 h after the last message to them (the window is (t − 24 h, t])', () => {
    const r = new BusinessInitiatedRecipients();
    r.admit('a', 0, 2);
    r.admit('a', 5 * HOUR, 2); // a repeat moves a's 24 h along
    r.admit('b', 10 * HOUR, 2);
    expect(r.admit('c', MESSAGING_LIMIT_WINDOW_MS + 5 * HOUR - 1, 2)).toBe('over_limit');
    expect(r.admit('c', MESSAGING_LIMIT_WINDOW_MS + 5 * HOUR, 2)).toBe('admitted');
    expect(r.count(MESSAGING_LIMIT_WINDOW_MS + 10 * HOUR)).toBe(1); // b left too; c stays
  });

  it('counts the same when a test clock goes back in time', () => {
    const r = new BusinessInitiatedRecipients();
    r.admit('a', 0, 2);
    r.admit('b', 10 * HOUR, 2);
    r.admit('a', 5 * HOUR, 2); // earlier than b: insertion order no longer follows time
    expect(r.admit('c', MESSAGING_LIMIT_WINDOW_MS + 5 * HOUR - 1, 2)).toBe('over_limit');
    expect(r.admit('c', MESSAGING_LIMIT_WINDOW_MS + 5 * HOUR, 2)).toBe('admitted');
    expect(r.count(MESSAGING_LIMIT_WINDOW_MS + 10 * HOUR)).toBe(1); // b left too; c stays
  });

  it('has no ceiling when unlimited', () => {
    const r = new BusinessInitiatedRecipients();
    for (let i = 0; i < 5000; i++) expect(r.admit(`r${i}`, i, 'unlimited')).toBe('admitted');
    expect(r.count(5000)).toBe(5000);
  });

  it('names limits as Meta does', () => {
    expect([250, 1000, 2000, 10_000, 100_000, 'unlimited' as const, 3].map(messagingLimitTierName)).toEqual([
      'TIER_250',
      'TIER_1K',
      'TIER_2K',
      'TIER_10K',
      'TIER_100K',
      'TIER_UNLIMITED',
      'TIER_3',
    ]);
  });
});

const TOKEN = 'tier-test-token';
const BR = { phoneNumberId: '106540352242922', displayPhoneNumber: '15550783881', wabaId: '102290129340398' };
const ES = { phoneNumberId: '106540352242923', displayPhoneNumber: '34910000123', wabaId: '102290129340398' };

function template(to: string): TemplateSend {
  return {
    messaging_product: 'whatsapp',
    to,
    type: 'template',
    template: { name: 'visit_reminder', language: { code: 'pt_BR' } },
  };
}

const codeOf = (o: SendOutcome) => (o.outcome === 'rejected' ? o.error.code : o.outcome);

describe('the stand-in’s messaging-limit tier, over HTTP', () => {
  let running: StandaloneSandbox;
  let client: CloudApiClient;
  let clock: Date;
  const LIMIT = 3;

  beforeEach(async () => {
    clock = new Date('2026-03-03T14:00:00.000Z');
    running = await startStandaloneSandbox({
      port: 0,
      accessToken: TOKEN,
      appSecret: 'tier-test-secret',
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
      numbers: async () => [BR, ES],
      statusDelaysMs: { sent: 0, delivered: 0, read: 0 },
      chaos: { duplicate: 0, reorder: 0 },
      limits: { messagesPerSecond: 1000, pairBurst: 1000, pairRefillMs: 1 },
      messagingLimit: LIMIT,
      now: () => clock,
      deliverWebhook: async () => 200,
    });
    client = createCloudApiClient({ baseUrl: running.baseUrl, apiVersion: 'v23.0', accessToken: TOKEN });
  });
  afterEach(async () => {
    await running.sandbox.drain();
    await running.close();
  });

  const send = (to: string, number = BR) => client.send(number.phoneNumberId, template(to));

  it('accepts the N-th unique recipient and refuses the N+1-th with 131048, in Meta’s error shape', async () => {
    const outcomes = [];
    for (const to of ['+5511900000001', '+5511900000002', '+5511900000003', '+5511900000004'])
      outcomes.push(await send(to));
    expect(outcomes.map(codeOf)).toEqual(['accepted', 'accepted', 'accepted', 131048]);
    expect(outcomes[3]).toMatchObject({
      outcome: 'rejected',
      httpStatus: 400,
      error: {
        code: MESSAGING_LIMIT_REFUSAL.code,
        type: 'OAuthException',
        message: `(#131048) ${MESSAGING_LIMIT_REFUSAL.title}`,
        error_data: { messaging_product: 'whatsapp', details: MESSAGING_LIMIT_REFUSAL.details },
      },
    });
    expect(running.sandbox.accepted).toHaveLength(3);
  });

  it('does not count a repeat recipient, and shares one limit across the portfolio’s numbers', async () => {
    expect(codeOf(await send('+5511900000001'))).toBe('accepted');
    expect(codeOf(await send('+5511900000001'))).toBe('accepted');
    expect(codeOf(await send('+34600000002', ES))).toBe('accepted');
    expect(codeOf(await send('+5511900000001', ES))).toBe('accepted'); // same person, other number
    expect(codeOf(await send('+5511900000003'))).toBe('accepted');
    expect(codeOf(await send('+34600000004', ES))).toBe(131048);
    expect(codeOf(await send('+34600000002'))).toBe('accepted'); // counted already, from the other number
  });

  it('does not count a recipient inside their customer-service window', async () => {
    for (const to of ['+5511900000001', '+5511900000002', '+5511900000003'])
      expect(codeOf(await send(to))).toBe('accepted');
    await running.sandbox.simulateInbound({
      from: '5511900000009',
      phoneNumberId: BR.phoneNumberId,
      content: { type: 'text', body: 'Oi' },
    });
    expect(codeOf(await send('+5511900000009'))).toBe('accepted'); // window open on BR: not counted
    expect(codeOf(await send('+5511900000009', ES))).toBe(131048); // the window is per number
    clock = new Date(clock.getTime() + 24 * HOUR + 1000); // window closed, and the first three freed
    expect(codeOf(await send('+5511900000009'))).toBe('accepted'); // now it counts
    expect((await running.sandbox.messagingLimitUsage()).uniqueRecipients).toBe(1);
  });

  it('frees room as the 24 h window moves, not at midnight', async () => {
    expect(codeOf(await send('+5511900000001'))).toBe('accepted');
    clock = new Date(clock.getTime() + 6 * HOUR);
    expect(codeOf(await send('+5511900000002'))).toBe('accepted');
    expect(codeOf(await send('+5511900000003'))).toBe('accepted');
    clock = new Date(clock.getTime() + 18 * HOUR - 1); // 1 ms before the first one leaves the window
    expect(codeOf(await send('+5511900000004'))).toBe(131048);
    clock = new Date(clock.getTime() + 1);
    expect(codeOf(await send('+5511900000004'))).toBe('accepted');
    expect(codeOf(await send('+5511900000005'))).toBe(131048); // the other two are still inside
  });

  it('lets tests raise and lower the limit, and reports it where Meta does', async () => {
    const read = async (fields: string, version = 'v24.0') => {
      const res = await fetch(`${running.baseUrl}/${version}/${BR.phoneNumberId}?fields=${fields}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await read('whatsapp_business_manager_messaging_limit')).toEqual({
      status: 200,
      body: { whatsapp_business_manager_messaging_limit: 'TIER_3', id: BR.phoneNumberId },
    });
    const control = await fetch(`${running.baseUrl}/_control/messaging-limit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limit: 250 }),
    });
    expect(await control.json()).toEqual({
      whatsapp_business_manager_messaging_limit: 'TIER_250',
      limit: 250,
      unique_recipients_24h: 0,
    });
    expect((await read('messaging_limit_tier,display_phone_number', 'v23.0')).body).toEqual({
      messaging_limit_tier: 'TIER_250',
      display_phone_number: BR.displayPhoneNumber,
      id: BR.phoneNumberId,
    });
    expect(await read('no_such_field')).toMatchObject({ status: 400, body: { error: { code: 100 } } });

    running.sandbox.setMessagingLimit(1);
    expect(codeOf(await send('+5511900000001'))).toBe('accepted');
    expect(codeOf(await send('+5511900000002'))).toBe(131048);
    running.sandbox.setMessagingLimit('unlimited');
    expect(codeOf(await send('+5511900000002'))).toBe('accepted');
    running.sandbox.setMessagingLimit(undefined); // back to the option (3)
    expect(codeOf(await send('+5511900000003'))).toBe('accepted');
    expect(codeOf(await send('+5511900000004'))).toBe(131048);
  });

  it('still serves media ids on the same path', async () => {
    const res = await fetch(`${running.baseUrl}/v23.0/1234567890`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await res.json()).toMatchObject({ id: '1234567890', messaging_product: 'whatsapp' });
  });

  it('gives an answer Parley pauses the number on (a person checks the tier), never a silent retry', async () => {
    running.sandbox.setMessagingLimit(1);
    await send('+5511900000001');
    const refused = await send('+5511900000002');
    if (refused.outcome !== 'rejected') throw new Error('expected a refusal');
    expect(classifyCloudApiError(refused.error.code, refused.httpStatus).handling).toBe('pause_number');
  });
});
