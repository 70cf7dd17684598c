import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  interactiveSendSchema,
  markReadSchema,
  templateSendSchema,
  textSendSchema,
  type SendRequest,
} from '../send-payloads.js';
import {
  httpStatusForMetaCode,
  inboundPayload,
  metaErrorBody,
  statusPayload,
  type InboundEvent,
  type SendingNumber,
  type StatusEvent,
  type StatusName,
} from './sandbox-payloads.js';
import {
  DEFAULT_DEMO_REPLY_SETTINGS,
  DEMO_REPLY_TEXTS,
  planDemoReply,
  replyLanguageOf,
  type DemoReplySettings,
} from './demo-replies.js';
import {
  BusinessInitiatedRecipients,
  MESSAGING_LIMIT_REFUSAL,
  NEW_PORTFOLIO_MESSAGING_LIMIT,
  messagingLimitTierName,
  type MessagingLimit,
} from './messaging-limit.js';

/** A template as Meta holds it after approval: what the stand-in checks sends against. */
export interface RegisteredTemplate {
  name: string;
  language: string;
  category: 'marketing' | 'utility' | 'authentication';
  status: 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED';
  bodyParameterCount: number;
  body: string;
  buttons: string[];
}

/** A fault to inject into the next sends (tests and demos of failure handling). */
export type Fault =
  | { kind: 'error'; code: number; to?: string } // a synchronous Meta error answer
  | { kind: 'async_failure'; code: number; to?: string } // accepted, then a `failed` status webhook
  | { kind: 'timeout'; to?: string } // the answer never comes within the client's timeout
  | { kind: 'drop'; to?: string }; // the connection is cut after the request arrived

export interface SandboxOptions {
  accessToken: string;
  appSecret: string;
  /** Delivers one signed webhook; resolves to the receiver's HTTP status. */
  deliverWebhook: (body: Buffer, signature: string) => Promise<number>;
  /** The templates approved at "Meta": in Parley, the approved templates of its own database. */
  templates: () => Promise<RegisteredTemplate[]>;
  /** The sending numbers it serves (phone-number id → display number, WABA); read on each use. */
  numbers: () => Promise<SendingNumber[]>;
  /** Delays before each status, in ms. Tests pass zeros. */
  statusDelaysMs?: { sent: number; delivered: number; read: number };
  /** Probability that a status webhook is delivered twice, or the next one overtakes it. */
  chaos?: { duplicate: number; reorder: number };
  /** Per-number throughput (Meta: 80 mps by default) and the pair limit (1 per 6 s, bursts of 45). */
  limits?: { messagesPerSecond: number; pairBurst: number; pairRefillMs: number };
  /**
   * The business portfolio's messaging limit (unique recipients outside a customer-service window per
   * moving 24 h, shared by every number the stand-in serves). Default: Meta's 250 for a new portfolio. A
   * function is read on each send (Parley's mounted stand-in reads its database).
   */
  messagingLimit?: MessagingLimit | (() => Promise<MessagingLimit>);
  /** Demo: some HCPs reply by themselves to messages they read (see demo-replies.ts). Off unless enabled. */
  replies?: { enabled: boolean } & Partial<DemoReplySettings>;
  /** How long a `timeout` fault holds the answer (longer than the client's timeout). */
  timeoutFaultMs?: number;
  /** Random source in [0,1): seeded in tests for repeatable chaos. */
  random?: () => number;
  now?: () => Date;
}

export interface AcceptedSend {
  wamid: string;
  phoneNumberId: string;
  to: string;
  request: SendRequest;
  at: Date;
}

export interface CloudApiSandbox {
  /** Registers Meta's routes on a Fastify instance (mount it under a prefix, e.g. /sandbox). */
  register(app: FastifyInstance): Promise<void>;
  /** An HCP writes to the business: a signed inbound webhook, and the 24 h window opens. */
  simulateInbound(input: {
    from: string;
    phoneNumberId?: string;
    profileName?: string;
    contextWamid?: string;
    content: InboundEvent['content'];
    at?: Date;
  }): Promise<{ wamid: string; status: number }>;
  injectFault(fault: Fault, times?: number): void;
  /** Overrides the portfolio's messaging limit (tests, demos); `undefined` goes back to the option. */
  setMessagingLimit(limit: MessagingLimit | undefined): void;
  /** The portfolio's messaging limit now, and the unique recipients it counts in the moving 24 h. */
  messagingLimitUsage(): Promise<{ limit: MessagingLimit; uniqueRecipients: number }>;
  /** Every send accepted so far, oldest first. */
  readonly accepted: readonly AcceptedSend[];
  /** Waits until every scheduled webhook has been delivered (tests). */
  drain(): Promise<void>;
  close(): void;
}

