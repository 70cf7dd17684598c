import { z } from 'zod';
import type { ParleyContext } from '../context.js';
import { principalOf } from '../identity/index.js';
import type { HttpApp } from '../platform/http/index.js';
import { notFound } from '../platform/errors/index.js';
import { checkMessage, sendMessage, type ProposedMessage } from './compose.js';
import { replayDecision } from './decision-snapshot.js';
import { liftSendHalt, listSendHalts } from './outbox.store.js';
import {
  findVisibleMessage,
  listDeadLetters,
  listDecisions,
  listPendingReviews,
  redriveDeadLetter,
  settleReview,
} from './messages.store.js';

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 time, e.g. 2026-03-03T14:00:00Z',
});

const proposedMessage = z
  .object({
    hcpId: z.string().min(1).max(100),
    templateId: z.string().min(1).max(100).optional(),
    parameters: z.record(z.string().max(100), z.unknown()).optional(),
    assetIds: z.array(z.string().min(1).max(100)).max(10).optional(),
    text: z.string().min(1).max(4096).optional(),
    sendAt: isoTime.optional(),
  })
  .strict()
  .refine((m) => m.templateId !== undefined || m.text !== undefined, {
    message: 'give a templateId (an approved template) or text (free text, inside the 24-hour window)',
    path: ['templateId'],
  });

const checkBody = z
  .object({
    hcpId: z.string().min(1).max(100),
    templateId: z.string().min(1).max(100).optional(),
    parameters: z.record(z.string().max(100), z.unknown()).optional(),
    assetIds: z.array(z.string().min(1).max(100)).max(10).optional(),
    text: z.string().min(1).max(4096).optional(),
    sendAt: isoTime.optional(),
    at: isoTime.optional(),
  })
  .strict()
  .refine((m) => m.templateId !== undefined || m.text !== undefined, {
    message: 'give a templateId (an approved template) or text (free text, inside the 24-hour window)',
    path: ['templateId'],
  });

const page = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const meta = (request: { ip: string; method: string; routeOptions: { url?: string | undefined } }) => ({
  ip: request.ip,
  method: request.method,
  ...(request.routeOptions.url ? { route: request.routeOptions.url } : {}),
});

/** The send path's HTTP face: check, send, read a message, the review queue, decisions, dead letters. */
export function registerMessageHttp(app: HttpApp, ctx: ParleyContext, onQueued: () => void): void {
  app.post(
    '/api/messages/check',
    {
      config: { access: ['rep', 'manager'] },
      schema: {
        body: checkBody,
        tags: ['messages'],
        summary: 'The policy decision for a proposed message; nothing is sent',
      },
    },
    async (request) =>
      checkMessage(ctx, principalOf(request), request.body as ProposedMessage, meta(request)),
  );

  app.post(
    '/api/messages',
    {
      config: { access: ['rep'] },
      schema: {
        body: proposedMessage,
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }).passthrough(),
        tags: ['messages'],
        summary: 'Decide, then queue (202), hold for review (202, pending_review) or refuse (422)',
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const answer = await sendMessage(
        ctx,
        principalOf(request),
        request.body as ProposedMessage,
        typeof key === 'string' ? key : undefined,
        meta(request),
      );
      if (answer.status === 202) onQueued();
      return reply.status(answer.status).send(answer.body);
    },
  );

  app.get(
    '/api/messages/:id',
    {
      config: { access: 'user' },
      schema: { params: z.object({ id: z.string().min(1).max(100) }), tags: ['messages'] },
    },
    async (request) =>
      findVisibleMessage(ctx.db, ctx, principalOf(request), request.params.id, meta(request)),
  );

  app.get(
    '/api/reviews',
    {
      config: { access: ['compliance'] },
      schema: { querystring: page, tags: ['messages'], summary: 'Messages held for compliance review' },
    },
    async (request) => listPendingReviews(ctx.db, ctx, request.query),
  );

  for (const verdict of ['approve', 'reject'] as const) {
    app.post(
      `/api/reviews/:messageId/${verdict}`,
      {
        config: { access: ['compliance'] },
        schema: {
          params: z.object({ messageId: z.string().min(1).max(100) }),
          body: z
            .object({ comment: z.string().max(2000).optional() })
            .strict()
            .optional(),
          tags: ['messages'],
        },
      },
      async (request) => {
        const message = await settleReview(
          ctx,
          principalOf(request),
          request.params.messageId,
          verdict,
          request.body?.comment,
        );
        if (verdict === 'approve') onQueued();
        return message;
      },
    );
  }

  app.get(
    '/api/decisions',
    {
      config: { access: ['compliance', 'manager'] },
      schema: {
        querystring: page.extend({
          outcome: z.enum(['allow', 'deny', 'review']).optional(),
          from: isoTime.optional(),
          to: isoTime.optional(),
        }),
        tags: ['messages'],
        summary: 'Stored policy decisions (blocked attempts: ?outcome=deny)',
      },
    },
    async (request) => listDecisions(ctx.db, principalOf(request), request.query),
  );

  app.get(
    '/api/decisions/:id/replay',
    {
      config: { access: ['compliance'] },
      schema: {
        params: z.object({ id: z.string().min(1).max(100) }),
        tags: ['messages'],
        summary:
          'A stored decision decided again from its snapshot, its rulebook version and its content versions',
      },
    },
    async (request) => {
      const replay = await replayDecision(ctx.db, request.params.id);
      if (!replay) throw notFound('decision');
      return replay;
    },
  );

  app.get(
    '/api/outbox/dead',
    {
      config: { access: ['admin'] },
      schema: { querystring: page, tags: ['messages'], summary: 'Dead-lettered sends' },
    },
    async (request) => listDeadLetters(ctx.db, request.query),
  );

  const sendHalt = z.object({
    scope: z.string(),
    reason: z.string(),
    errorCode: z.number().int().nullable(),
    haltedAt: z.string(),
  });

  app.get(
    '/api/outbox/halts',
    {
      config: { access: ['admin', 'compliance'] },
      schema: {
        tags: ['messages'],
        summary: 'Sending halts in force: every send (token refused) or one number (paused by Meta)',
        response: { 200: z.object({ items: z.array(sendHalt) }) },
      },
    },
    async () => ({ items: await listSendHalts(ctx.db) }),
  );

  app.post(
    '/api/outbox/halts/:scope/lift',
    {
      config: { access: ['admin'] },
      schema: {
        tags: ['messages'],
        summary: 'Lift a halt once its cause is dealt with; audited with the reason given',
        params: z.object({ scope: z.string().min(1).max(100) }),
        body: z.object({ reason: z.string().trim().min(3).max(500) }).strict(),
        response: { 200: sendHalt },
      },
    },
    async (request) => {
      const lifted = await liftSendHalt(ctx, principalOf(request), request.params.scope, request.body.reason);
      onQueued();
      return lifted;
    },
  );

  app.post(
    '/api/outbox/:id/redrive',
    {
      config: { access: ['admin'] },
      schema: { params: z.object({ id: z.string().min(1).max(100) }), tags: ['messages'] },
    },
    async (request) => {
      const letter = await redriveDeadLetter(ctx, principalOf(request), request.params.id);
      onQueued();
      return letter;
    },
  );
}
