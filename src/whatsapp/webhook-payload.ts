import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Zod schemas for what Meta posts to the webhook (CLOUD-API.md §2 and the examples in
 * shared/whatsapp-examples), and the pure split of one delivery into events, each with a stable key so
 * overlapping batches and retries store each event once. Objects are tolerant of unknown fields (Meta adds
 * fields between versions); what Parley relies on is required. A part that does not parse becomes a
 * `quarantine` event: it is acknowledged and kept for a person, never a 5xx.
 */

/** Meta's ids and keys are short; a bound keeps a hostile value out of primary keys and indexes. */
const id = z.string().min(1).max(256);
const shortText = z.string().max(4096);
/** Unix seconds as Meta sends them: a string of digits (an integer in user_preferences). */
const unixSeconds = z
  .union([z.string().regex(/^\d{1,11}$/), z.number().int().nonnegative().max(99_999_999_999)])
  .transform((v) => new Date(Number(v) * 1000).toISOString());

const metaError = z.object({
  code: z.number().int(),
  title: shortText.optional(),
  message: shortText.optional(),
  error_data: z.object({ details: shortText.optional() }).optional(),
  href: shortText.optional(),
});
export type MetaError = z.infer<typeof metaError>;

const context = z.object({
  from: id.optional(),
  id: id.optional(),
  forwarded: z.boolean().optional(),
  frequently_forwarded: z.boolean().optional(),
  referred_product: z.object({ catalog_id: id.optional(), product_retailer_id: id.optional() }).optional(),
});

const media = z.object({
  id,
  mime_type: shortText.optional(),
  sha256: shortText.optional(),
  caption: z.string().max(65_536).optional(),
  filename: shortText.optional(),
  voice: z.boolean().optional(),
  animated: z.boolean().optional(),
  url: shortText.optional(),
});

const base = {
  from: id.optional(),
  from_user_id: id.optional(),
  id,
  timestamp: unixSeconds,
  context: context.optional(),
  errors: z.array(metaError).max(50).optional(),
  referral: z
    .object({
      source_url: shortText.optional(),
      source_id: shortText.optional(),
      source_type: shortText.optional(),
      headline: shortText.optional(),
      media_type: shortText.optional(),
      ctwa_clid: shortText.optional(),
    })
    .optional(),
};

export const inboundMessageSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('text'), text: z.object({ body: z.string().max(65_536) }) }),
  z.object({
    ...base,
    type: z.literal('button'),
    button: z.object({ payload: shortText.optional(), text: shortText }),
  }),
  z.object({
    ...base,
    type: z.literal('interactive'),
    interactive: z.discriminatedUnion('type', [
      z.object({ type: z.literal('button_reply'), button_reply: z.object({ id, title: shortText }) }),
      z.object({
        type: z.literal('list_reply'),
        list_reply: z.object({ id, title: shortText, description: shortText.optional() }),
      }),
    ]),
  }),
  z.object({ ...base, type: z.literal('image'), image: media }),
  z.object({ ...base, type: z.literal('document'), document: media }),
  z.object({ ...base, type: z.literal('audio'), audio: media }),
  z.object({ ...base, type: z.literal('video'), video: media }),
  z.object({ ...base, type: z.literal('sticker'), sticker: media }),
  z.object({
    ...base,
    type: z.literal('location'),
    location: z.object({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
      name: shortText.optional(),
      address: shortText.optional(),
      url: shortText.optional(),
    }),
  }),
  z.object({ ...base, type: z.literal('contacts'), contacts: z.array(z.looseObject({})).min(1).max(100) }),
  z.object({
    ...base,
    type: z.literal('reaction'),
    // Removing a reaction sends an empty emoji, or none at all.
    reaction: z.object({ message_id: id, emoji: shortText.optional() }),
  }),
  z.object({ ...base, type: z.literal('unsupported') }),
  z.object({
    ...base,
    type: z.literal('system'),
    system: z.object({ body: shortText.optional(), wa_id: id.optional(), type: shortText.optional() }),
  }),
]);
export type InboundMessage = z.infer<typeof inboundMessageSchema>;
export type InboundMessageType = InboundMessage['type'];

export const MEDIA_TYPES = ['image', 'document', 'audio', 'video', 'sticker'] as const;

