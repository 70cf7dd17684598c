import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { findVisibleHcp } from '../hcps/index.js';
import { principalOf } from '../identity/index.js';
import { newId } from '../platform/crypto/index.js';
import { DomainError } from '../platform/errors/index.js';
import { triageCallNote } from './call-notes.store.js';
import { CHANNELS, DIRECTIONS, KINDS, LOGGABLE_KINDS } from './interaction-labels.js';
import { findInteractionByKey, recordInteraction, type Interaction } from './interactions.store.js';
import { listTimeline } from './timeline.store.js';

const isoTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());
const label = z.string().trim().min(1).max(100);

export const newInteractionBody = z.object({
  hcpId: z.string().min(1).max(100),
  channel: z.enum(CHANNELS),
  kind: z.enum(LOGGABLE_KINDS),
  direction: z.enum(DIRECTIONS).default('outbound'),
  occurredAt: isoTime,
  summary: z.string().max(10_000).nullish(),
  topics: z.array(label).max(50).default([]),
  products: z.array(label).max(50).default([]),
  /** System of origin; `(source, externalId)` makes a repeat a no-op. */
  source: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'lower-case letters, digits, _ . - (at most 40)')
    .default('parley'),
  externalId: z.string().min(1).max(200).optional(),
  /** Who the interaction belongs to; a rep always logs as themselves. */
  repId: z.string().min(1).max(100).optional(),
  templateId: z.string().min(1).max(100).nullish(),
  assetIds: z.array(z.string().min(1).max(100)).max(10).default([]),
});

export const interactionSchema = z.object({
  id: z.string(),
  hcpId: z.string(),
  channel: z.enum(CHANNELS),
  direction: z.enum(DIRECTIONS),
  kind: z.enum(KINDS),
  occurredAt: z.string(),
  repId: z.string().nullable(),
  summary: z.string().nullable(),
  topics: z.array(z.string()),
  products: z.array(z.string()),
  source: z.string(),
  externalId: z.string(),
  templateId: z.string().nullable(),
  assetIds: z.array(z.string()),
  messageId: z.string().nullable(),
  status: z.string().nullable(),
});

const contentRef = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  approvalCode: z.string().nullable(),
  status: z.string(),
});

const timelineItemSchema = interactionSchema.extend({
  what: z.string(),
  repName: z.string().nullable(),
  template: contentRef.nullable(),
  assets: z.array(contentRef.extend({ title: z.string() })),
});

/** `?channel=whatsapp,email` or `?channel=whatsapp&channel=email`: a list of allowed values. */
const listOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v,
      z.array(z.enum(values)),
    )
    .optional();

