/**
 * Webhook payloads as Meta sends them (CLOUD-API.md §2), built by the stand-in. Pure: ids, times and
 * numbers are passed in.
 */
export interface SendingNumber {
  phoneNumberId: string;
  displayPhoneNumber: string;
  wabaId: string;
}

function envelope(number: SendingNumber, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: number.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: number.displayPhoneNumber,
                phone_number_id: number.phoneNumberId,
              },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

export type StatusName = 'sent' | 'delivered' | 'read' | 'failed';

export interface StatusEvent {
  wamid: string;
  status: StatusName;
  at: Date;
  recipientWaId: string;
  bizOpaqueCallbackData?: string | undefined;
  category: 'marketing' | 'utility' | 'authentication' | 'service';
  error?: { code: number; title: string; details: string } | undefined;
}

const unix = (d: Date) => String(Math.floor(d.getTime() / 1000));

export function statusPayload(number: SendingNumber, event: StatusEvent) {
  const status: Record<string, unknown> = {
    id: event.wamid,
    status: event.status,
    timestamp: unix(event.at),
    recipient_id: event.recipientWaId,
  };
  if (event.bizOpaqueCallbackData) status.biz_opaque_callback_data = event.bizOpaqueCallbackData;
  // Pricing rides on `sent` (and one of delivered/read); free inside the service window for service.
  if (event.status === 'sent') {
    status.pricing = {
      billable: event.category !== 'service',
      pricing_model: 'PMP',
      type: event.category === 'service' ? 'free_customer_service' : 'regular',
      category: event.category,
    };
  }
  if (event.status === 'failed' && event.error) {
    status.errors = [
      {
        code: event.error.code,
        title: event.error.title,
        message: event.error.title,
        error_data: { details: event.error.details },
        href: '/documentation/business-messaging/whatsapp/support/error-codes',
      },
    ];
  }
  return envelope(number, { statuses: [status] });
}

export interface InboundEvent {
  wamid: string;
  fromWaId: string;
  profileName: string;
  at: Date;
  /** The message the HCP replies to (quoted, or the template whose button was tapped). */
  contextWamid?: string | undefined;
  content:
    | { type: 'text'; body: string }
    | { type: 'button'; payload: string; text: string }
    | { type: 'interactive_button'; id: string; title: string }
    | { type: 'image'; mediaId: string; mimeType: string; sha256: string; caption?: string | undefined };
}

export function inboundPayload(number: SendingNumber, event: InboundEvent) {
  const message: Record<string, unknown> = {
    from: event.fromWaId,
    id: event.wamid,
    timestamp: unix(event.at),
  };
  if (event.contextWamid) message.context = { from: number.displayPhoneNumber, id: event.contextWamid };
  const c = event.content;
  switch (c.type) {
    case 'text':
      Object.assign(message, { type: 'text', text: { body: c.body } });
      break;
    case 'button':
      Object.assign(message, { type: 'button', button: { payload: c.payload, text: c.text } });
      break;
    case 'interactive_button':
      Object.assign(message, {
        type: 'interactive',
        interactive: { type: 'button_reply', button_reply: { id: c.id, title: c.title } },
      });
      break;
    case 'image':
      Object.assign(message, {
        type: 'image',
        image: {
          mime_type: c.mimeType,
          sha256: c.sha256,
          id: c.mediaId,
          ...(c.caption ? { caption: c.caption } : {}),
        },
      });
      break;
  }
  return envelope(number, {
    contacts: [{ profile: { name: event.profileName }, wa_id: event.fromWaId }],
    messages: [message],
  });
}

/** Meta's error body (CLOUD-API.md §3.4) and the HTTP status seen with it in practice. */
export function metaErrorBody(code: number, title: string, details: string, fbtraceId: string) {
  return {
    error: {
      message: `(#${code}) ${title}`,
      type: 'OAuthException',
      code,
      error_data: { messaging_product: 'whatsapp', details },
      fbtrace_id: fbtraceId,
    },
  };
}

export function httpStatusForMetaCode(code: number): number {
  if (code === 190) return 401;
  if (code === 130429 || code === 131056 || code === 4 || code === 80007) return 429;
  if (code === 131000) return 500;
  if (code === 131016 || code === 2) return 503;
  return 400;
}