export const STATUS_VALUES = ['sent', 'delivered', 'read', 'failed', 'played'] as const;
export const statusUpdateSchema = z.object({
  id,
  status: z.enum(STATUS_VALUES),
  timestamp: unixSeconds,
  recipient_id: id.optional(),
  recipient_user_id: id.optional(),
  biz_opaque_callback_data: z.string().max(512).optional(),
  conversation: z
    .object({
      id: id.optional(),
      expiration_timestamp: z.union([z.string(), z.number()]).optional(),
      origin: z.object({ type: shortText.optional() }).optional(),
    })
    .optional(),
  pricing: z
    .object({
      billable: z.boolean().optional(),
      pricing_model: shortText.optional(),
      type: shortText.optional(),
      category: shortText.optional(),
    })
    .optional(),
  errors: z.array(metaError).max(50).optional(),
});
export type StatusUpdate = z.infer<typeof statusUpdateSchema>;

const contact = z.object({
  wa_id: id.optional(),
  user_id: id.optional(),
  profile: z.object({ name: shortText.optional() }).optional(),
});

const messagesValue = z.object({
  messaging_product: z.literal('whatsapp').optional(),
  metadata: z.object({ display_phone_number: shortText.optional(), phone_number_id: id }),
  contacts: z.array(z.unknown()).max(1000).optional(),
  messages: z.array(z.unknown()).max(1000).optional(),
  statuses: z.array(z.unknown()).max(1000).optional(),
  errors: z.array(z.unknown()).max(1000).optional(),
});

export const userPreferenceSchema = z.object({
  wa_id: id,
  detail: shortText.optional(),
  category: shortText,
  value: z.enum(['stop', 'resume']),
  timestamp: unixSeconds,
});
export type UserPreference = z.infer<typeof userPreferenceSchema>;
const userPreferencesValue = z.object({
  user_preferences: z.array(z.unknown()).min(1).max(1000),
});

const templateId = z.union([z.number().int(), id]).transform(String);
export const templateStatusSchema = z.object({
  event: z.string().min(1).max(64),
  message_template_id: templateId,
  message_template_name: id,
  message_template_language: id,
  reason: shortText.nullable().optional(),
  message_template_category: shortText.optional(),
});
export type TemplateStatusUpdate = z.infer<typeof templateStatusSchema>;

export const templateCategorySchema = z.object({
  message_template_id: templateId,
  message_template_name: id,
  message_template_language: id,
  previous_category: shortText.optional(),
  new_category: shortText.optional(),
  correct_category: shortText.optional(),
});
export type TemplateCategoryUpdate = z.infer<typeof templateCategorySchema>;

const envelopeSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z
    .array(
      z.object({
        id: id.optional(),
        time: z.number().optional(),
        changes: z.array(z.object({ field: z.string().min(1).max(128), value: z.unknown() })).max(1000),
      }),
    )
    .min(1)
    .max(1000),
});

/** The sender of an inbound message as Meta names it: `wa_id` (the number), its profile name, a BSUID. */
export interface InboundContact {
  waId: string | undefined;
  userId: string | undefined;
  profileName: string | undefined;
}

/** One event of a delivery, with the key that makes storing it idempotent. */
export type WebhookEvent =
  | {
      kind: 'message';
      key: string;
      phoneNumberId: string;
      contact: InboundContact;
      message: InboundMessage;
    }
  | { kind: 'status'; key: string; phoneNumberId: string; status: StatusUpdate }
  | { kind: 'user_preference'; key: string; preference: UserPreference }
  | { kind: 'template_status'; key: string; update: TemplateStatusUpdate }
  | { kind: 'template_category'; key: string; update: TemplateCategoryUpdate }
  | { kind: 'platform_error'; key: string; phoneNumberId: string; errors: MetaError[] }
  | { kind: 'quarantine'; key: string; reason: string };

export type WebhookEventKind = WebhookEvent['kind'];

/** The outcome of reading one delivery: its events, or why the whole envelope was refused. */
export type ParsedDelivery = { ok: true; events: WebhookEvent[] } | { ok: false; reason: string };

/**
 * Splits a delivery's parsed JSON into events. Pure: `blindIndex` (the keyed hash of platform/crypto) is
 * passed in to key events that would otherwise carry a phone number in clear.
 */
export function readDelivery(json: unknown, blindIndex: (value: string) => string): ParsedDelivery {
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return { ok: false, reason: describe(envelope.error) };
  const events: WebhookEvent[] = [];
  const seen = new Set<string>();
  const push = (event: WebhookEvent) => {
    // The same event twice in one delivery is stored once, as if it came in two deliveries.
    if (seen.has(event.key)) return;
    seen.add(event.key);
    events.push(event);
  };
  for (const entry of envelope.data.entry) {
    for (const change of entry.changes) {
      for (const event of readChange(change.field, change.value, entry.time, blindIndex)) push(event);
    }
  }
  return { ok: true, events };
}