const timelineQuery = z.object({
  channel: listOf(CHANNELS),
  kind: listOf(KINDS),
  from: isoTime.optional(),
  to: isoTime.optional(),
  rep: z.string().min(1).max(100).optional(),
  product: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const ROLES_WHO_LOG = ['rep', 'manager', 'msl', 'pv', 'compliance', 'admin'] as const;

type InteractionContent = Omit<Interaction, 'id' | 'messageId' | 'status'>;

/** Changed fields of an interaction, for the audit trail (the summary is personal: kept out of `after`). */
function auditable(i: InteractionContent) {
  return {
    hcpId: i.hcpId,
    channel: i.channel,
    direction: i.direction,
    kind: i.kind,
    occurredAt: i.occurredAt,
    repId: i.repId,
    topics: i.topics,
    products: i.products,
    source: i.source,
    externalId: i.externalId,
    templateId: i.templateId,
    assetIds: i.assetIds,
  };
}

function sameContent(a: InteractionContent, b: InteractionContent): boolean {
  return (
    JSON.stringify({ ...auditable(a), summary: a.summary }) ===
    JSON.stringify({ ...auditable(b), summary: b.summary })
  );
}

export const registerInteractionRoutes: RouteModule = async (app, ctx) => {
  app.post(
    '/api/interactions',
    {
      config: { access: ROLES_WHO_LOG },
      schema: {
        tags: ['engagement'],
        summary: 'Log a call, meeting, email, event attendance or note; idempotent on (source, externalId)',
        body: newInteractionBody,
        response: { 200: interactionSchema, 201: interactionSchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      const where = { ip: request.ip, method: request.method, route: request.routeOptions.url ?? '' };
      await findVisibleHcp(ctx.db, ctx, principal, body.hcpId, where);
      const repId = principal.role === 'rep' ? principal.id : (body.repId ?? null);
      if (repId && repId !== principal.id) {
        const rep = await ctx.db
          .selectFrom('users')
          .select(['id', 'manager_id'])
          .where('id', '=', repId)
          .executeTakeFirst();
        // A manager logs on behalf of the reps they lead, no one else's.
        if (!rep || (principal.role === 'manager' && rep.manager_id !== principal.id))
          throw new DomainError('validation_failed', 'repId names no user you may log for', [
            { path: 'body.repId', message: 'unknown user, or not in your team' },
          ]);
      }
      if (body.templateId) {
        const t = await ctx.db
          .selectFrom('templates')
          .select('id')
          .where('id', '=', body.templateId)
          .executeTakeFirst();
        if (!t)
          throw new DomainError('validation_failed', 'templateId names no template', [
            { path: 'body.templateId', message: 'unknown template' },
          ]);
      }
      if (body.assetIds.length) {
        const found = await ctx.db
          .selectFrom('assets')
          .select('id')
          .where('id', 'in', body.assetIds)
          .execute();
        const known = new Set(found.map((a) => a.id));
        const missing = body.assetIds.filter((id) => !known.has(id));
        if (missing.length)
          throw new DomainError(
            'validation_failed',
            'assetIds name unknown assets',
            missing.map((id) => ({ path: 'body.assetIds', message: `unknown asset ${id}` })),
          );
      }
      const externalId = body.externalId ?? newId('ext');
      const result = await ctx.db.transaction().execute(async (tx) => {
        const before = await findInteractionByKey(tx, body.source, externalId);
        // The key belongs to one HCP for good: a repeat may not move an event onto another HCP's timeline.
        if (before && before.hcpId !== body.hcpId)
          throw new DomainError(
            'conflict',
            `(${body.source}, ${externalId}) is already recorded for another HCP`,
          );
        const candidate = {
          hcpId: body.hcpId,
          channel: body.channel,
          direction: body.direction,
          kind: body.kind,
          occurredAt: body.occurredAt,
          repId,
          summary: body.summary ?? null,
          topics: body.topics,
          products: body.products,
          source: body.source,
          externalId,
          templateId: body.templateId ?? null,
          assetIds: body.assetIds,
          // A repeat keeps what Parley itself attached to the event.
          messageId: before?.messageId ?? null,
          status: before?.status ?? null,
        };
        // A true repeat changes nothing: no write (not even updated_at, which the CRM sink follows), no audit.
        if (before && sameContent(before, candidate)) return { interaction: before, created: false };
        const { interaction, created } = await recordInteraction(tx, ctx, candidate);
        await ctx.audit.record(tx, {
          actor: principal,
          action: created ? 'interaction.logged' : 'interaction.updated',
          target: { type: 'interaction', id: interaction.id },
          subjectId: interaction.hcpId,
          before: before ? auditable(before) : null,
          after: auditable(interaction),
          ...(interaction.summary || before?.summary
            ? { personal: { summaryBefore: before?.summary ?? null, summary: interaction.summary } }
            : {}),
        });
        // A new or changed note is triaged; a repeat of the same note opens no second case.
        if (interaction.summary !== (before?.summary ?? null))
          await triageCallNote(tx, ctx, {
            hcpId: interaction.hcpId,
            interactionId: interaction.id,
            note: interaction.summary,
            occurredAt: interaction.occurredAt,
          });
        return { interaction, created };
      });
      return reply.status(result.created ? 201 : 200).send(result.interaction);
    },
  );

  app.get(
    '/api/hcps/:id/timeline',
    {
      config: { access: 'user' },
      schema: {
        tags: ['engagement'],
        summary: "An HCP's interactions across channels, newest first",
        params: z.object({ id: z.string().min(1).max(100) }),
        querystring: timelineQuery,
        response: {
          200: z.object({ items: z.array(timelineItemSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const hcp = await findVisibleHcp(ctx.db, ctx, principal, request.params.id, {
        ip: request.ip,
        method: request.method,
        route: request.routeOptions.url ?? '',
      });
      const q = request.query;
      return listTimeline(ctx.db, hcp.id, {
        channel: q.channel,
        kind: q.kind,
        from: q.from,
        to: q.to,
        repId: q.rep,
        product: q.product,
        limit: q.limit,
        cursor: q.cursor,
      });
    },
  );
};