const fbtrace = () => randomBytes(9).toString('base64url');

/** The fields of a phone-number node the stand-in can answer (Meta has more; others answer code 100). */
function phoneNumberNode(number: SendingNumber, limit: MessagingLimit): Record<string, unknown> {
  const tier = messagingLimitTierName(limit);
  return {
    id: number.phoneNumberId,
    display_phone_number: number.displayPhoneNumber,
    verified_name: 'Parley Demo',
    quality_rating: 'GREEN',
    status: 'CONNECTED',
    platform_type: 'CLOUD_API',
    code_verification_status: 'VERIFIED',
    name_status: 'APPROVED',
    throughput: { level: 'STANDARD' },
    // v24.0 and newer; `messaging_limit_tier` is the deprecated name (v23.0 and older), kept answering.
    whatsapp_business_manager_messaging_limit: tier,
    messaging_limit_tier: tier,
  };
}

const usageBody = (usage: { limit: MessagingLimit; uniqueRecipients: number }) => ({
  whatsapp_business_manager_messaging_limit: messagingLimitTierName(usage.limit),
  limit: usage.limit,
  unique_recipients_24h: usage.uniqueRecipients,
});
const newWamid = () => `wamid.${randomBytes(24).toString('base64')}`;

/**
 * A local stand-in for Meta's WhatsApp Cloud API: it validates sends as Meta does (token, body shape,
 * template name, language and parameter count against its registry of approved templates, throughput
 * and pair limits, the 24-hour window for free text), answers with Meta's shapes, and calls the webhook
 * with signed `sent → delivered → read` statuses, sometimes duplicated or out of order, as Meta may.
 */
