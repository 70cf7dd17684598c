import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { logSecurityEvent } from '../audit/index.js';
import type { ParleyContext, RouteModule } from '../context.js';
import { principalOf } from '../identity/index.js';
import { DomainError } from '../platform/errors/index.js';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { createInboxWriter, type InboxWriter } from './inbox.store.js';
import { listMediaForReview, listUnknownContacts, markMediaReviewed } from './review-queues.store.js';
import { createWebhookProcessor, type WebhookProcessor } from './webhook-processor.js';
import { isValidWebhookSignature, MAX_WEBHOOK_BYTES } from './webhook-signature.js';

const processors = new WeakMap<ParleyContext, WebhookProcessor>();

/** The webhook processor a running Parley started (tests pause, resume and drain it). */
export function webhookProcessorOf(ctx: ParleyContext): WebhookProcessor | undefined {
  return processors.get(ctx);
}

function sameSecret(given: string, expected: string): boolean {
  // Hashing first gives equal lengths, so the comparison time says nothing about the token.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Meta's webhook (verification handshake and signed deliveries) and the queues it fills for people.
 * Starts the processor that works the inbox after each 200; returns its stop function.
 */
export const registerWhatsappRoutes: RouteModule = async (app, ctx) => {
  const processor = createWebhookProcessor(ctx);
  processors.set(ctx, processor);

  const inbox = createInboxWriter(ctx);
  await app.register(async (webhook) => registerWebhook(webhook, ctx, inbox, processor));

  app.get(
    '/api/contacts/unknown',
    {
      config: { access: ['admin', 'compliance'] },
      schema: {
        tags: ['whatsapp'],
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(512).optional(),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                waId: z.string(),
                profileName: z.string().nullable(),
                messageId: z.string(),
                phoneNumberId: z.string(),
                receivedAt: z.string(),
              }),
            ),
            nextCursor: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => listUnknownContacts(ctx.db, ctx, request.query),
  );

  app.get(
    '/api/whatsapp/media-review',
    {
      config: { access: ['pv', 'compliance'] },
      schema: {
        tags: ['whatsapp'],
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(512).optional(),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                messageId: z.string(),
                hcpId: z.string().nullable(),
                type: z.string(),
                media: z
                  .object({ id: z.string(), mimeType: z.string().nullable(), sha256: z.string().nullable() })
                  .nullable(),
                caption: z.string().nullable(),
                receivedAt: z.string(),
                status: z.enum(['needs_review', 'reviewed']),
              }),
            ),
            nextCursor: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => listMediaForReview(ctx.db, ctx, principalOf(request), request.query),
  );

  app.post(
    '/api/whatsapp/media-review/:messageId/reviewed',
    {
      config: { access: ['pv', 'compliance'] },
      schema: {
        tags: ['whatsapp'],
        params: z.object({ messageId: z.string().min(1).max(64) }),
        body: z.object({ note: z.string().max(1000).optional() }).optional(),
        response: { 200: z.object({ messageId: z.string(), status: z.literal('reviewed') }) },
      },
    },
    async (request) => {
      await markMediaReviewed(
        ctx.db,
        ctx,
        principalOf(request),
        request.params.messageId,
        request.body?.note,
        {
          ip: request.ip,
          method: request.method,
          route: request.routeOptions.url,
        },
      );
      return { messageId: request.params.messageId, status: 'reviewed' as const };
    },
  );

  return () => processor.stop();
};

/**
 * Inside its own plugin so the raw-bytes body parser applies to the webhook only: the signature is over
 * the exact bytes Meta sent, and every other route keeps Fastify's JSON parsing.
 */
async function registerWebhook(
  plugin: FastifyInstance,
  ctx: ParleyContext,
  inbox: InboxWriter,
  processor: WebhookProcessor,
): Promise<void> {
  const app = plugin.withTypeProvider<ZodTypeProvider>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BYTES }, (_request, body, done) =>
    done(null, body),
  );

  app.get(
    '/webhooks/whatsapp',
    {
      config: { access: 'public' },
      schema: {
        tags: ['whatsapp'],
        querystring: z.looseObject({
          'hub.mode': z.string().max(64).optional(),
          'hub.verify_token': z.string().max(1024).optional(),
          'hub.challenge': z.string().max(256).optional(),
        }),
      },
    },
    async (request, reply) => {
      const q = request.query;
      const ok =
        q['hub.mode'] === 'subscribe' &&
        typeof q['hub.verify_token'] === 'string' &&
        sameSecret(q['hub.verify_token'], ctx.config.whatsapp.verifyToken) &&
        typeof q['hub.challenge'] === 'string';
      if (!ok) throw new DomainError('forbidden', 'The verify token does not match.');
      return reply.status(200).type('text/plain; charset=utf-8').send(q['hub.challenge']);
    },
  );

  app.post(
    '/webhooks/whatsapp',
    {
      // Answered to Meta's servers, not rendered by a browser: the security headers are dead weight here.
      config: { access: 'public', securityHeaders: false },
      bodyLimit: MAX_WEBHOOK_BYTES,
      schema: {
        tags: ['whatsapp'],
        description:
          "Meta's signed webhook deliveries (X-Hub-Signature-256 over the raw body). 200 once stored; 401 for a bad signature; 413 over 3 MB.",
      },
    },
    async (request, reply) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const header = request.headers['x-hub-signature-256'];
      const signature = Array.isArray(header) ? undefined : header;
      const secrets = [ctx.config.whatsapp.appSecret, ctx.config.whatsapp.previousAppSecret];
      if (!isValidWebhookSignature(raw, signature, secrets)) {
        await logSecurityEvent(ctx.db, ctx.clock.now(), {
          kind: 'invalid_signature',
          ip: request.ip,
          method: request.method,
          route: request.routeOptions.url ?? null,
          detail: { reason: signature === undefined ? 'missing' : 'invalid', bytes: raw.length },
        });
        throw new DomainError('invalid_signature', 'The X-Hub-Signature-256 header does not sign this body.');
      }
      await inbox.store(raw);
      processor.kick();
      return reply.status(200).send({ received: true });
    },
  );
}
