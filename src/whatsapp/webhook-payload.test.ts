import { describe, expect, it } from 'vitest';
import { readDelivery, type WebhookEvent } from './webhook-payload.js';
import { envelope, loadFixture, webhookFixtureNames } from './webhook-fixtures.test-support.js';

const blind = (v: string) => `bidx(${v.length})`;
const base = { from: '16505551234', id: 'wamid.X1', timestamp: '1750269342' };

function eventsOf(json: unknown): WebhookEvent[] {
  const parsed = readDelivery(json, blind);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.events;
}

function change(field: string, value: unknown) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: '1', time: 1751247548, changes: [{ field, value }] }],
  };
}

describe('reading webhook deliveries', () => {
  it.each(webhookFixtureNames())('reads the example %s without quarantining anything', (name) => {
    const events = eventsOf(loadFixture(name));
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === 'quarantine')).toEqual([]);
  });

  it.each<[string, Record<string, unknown>]>([
    [
      'a document',
      {
        type: 'document',
        document: { filename: 'a.pdf', mime_type: 'application/pdf', sha256: 'x', id: '9' },
      },
    ],
    [
      'a voice note',
      { type: 'audio', audio: { mime_type: 'audio/ogg; codecs=opus', sha256: 'x', id: '9', voice: true } },
    ],
    [
      'a video with a caption',
      { type: 'video', video: { caption: 'olha', mime_type: 'video/mp4', sha256: 'x', id: '9' } },
    ],
    [
      'an animated sticker',
      { type: 'sticker', sticker: { mime_type: 'image/webp', sha256: 'x', id: '9', animated: true } },
    ],
    [
      'a contact card',
      { type: 'contacts', contacts: [{ name: { formatted_name: 'A' }, phones: [{ phone: '+1' }] }] },
    ],
    ['a reaction', { type: 'reaction', reaction: { message_id: 'wamid.Y', emoji: '👍' } }],
    [
      'a removed reaction (empty emoji)',
      { type: 'reaction', reaction: { message_id: 'wamid.Y', emoji: '' } },
    ],
    ['a removed reaction (no emoji)', { type: 'reaction', reaction: { message_id: 'wamid.Y' } }],
    ['a forwarded text', { type: 'text', text: { body: 'fwd' }, context: { forwarded: true } }],
    [
      'a text with a BSUID and no wa_id',
      { type: 'text', text: { body: 'hi' }, from: undefined, from_user_id: 'US.123' },
    ],
    [
      'a customer identity change',
      { type: 'system', system: { body: 'x', type: 'customer_identity_changed' } },
    ],
  ])('reads %s as a message event', (_name, message) => {
    const events = eventsOf(envelope({ messages: [{ ...base, ...message }] }));
    expect(events.map((e) => e.kind)).toEqual(['message']);
    expect(events[0]!.key).toBe('message:wamid.X1');
  });

  it.each([
    [
      'sent with pricing and conversation',
      {
        status: 'sent',
        conversation: { id: 'c', origin: { type: 'utility' } },
        pricing: {
          billable: false,
          pricing_model: 'PMP',
          type: 'free_customer_service',
          category: 'utility',
        },
      },
    ],
    ['delivered without pricing', { status: 'delivered' }],
    ['read', { status: 'read' }],
    ['played', { status: 'played' }],
    ['failed with errors', { status: 'failed', errors: [{ code: 131047, title: 'Re-engagement message' }] }],
  ])('reads a status %s', (_name, status) => {
    const events = eventsOf(
      envelope({ statuses: [{ id: 'wamid.S', timestamp: '1750030073', recipient_id: '1', ...status }] }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'status', key: `status:wamid.S:${status.status}` });
  });

  it('reads a marketing stop from user_preferences with a key that does not carry the number', () => {
    const events = eventsOf(
      change('user_preferences', {
        user_preferences: [
          {
            wa_id: '16505551234',
            detail: 'stop',
            category: 'marketing_messages',
            value: 'stop',
            timestamp: 1731705721,
          },
        ],
      }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.kind).toBe('user_preference');
    expect(events[0]!.key).not.toContain('16505551234');
  });

  it('reads a template category update', () => {
    const events = eventsOf(
      change('template_category_update', {
        message_template_id: 12345,
        message_template_name: 'consulta',
        message_template_language: 'pt_BR',
        previous_category: 'UTILITY',
        new_category: 'MARKETING',
      }),
    );
    expect(events).toEqual([
      expect.objectContaining({
        kind: 'template_category',
        update: expect.objectContaining({ message_template_id: '12345' }),
      }),
    ]);
  });

  it('reads a batch of several entries and changes, and one event repeated in it once', () => {
    const text = { ...base, type: 'text', text: { body: 'a' } };
    const one = envelope({ messages: [text] }).entry as unknown[];
    const two = envelope({
      messages: [{ ...text, id: 'wamid.X2' }],
      statuses: [{ id: 'wamid.S', status: 'sent', timestamp: '1' }],
    }).entry as unknown[];
    const events = eventsOf({ object: 'whatsapp_business_account', entry: [...one, ...two, ...one] });
    expect(events.map((e) => e.key)).toEqual(['message:wamid.X1', 'message:wamid.X2', 'status:wamid.S:sent']);
  });

  it.each<[string, unknown]>([
    ['an unknown message type', envelope({ messages: [{ ...base, type: 'order', order: {} }] })],
    ['a text without its body', envelope({ messages: [{ ...base, type: 'text', text: {} }] })],
    [
      'a timestamp that is not Unix seconds',
      envelope({ messages: [{ ...base, timestamp: 'yesterday', type: 'text', text: { body: 'a' } }] }),
    ],
    [
      'a wamid too long to be one',
      envelope({ messages: [{ ...base, id: 'w'.repeat(5000), type: 'text', text: { body: 'a' } }] }),
    ],
    ['an unknown status', envelope({ statuses: [{ id: 'wamid.S', status: 'deleted', timestamp: '1' }] })],
    ['an unknown field', change('account_update', { event: 'VERIFIED_ACCOUNT' })],
    ['a messages change with nothing in it', change('messages', { metadata: { phone_number_id: '1' } })],
  ])('quarantines %s and keeps the rest of the delivery', (_name, json) => {
    const events = eventsOf(json);
    expect(events.map((e) => e.kind)).toEqual(['quarantine']);
    expect((events[0] as { reason: string }).reason).not.toContain('16505551234');
  });

  it.each([
    ['an array', []],
    ['another object type', { object: 'page', entry: [] }],
    ['no entries', { object: 'whatsapp_business_account', entry: [] }],
    ['null', null],
  ])('refuses %s as a whole delivery', (_name, json) => {
    expect(readDelivery(json, blind).ok).toBe(false);
  });
});