export function createCloudApiSandbox(options: SandboxOptions): CloudApiSandbox {
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const delays = options.statusDelaysMs ?? { sent: 300, delivered: 1500, read: 4000 };
  const chaos = options.chaos ?? { duplicate: 0.05, reorder: 0.05 };
  const limits = options.limits ?? { messagesPerSecond: 80, pairBurst: 45, pairRefillMs: 6000 };
  const accepted: AcceptedSend[] = [];
  const faults: Array<{ fault: Fault; remaining: number }> = [];
  const windows = new Map<string, number>(); // `${phoneNumberId}:${waId}` → last inbound ms
  const perSecond = new Map<string, number[]>(); // phoneNumberId → send times in the last second
  const pairs = new Map<string, { tokens: number; at: number }>();
  // One portfolio: every number the stand-in serves shares its messaging limit, as on Meta.
  const portfolio = new BusinessInitiatedRecipients();
  let limitOverride: MessagingLimit | undefined;
  const replySettings: DemoReplySettings | undefined = options.replies?.enabled
    ? {
        share: options.replies.share ?? DEFAULT_DEMO_REPLY_SETTINGS.share,
        delayMs: options.replies.delayMs ?? DEFAULT_DEMO_REPLY_SETTINGS.delayMs,
      }
    : undefined;
  const pending = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const numberById = async (id: string) => (await options.numbers()).find((n) => n.phoneNumberId === id);

  async function currentMessagingLimit(): Promise<MessagingLimit> {
    if (limitOverride !== undefined) return limitOverride;
    const configured = options.messagingLimit ?? NEW_PORTFOLIO_MESSAGING_LIMIT;
    return typeof configured === 'function' ? configured() : configured;
  }

  /** Whether the HCP wrote to this number in the 24 h before `t` (their customer-service window is open). */
  function insideWindow(phoneNumberId: string, waId: string, t: number): boolean {
    const last = windows.get(`${phoneNumberId}:${waId}`);
    return last !== undefined && t - last <= 24 * 3600_000;
  }

  function sign(body: Buffer): string {
    return `sha256=${createHmac('sha256', options.appSecret).update(body).digest('hex')}`;
  }

  /** Meta retries failed deliveries (with decreasing frequency for days); the stand-in a few times. */
  async function deliver(payload: unknown): Promise<number> {
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    let status = 0;
    for (let attempt = 0; attempt < 5 && !closed; attempt++) {
      status = await options.deliverWebhook(body, sign(body)).catch(() => 0);
      if (status === 200) return status;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
    return status;
  }

  function track<T>(p: Promise<T>): Promise<T> {
    pending.add(p);
    void p.finally(() => pending.delete(p));
    return p;
  }

  function later(ms: number, fn: () => Promise<unknown>): void {
    const p = new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn().finally(resolve);
      }, ms);
      timers.add(t);
    });
    track(p);
  }

  function scheduleStatuses(
    send: AcceptedSend,
    number: SendingNumber,
    category: StatusEvent['category'],
    failure?: { code: number; title: string; details: string },
  ) {
    const recipient = send.to.replace(/\D/g, '');
    const base: Omit<StatusEvent, 'status' | 'at'> = {
      wamid: send.wamid,
      recipientWaId: recipient,
      bizOpaqueCallbackData: send.request.biz_opaque_callback_data,
      category,
    };
    const sequence: Array<{ status: StatusName; delay: number; error?: typeof failure }> = failure
      ? [{ status: 'failed', delay: delays.sent, error: failure }]
      : [
          { status: 'sent', delay: delays.sent },
          { status: 'delivered', delay: delays.delivered },
          { status: 'read', delay: delays.read },
        ];
    for (const [i, step] of sequence.entries()) {
      // Out of order: a later status may overtake an earlier one; duplicates: Meta's at-least-once.
      const jitter = random() < chaos.reorder && i > 0 ? -Math.min(step.delay, 5) : 0;
      const at = new Date(send.at.getTime() + step.delay);
      const payload = statusPayload(number, { ...base, status: step.status, at, error: step.error });
      later(Math.max(0, step.delay + jitter), () => deliver(payload));
      if (random() < chaos.duplicate) later(step.delay + 10, () => deliver(payload));
    }
    if (!failure && replySettings) {
      const request = send.request;
      const language = replyLanguageOf(
        request.type === 'template' ? request.template.language.code : undefined,
        recipient,
      );
      const planned = planDemoReply(send.wamid, language, replySettings);
      if (planned) {
        // The HCP read it, then wrote back, quoting it (context.id): signed and delivered like any inbound.
        const after = delays.read + planned.delayMs;
        later(after, () =>
          sandbox
            .simulateInbound({
              from: recipient,
              phoneNumberId: number.phoneNumberId,
              contextWamid: send.wamid,
              content: { type: 'text', body: planned.text },
              at: new Date(send.at.getTime() + after),
            })
            .catch(() => undefined),
        );
      }
    }
  }

  function takeFault(to: string): Fault | undefined {
    const i = faults.findIndex(
      (f) => f.fault.to === undefined || f.fault.to.replace(/\D/g, '') === to.replace(/\D/g, ''),
    );
    if (i < 0) return undefined;
    const entry = faults[i]!;
    entry.remaining -= 1;
    if (entry.remaining <= 0) faults.splice(i, 1);
    return entry.fault;
  }

  function overThroughput(phoneNumberId: string, t: number): boolean {
    const recent = (perSecond.get(phoneNumberId) ?? []).filter((x) => t - x < 1000);
    if (recent.length >= limits.messagesPerSecond) {
      perSecond.set(phoneNumberId, recent);
      return true;
    }
    recent.push(t);
    perSecond.set(phoneNumberId, recent);
    return false;
  }

  function overPairLimit(phoneNumberId: string, to: string, t: number): boolean {
    const key = `${phoneNumberId}:${to.replace(/\D/g, '')}`;
    const bucket = pairs.get(key) ?? { tokens: limits.pairBurst, at: t };
    const refilled = Math.min(limits.pairBurst, bucket.tokens + (t - bucket.at) / limits.pairRefillMs);
    if (refilled < 1) {
      pairs.set(key, { tokens: refilled, at: t });
      return true;
    }
    pairs.set(key, { tokens: refilled - 1, at: t });
    return false;
  }

  function sendError(reply: FastifyReply, code: number, title: string, details: string) {
    return reply.status(httpStatusForMetaCode(code)).send(metaErrorBody(code, title, details, fbtrace()));
  }

  const sendBody = z.union([templateSendSchema, interactiveSendSchema, textSendSchema]);

  const sandbox: CloudApiSandbox = {
    accepted,
    async register(app) {
      const publicRoute = { config: { access: 'public' as const }, schema: { hide: true } };

      // Meta answers 190 to a missing or wrong bearer token, before looking at anything else.
      app.addHook('onRequest', async (request, reply) => {
        const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
        const a = Buffer.from(given);
        const b = Buffer.from(options.accessToken);
        if (a.length !== b.length || !timingSafeEqual(a, b)) {
          return sendError(
            reply,
            190,
            'Invalid OAuth access token - Cannot parse access token',
            'Invalid OAuth access token.',
          );
        }
        return undefined;
      });

      app.post<{ Params: { version: string; phoneNumberId: string } }>(
        '/:version/:phoneNumberId/messages',
        publicRoute,
        async (request, reply) => {
          const number = await numberById(request.params.phoneNumberId);
          if (!number)
            return sendError(
              reply,
              100,
              'Invalid parameter',
              `Unsupported post request. Object with ID '${request.params.phoneNumberId}' does not exist.`,
            );
          const body = request.body as Record<string, unknown> | undefined;
          if (body && body.status === 'read') {
            const read = markReadSchema.safeParse(body);
            if (!read.success)
              return sendError(reply, 100, 'Invalid parameter', read.error.issues[0]?.message ?? 'invalid');
            return reply.send({ success: true });
          }
          const parsed = sendBody.safeParse(body);
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            const missing = issue?.code === 'invalid_type' && issue.message.includes('undefined');
            return sendError(
              reply,
              missing ? 131008 : 100,
              missing ? 'Required parameter is missing' : 'Invalid parameter',
              `${issue?.path.join('.') ?? 'body'}: ${issue?.message ?? 'invalid'}`,
            );
          }
          const send = parsed.data;
          const t = now();
          if (overThroughput(number.phoneNumberId, t.getTime())) {
            return sendError(
              reply,
              130429,
              'Rate limit hit',
              'Cloud API message throughput has been reached.',
            );
          }
          if (overPairLimit(number.phoneNumberId, send.to, t.getTime())) {
            return sendError(
              reply,
              131056,
              '(Business Account, Consumer Account) pair rate limit hit',
              'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
            );
          }
          const fault = takeFault(send.to);
          if (fault?.kind === 'error')
            return sendError(
              reply,
              fault.code,
              `Injected error ${fault.code}`,
              'Injected by the Cloud API stand-in.',
            );
          if (fault?.kind === 'drop') {
            request.raw.socket.destroy();
            return reply.hijack();
          }
          if (fault?.kind === 'timeout')
            await new Promise((r) => setTimeout(r, options.timeoutFaultMs ?? 20_000));

          let category: StatusEvent['category'] = 'service';
          let failure: { code: number; title: string; details: string } | undefined;
          if (send.type === 'template') {
            const templates = await options.templates();
            const byName = templates.filter((x) => x.name === send.template.name);
            const template = byName.find((x) => x.language === send.template.language.code);
            if (!template || template.status !== 'APPROVED') {
              return sendError(
                reply,
                132001,
                'Template name does not exist in the translation',
                `template name (${send.template.name}) does not exist in ${send.template.language.code}`,
              );
            }
            const bodyParams =
              send.template.components?.find((c) => c.type === 'body')?.parameters.length ?? 0;
            if (bodyParams !== template.bodyParameterCount) {
              return sendError(
                reply,
                132000,
                'Number of parameters does not match the expected number of params',
                `body: number of localizable_params (${bodyParams}) does not match the expected number of params (${template.bodyParameterCount})`,
              );
            }
            category = template.category;
          } else {
            // Free-form messages only inside the 24 h window; Meta reports it asynchronously.
            if (!insideWindow(number.phoneNumberId, send.to.replace(/\D/g, ''), t.getTime())) {
              failure = {
                code: 131047,
                title: 'Re-engagement message',
                details:
                  'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
              };
            }
          }
          if (fault?.kind === 'async_failure')
            failure = {
              code: fault.code,
              title: `Injected failure ${fault.code}`,
              details: 'Injected by the Cloud API stand-in.',
            };
          // The messaging limit counts unique recipients of templates outside their window (free text
          // outside it fails with 131047 and is never delivered; inside it, nothing counts).
          const waId = send.to.replace(/\D/g, '');
          if (
            !failure &&
            send.type === 'template' &&
            !insideWindow(number.phoneNumberId, waId, t.getTime()) &&
            portfolio.admit(waId, t.getTime(), await currentMessagingLimit()) === 'over_limit'
          ) {
            const { code, title, details } = MESSAGING_LIMIT_REFUSAL;
            if (MESSAGING_LIMIT_REFUSAL.delivery === 'sync') return sendError(reply, code, title, details);
            failure = { code, title, details };
          }
          const wamid = newWamid();
          const entry: AcceptedSend = {
            wamid,
            phoneNumberId: number.phoneNumberId,
            to: send.to,
            request: send,
            at: t,
          };
          accepted.push(entry);
          scheduleStatuses(entry, number, category, failure);
          return reply.send({
            messaging_product: 'whatsapp',
            contacts: [{ input: send.to, wa_id: waId }],
            messages: [{ id: wamid, ...(send.type === 'template' ? { message_status: 'accepted' } : {}) }],
          });
        },
      );

      app.get<{ Params: { version: string; wabaId: string } }>(
        '/:version/:wabaId/message_templates',
        publicRoute,
        async (request, reply) => {
          if (!(await options.numbers()).some((n) => n.wabaId === request.params.wabaId)) {
            return sendError(
              reply,
              100,
              'Invalid parameter',
              `Unsupported get request. Object with ID '${request.params.wabaId}' does not exist.`,
            );
          }
          const templates = await options.templates();
          return reply.send({
            data: templates.map((x, i) => ({
              name: x.name,
              language: x.language,
              status: x.status,
              category: x.category.toUpperCase(),
              id: String(1_000_000 + i),
              components: [
                { type: 'BODY', text: x.body },
                ...(x.buttons.length
                  ? [{ type: 'BUTTONS', buttons: x.buttons.map((text) => ({ type: 'QUICK_REPLY', text })) }]
                  : []),
              ],
            })),
            paging: { cursors: { before: 'MAZDZD', after: 'MjQZD' } },
          });
        },
      );

      // A phone-number id reads the number's node (`?fields=`), as Meta does; any other id is a media id.
      const phoneNumberQuery = z.object({ fields: z.string().max(500).optional() });
      app.get<{ Params: { version: string; mediaId: string } }>(
        '/:version/:mediaId',
        publicRoute,
        async (request, reply) => {
          if (!/^\d+$/.test(request.params.mediaId))
            return sendError(reply, 100, 'Invalid parameter', 'Unsupported get request.');
          const number = await numberById(request.params.mediaId);
          if (number) {
            const query = phoneNumberQuery.safeParse(request.query);
            const node = phoneNumberNode(number, await currentMessagingLimit());
            const asked = (query.success ? query.data.fields : undefined)
              ?.split(',')
              .map((f) => f.trim())
              .filter(Boolean) ?? ['verified_name', 'display_phone_number', 'quality_rating'];
            const unknown = asked.find((f) => !Object.hasOwn(node, f));
            if (unknown)
              return sendError(
                reply,
                100,
                'Invalid parameter',
                `Tried accessing nonexisting field (${unknown}) on node type (WhatsAppBusinessPhoneNumber)`,
              );
            return reply.send({
              ...Object.fromEntries(asked.map((f) => [f, node[f]])),
              id: number.phoneNumberId,
            });
          }
          return reply.send({
            messaging_product: 'whatsapp',
            url: `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=${request.params.mediaId}`,
            mime_type: 'image/jpeg',
            sha256: 'a'.repeat(64),
            file_size: 303833,
            id: request.params.mediaId,
          });
        },
      );

      // Parley's own extension, for demos and tests: an HCP "writes" (guarded by the same token).
      const inboundControl = z.object({
        from: z.string().min(8),
        phoneNumberId: z.string().optional(),
        profileName: z.string().max(100).optional(),
        contextWamid: z.string().optional(),
        text: z.string().min(1).max(4096).optional(),
        buttonPayload: z.string().max(256).optional(),
        buttonText: z.string().max(20).optional(),
        /** A canned reply in the HCP's language instead of `text` (`stop` is the demo's opt-out). */
        reply: z.enum(['thanks', 'question', 'adverse_event', 'stop']).optional(),
        language: z.enum(['pt', 'es', 'en', 'hi']).optional(),
      });
      app.post('/_control/inbound', publicRoute, async (request, reply) => {
        const parsed = inboundControl.safeParse(request.body);
        if (!parsed.success || (!parsed.data.text && !parsed.data.buttonPayload && !parsed.data.reply)) {
          return sendError(
            reply,
            100,
            'Invalid parameter',
            'give from and text (or buttonPayload, or reply)',
          );
        }
        const c = parsed.data;
        const canned = c.reply
          ? DEMO_REPLY_TEXTS[c.reply][c.language ?? replyLanguageOf(undefined, c.from.replace(/\D/g, ''))]
          : undefined;
        const result = await sandbox.simulateInbound({
          from: c.from,
          phoneNumberId: c.phoneNumberId,
          profileName: c.profileName,
          contextWamid: c.contextWamid,
          content: c.buttonPayload
            ? { type: 'button', payload: c.buttonPayload, text: c.buttonText ?? c.buttonPayload }
            : { type: 'text', body: c.text ?? canned ?? '' },
        });
        return reply.send({ wamid: result.wamid, webhookStatus: result.status });
      });
      // The portfolio's messaging limit: read it (with its use), or raise or lower it (tests, demos).
      app.get('/_control/messaging-limit', publicRoute, async (_request, reply) =>
        reply.send(usageBody(await sandbox.messagingLimitUsage())),
      );
      const limitControl = z.object({
        limit: z.union([z.number().int().min(1), z.literal('unlimited'), z.null()]),
      });
      app.post('/_control/messaging-limit', publicRoute, async (request, reply) => {
        const parsed = limitControl.safeParse(request.body);
        if (!parsed.success)
          return sendError(
            reply,
            100,
            'Invalid parameter',
            'give limit: a count of unique recipients, "unlimited", or null (back to the configured one)',
          );
        sandbox.setMessagingLimit(parsed.data.limit ?? undefined);
        return reply.send(usageBody(await sandbox.messagingLimitUsage()));
      });
      const faultControl = z.object({
        fault: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('error'), code: z.number().int(), to: z.string().optional() }),
          z.object({ kind: z.literal('async_failure'), code: z.number().int(), to: z.string().optional() }),
          z.object({ kind: z.literal('timeout'), to: z.string().optional() }),
          z.object({ kind: z.literal('drop'), to: z.string().optional() }),
        ]),
        times: z.number().int().min(1).max(1000).default(1),
      });
      app.post('/_control/faults', publicRoute, async (request, reply) => {
        const parsed = faultControl.safeParse(request.body);
        if (!parsed.success)
          return sendError(reply, 100, 'Invalid parameter', parsed.error.issues[0]?.message ?? 'invalid');
        sandbox.injectFault(parsed.data.fault, parsed.data.times);
        return reply.send({ success: true });
      });

      app.all('/*', publicRoute, async (request, reply) =>
        sendError(reply, 100, 'Invalid parameter', `Unsupported ${request.method.toLowerCase()} request.`),
      );
    },

    async simulateInbound(input) {
      const number = input.phoneNumberId
        ? await numberById(input.phoneNumberId)
        : (await options.numbers())[0];
      if (!number) throw new Error('the stand-in serves no such phone-number id');
      const at = input.at ?? now();
      const fromWaId = input.from.replace(/\D/g, '');
      windows.set(
        `${number.phoneNumberId}:${fromWaId}`,
        Math.max(windows.get(`${number.phoneNumberId}:${fromWaId}`) ?? 0, at.getTime()),
      );
      const wamid = newWamid();
      const payload = inboundPayload(number, {
        wamid,
        fromWaId,
        profileName: input.profileName ?? 'HCP',
        at,
        contextWamid: input.contextWamid,
        content: input.content,
      });
      const status = await track(deliver(payload));
      return { wamid, status };
    },

    injectFault(fault, times = 1) {
      faults.push({ fault, remaining: times });
    },

    setMessagingLimit(limit) {
      limitOverride = limit;
    },

    async messagingLimitUsage() {
      return { limit: await currentMessagingLimit(), uniqueRecipients: portfolio.count(now().getTime()) };
    },

    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },

    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
  return sandbox;
}