function readChange(
  field: string,
  value: unknown,
  entryTime: number | undefined,
  blindIndex: (value: string) => string,
): WebhookEvent[] {
  switch (field) {
    case 'messages':
      return readMessagesValue(value);
    case 'user_preferences': {
      const parsed = userPreferencesValue.safeParse(value);
      if (!parsed.success) return [quarantine(value, `user_preferences: ${describe(parsed.error)}`)];
      return parsed.data.user_preferences.map((item) => {
        const pref = userPreferenceSchema.safeParse(item);
        if (!pref.success) return quarantine(item, `user_preferences[]: ${describe(pref.error)}`);
        const who = blindIndex(`wa:${pref.data.wa_id.replace(/\D/g, '')}`);
        return {
          kind: 'user_preference',
          key: `preference:${who}:${pref.data.timestamp}:${pref.data.category}:${pref.data.value}`,
          preference: pref.data,
        };
      });
    }
    case 'message_template_status_update': {
      const parsed = templateStatusSchema.safeParse(value);
      if (!parsed.success) return [quarantine(value, `template status: ${describe(parsed.error)}`)];
      const u = parsed.data;
      return [
        {
          kind: 'template_status',
          key: `template_status:${u.message_template_id}:${u.event}:${entryTime ?? digest(value)}`,
          update: u,
        },
      ];
    }
    case 'template_category_update': {
      const parsed = templateCategorySchema.safeParse(value);
      if (!parsed.success) return [quarantine(value, `template category: ${describe(parsed.error)}`)];
      const u = parsed.data;
      return [
        {
          kind: 'template_category',
          key: `template_category:${u.message_template_id}:${u.new_category ?? ''}:${entryTime ?? digest(value)}`,
          update: u,
        },
      ];
    }
    default:
      return [quarantine({ field, value }, `unknown webhook field "${field.slice(0, 64)}"`)];
  }
}

function readMessagesValue(value: unknown): WebhookEvent[] {
  const parsed = messagesValue.safeParse(value);
  if (!parsed.success) return [quarantine(value, `messages value: ${describe(parsed.error)}`)];
  const v = parsed.data;
  const phoneNumberId = v.metadata.phone_number_id;
  const contacts = (v.contacts ?? []).flatMap((c) => {
    const r = contact.safeParse(c);
    return r.success ? [r.data] : [];
  });
  const events: WebhookEvent[] = [];
  for (const item of v.messages ?? []) {
    const message = inboundMessageSchema.safeParse(item);
    if (!message.success) {
      events.push(quarantine(item, `message: ${describe(message.error)}`));
      continue;
    }
    const m = message.data;
    const who =
      contacts.find(
        (c) => (m.from && c.wa_id === m.from) || (m.from_user_id && c.user_id === m.from_user_id),
      ) ?? (contacts.length === 1 ? contacts[0] : undefined);
    events.push({
      kind: 'message',
      key: `message:${m.id}`,
      phoneNumberId,
      contact: {
        waId: m.from ?? who?.wa_id,
        userId: m.from_user_id ?? who?.user_id,
        profileName: who?.profile?.name,
      },
      message: m,
    });
  }
  for (const item of v.statuses ?? []) {
    const status = statusUpdateSchema.safeParse(item);
    if (!status.success) {
      events.push(quarantine(item, `status: ${describe(status.error)}`));
      continue;
    }
    events.push({
      kind: 'status',
      key: `status:${status.data.id}:${status.data.status}`,
      phoneNumberId,
      status: status.data,
    });
  }
  if (v.errors?.length) {
    const errors = z.array(metaError).safeParse(v.errors);
    events.push(
      errors.success
        ? {
            kind: 'platform_error',
            key: `platform_error:${digest(v.errors)}`,
            phoneNumberId,
            errors: errors.data,
          }
        : quarantine(v.errors, `errors: ${describe(errors.error)}`),
    );
  }
  if (!v.messages?.length && !v.statuses?.length && !v.errors?.length)
    events.push(quarantine(value, 'a messages change with no messages, statuses or errors'));
  return events;
}

function quarantine(value: unknown, reason: string): WebhookEvent {
  return { kind: 'quarantine', key: `quarantine:${digest(value)}`, reason: reason.slice(0, 500) };
}

function digest(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(value) ?? 'undefined')
    .digest('hex');
}

/** A short reason naming paths, never values (a value may be a phone number or message text). */
function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`)
    .join('; ');
}
