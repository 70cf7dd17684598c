import { z } from 'zod';

/**
 * Bodies of `POST /{version}/{phone-number-id}/messages` as Meta defines them (CLOUD-API.md §3). The send
 * client builds these; the stand-in validates incoming requests against them, so both sides agree with
 * Meta and with each other.
 */

// `parameter_name` names the variable of a template created with named parameters.
const textParameter = z.object({
  type: z.literal('text'),
  text: z.string().min(1),
  parameter_name: z.string().optional(),
});
const currencyParameter = z.object({
  type: z.literal('currency'),
  currency: z.object({ fallback_value: z.string(), code: z.string(), amount_1000: z.number().int() }),
});
const dateTimeParameter = z.object({
  type: z.literal('date_time'),
  date_time: z.object({ fallback_value: z.string() }).passthrough(),
});
const mediaLink = z.object({ link: z.url().optional(), id: z.string().optional() });
const headerMediaParameter = z.union([
  z.object({ type: z.literal('image'), image: mediaLink }),
  z.object({ type: z.literal('video'), video: mediaLink }),
  z.object({ type: z.literal('document'), document: mediaLink.extend({ filename: z.string().optional() }) }),
]);
const bodyParameter = z.union([textParameter, currencyParameter, dateTimeParameter]);

export const templateComponentSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('header'),
    parameters: z.array(z.union([textParameter, headerMediaParameter])),
  }),
  z.object({ type: z.literal('body'), parameters: z.array(bodyParameter) }),
  z.object({
    type: z.literal('button'),
    sub_type: z.enum(['quick_reply', 'url', 'copy_code']),
    index: z.union([z.string(), z.number()]),
    parameters: z.array(
      z.union([z.object({ type: z.literal('payload'), payload: z.string() }), textParameter]),
    ),
  }),
]);

const common = {
  messaging_product: z.literal('whatsapp'),
  recipient_type: z.enum(['individual', 'group']).optional(),
  to: z.string().min(1),
  context: z.object({ message_id: z.string().min(1) }).optional(),
  biz_opaque_callback_data: z.string().max(512).optional(),
};

export const templateSendSchema = z.object({
  ...common,
  type: z.literal('template'),
  template: z.object({
    name: z.string().min(1),
    language: z.object({ code: z.string().min(1), policy: z.literal('deterministic').optional() }),
    components: z.array(templateComponentSchema).optional(),
  }),
});

export const textSendSchema = z.object({
  ...common,
  type: z.literal('text').optional(), // Meta defaults type to text
  text: z.object({ body: z.string().min(1).max(4096), preview_url: z.boolean().optional() }),
});

export const interactiveSendSchema = z.object({
  ...common,
  type: z.literal('interactive'),
  interactive: z.object({
    type: z.enum(['button', 'list']),
    header: z.object({ type: z.literal('text'), text: z.string().max(60) }).optional(),
    body: z.object({ text: z.string().min(1).max(1024) }),
    footer: z.object({ text: z.string().max(60) }).optional(),
    action: z.object({
      buttons: z
        .array(
          z.object({
            type: z.literal('reply'),
            reply: z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(20) }),
          }),
        )
        .min(1)
        .max(3)
        .optional(),
      button: z.string().optional(),
      sections: z.array(z.unknown()).optional(),
    }),
  }),
});

export const markReadSchema = z.object({
  messaging_product: z.literal('whatsapp'),
  status: z.literal('read'),
  message_id: z.string().min(1),
  typing_indicator: z.object({ type: z.literal('text') }).optional(),
});

export type TemplateSend = z.infer<typeof templateSendSchema>;
export type TextSend = z.infer<typeof textSendSchema>;
export type InteractiveSend = z.infer<typeof interactiveSendSchema>;
export type MarkRead = z.infer<typeof markReadSchema>;
export type SendRequest = TemplateSend | TextSend | InteractiveSend;

/** Meta's success answer to a send. */
export const sendResponseSchema = z.object({
  messaging_product: z.literal('whatsapp'),
  contacts: z.array(z.object({ input: z.string(), wa_id: z.string() })).optional(),
  messages: z.array(z.object({ id: z.string(), message_status: z.string().optional() })).min(1),
});

/** Meta's error object (CLOUD-API.md §3.4). */
export const metaErrorSchema = z.object({
  error: z
    .object({
      message: z.string(),
      type: z.string().optional(),
      code: z.number(),
      error_subcode: z.number().optional(),
      error_data: z
        .object({ messaging_product: z.string().optional(), details: z.string().optional() })
        .passthrough()
        .optional(),
      fbtrace_id: z.string().optional(),
      is_transient: z.boolean().optional(),
    })
    .passthrough(),
});
export type MetaError = z.infer<typeof metaErrorSchema>['error'];
