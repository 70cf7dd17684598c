import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestParley } from '../test-support/index.js';
import { TEST_APP_SECRET } from '../test-support/index.js';
import { signWebhookBody } from './webhook-signature.js';
import { webhookProcessorOf } from './whatsapp.routes.js';

/**
 * Test support for the webhook: Meta's example payloads (copied from shared/whatsapp-examples into
 * ./fixtures, `_source`/`_note` keys stripped as the fixture convention says), builders for shapes the
 * examples lack, and a signed POST through the real app.
 */

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Names of the example files that are webhook deliveries (not send requests or responses). */
export function webhookFixtureNames(): string[] {
  return readdirSync(FIXTURES)
    .filter((f) => /^(inbound_|status_|template_status_|user_preferences_)/.test(f))
    .sort();
}

export function loadFixture(name: string): Record<string, unknown> {
  const raw = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_')));
}

/** A `messages` envelope around the given messages / statuses, on the test world's sending number. */
export function envelope(
  value: { messages?: unknown[]; statuses?: unknown[]; contacts?: unknown[] },
  phoneNumberId = '106540352242922',
): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

let counter = 0;
/** A fresh wamid for each call, so tests never collide. */
export function newWamid(): string {
  counter += 1;
  return `wamid.TEST${Date.now().toString(36)}${counter.toString(36).padStart(6, '0')}=`;
}

export function textMessage(
  from: string,
  body: string,
  options: { id?: string; timestamp?: number; contextId?: string } = {},
): Record<string, unknown> {
  return {
    from,
    id: options.id ?? newWamid(),
    timestamp: String(options.timestamp ?? 1772546400),
    type: 'text',
    text: { body },
    ...(options.contextId ? { context: { from: '15550783881', id: options.contextId } } : {}),
  };
}

export async function postWebhook(
  p: TestParley,
  body: string | Buffer,
  signature: string | null = signWebhookBody(body, TEST_APP_SECRET),
) {
  return p.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: {
      'content-type': 'application/json',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    payload: body,
  });
}

/** Posts a JSON delivery, signed, and waits until Parley has processed everything pending. */
export async function deliver(p: TestParley, json: unknown): Promise<number> {
  const response = await postWebhook(p, JSON.stringify(json));
  await processorOf(p).drain();
  return response.statusCode;
}

export function processorOf(p: TestParley) {
  const processor = webhookProcessorOf(p.context);
  if (!processor) throw new Error('the WhatsApp routes did not start a webhook processor');
  return processor;
}
