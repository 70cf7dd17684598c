import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ParleyContext } from '../context.js';
import { findVisibleHcp } from '../hcps/index.js';
import { principalOf, type Role } from '../identity/index.js';
import { DomainError } from '../platform/errors/index.js';
import type { HttpApp } from '../platform/http/index.js';
import {
  ASSET_KINDS,
  CLASSIFICATIONS,
  CONTENT_STATUSES,
  PARAMETER_TYPES,
  TEMPLATE_TYPES,
  TONE_RULES,
  WHATSAPP_CATEGORIES,
  WHATSAPP_STATUSES,
  type ContentKind,
} from './content-model.js';
import type { ContentRulesSource } from './content-rules.js';
import { diffAssets, diffTemplates } from './content-diff.js';
import {
  assetsForDecision,
  createAsset,
  createTemplate,
  getAsset,
  getTemplate,
  listAssets,
  listTemplates,
} from './content.store.js';
import { listSignatures, reviewContent, type ReviewInput } from './review.store.js';
import { venuesOf } from './market-venues.js';
import { renderTemplate, type RenderLink } from './template-render.js';
import { listAssetRecipients, listTemplateRecipients, TRACKED_LINK_PREFIX } from './tracked-links.store.js';

/** Who writes content (CONTRACT.md: brand, medical author; compliance reviews). */
const AUTHORS: readonly Role[] = ['brand', 'medical'];
/** Roles a market's rulebook may name as approvers; the store checks the market's own list. */
const APPROVER_ROLES: readonly Role[] = ['compliance', 'medical'];
const REVIEWERS: readonly Role[] = ['compliance', 'brand', 'medical'];

const id = z.string().min(1).max(100);
const key = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{1,79}$/, 'lower-case letters, digits, - and _, 2 to 80 characters');
const market = z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 market code, e.g. BR');
const language = z.string().regex(/^[a-z]{2,3}(?:-[A-Z]{2})?$/, 'a BCP 47 tag, e.g. pt-BR');
const words = z.array(z.string().min(1).max(80)).max(50);
const expiresAt = z
  .string()
  .max(40)
  .nullish()
  .describe('YYYY-MM-DD (expires at the start of that day in the market time zone) or an ISO date-time');

const parameterSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'lower-case letters, digits and _'),
  type: z.enum(PARAMETER_TYPES),
  maxLength: z.number().int().min(1).max(1024).optional(),
  assetKind: z.enum(ASSET_KINDS).optional(),
});

const newTemplateSchema = z.object({
  key,
  type: z.enum(TEMPLATE_TYPES),
  classification: z.enum(CLASSIFICATIONS),
  whatsappCategory: z.enum(WHATSAPP_CATEGORIES),
  whatsappName: z
    .string()
    .regex(/^[a-z0-9_]{1,512}$/, "Meta's template name: lower-case letters, digits and _"),
  whatsappLanguage: z.string().regex(/^[a-z]{2,3}(?:_[A-Z]{2})?$/, "Meta's language code, e.g. pt_BR"),
  market,
  language,
  brand: z.string().min(1).max(80).nullish(),
  products: words.optional(),
  toneTags: words.optional(),
  body: z.string().min(1).max(1024),
  parameters: z.array(parameterSchema).max(20).default([]),
  buttons: z.array(z.string().min(1).max(25)).max(10).optional(),
  expiresAt,
});

const newAssetSchema = z.object({
  key,
  title: z.string().min(1).max(200),
  kind: z.enum(ASSET_KINDS),
  url: z
    .url()
    .max(2000)
    .refine((u) => u.startsWith('https://'), 'the approved URL must be https'),
  classification: z.enum(CLASSIFICATIONS),
  market,
  brand: z.string().min(1).max(80).nullish(),
  products: words.optional(),
  topics: words.optional(),
  expiresAt,
});

const replacement = z.object({ id: z.string(), version: z.number() }).nullable();
const signature = z.object({
  signerId: z.string(),
  signerName: z.string(),
  role: z.string().nullable(),
  meaning: z.string(),
  signedAt: z.string(),
});
const lintFlag = z.object({
  rule: z.enum(TONE_RULES),
  message: z.string(),
  found: z.array(z.string()).optional(),
});

const templateSchema = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  status: z.enum(CONTENT_STATUSES),
  type: z.enum(TEMPLATE_TYPES),
  classification: z.enum(CLASSIFICATIONS),
  whatsappCategory: z.enum(WHATSAPP_CATEGORIES),
  whatsappName: z.string(),
  whatsappLanguage: z.string(),
  whatsappStatus: z.enum(WHATSAPP_STATUSES),
  market: z.string(),
  language: z.string(),
  brand: z.string().nullable(),
  products: z.array(z.string()),
  toneTags: z.array(z.string()),
  body: z.string(),
  parameters: z.array(parameterSchema),
  buttons: z.array(z.string()),
  approvalCode: z.string().nullable(),
  authorId: z.string(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  reviewComment: z.string().nullable(),
  lint: z.array(lintFlag),
  replacedBy: replacement,
  createdAt: z.string(),
  updatedAt: z.string(),
  signatures: z.array(signature).optional(),
});

const assetSchema = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  title: z.string(),
  kind: z.enum(ASSET_KINDS),
  status: z.enum(CONTENT_STATUSES),
  url: z.string(),
  approvalCode: z.string().nullable(),
  classification: z.enum(CLASSIFICATIONS),
  market: z.string(),
  brand: z.string().nullable(),
  products: z.array(z.string()),
  topics: z.array(z.string()),
  authorId: z.string(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  reviewComment: z.string().nullable(),
  replacedBy: replacement,
  createdAt: z.string(),
  updatedAt: z.string(),
  signatures: z.array(signature).optional(),
});

const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
};
const libraryQuery = z.object({
  status: z.enum(CONTENT_STATUSES).optional(),
  market: market.optional(),
  brand: z.string().max(80).optional(),
  type: z.string().max(40).optional(),
  language: language.optional(),
  key: z.string().max(80).optional(),
  ...pageQuery,
});

const recipientSchema = z.object({
  hcpId: z.string(),
  hcpName: z.string(),
  crmId: z.string(),
  market: z.string(),
  messageId: z.string(),
  repId: z.string().nullable(),
  status: z.string(),
  queuedAt: z.string(),
  statusAt: z.string(),
});

const diffSchema = z.object({
  from: z.object({ id: z.string(), version: z.number() }),
  to: z.object({ id: z.string(), version: z.number() }),
  body: z.array(z.object({ change: z.enum(['same', 'added', 'removed']), text: z.string() })),
  fields: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown() })),
});

const renderSchema = z.object({
  ok: z.boolean(),
  text: z.string().nullable(),
  assetIds: z.array(z.string()),
  problems: z.array(
    z.object({ code: z.literal('invalid_parameter'), parameter: z.string(), message: z.string() }),
  ),
});

const reviewBodies = {
  submit: z.object({}).optional(),
  approve: z.object({
    password: z.string().min(1).max(200).describe('the approver’s own password, re-entered: the e-signature'),
    approvalCode: z.string().min(1).max(80).optional(),
  }),
  reject: z.object({ comment: z.string().trim().min(1).max(4000) }),
  withdraw: z.object({ reason: z.string().trim().min(1).max(2000) }),
} as const;

const REVIEW_ACCESS: Record<keyof typeof reviewBodies, readonly Role[]> = {
  submit: AUTHORS,
  approve: APPROVER_ROLES,
  reject: APPROVER_ROLES,
  withdraw: ['compliance', 'brand', 'medical'],
};

function requestInfo(request: FastifyRequest) {
  return { ip: request.ip, method: request.method, route: request.routeOptions.url ?? request.url };
}

/**
 * The content library's HTTP face: templates and assets (list, read, create a version, the review steps),
 * the diff between versions, the render preview and the recall lists. Thin: validate, authorise, call.
 */
export function registerContentHttp(app: HttpApp, ctx: ParleyContext, rules: ContentRulesSource): void {
  const deps = { clock: ctx.clock, audit: ctx.audit, dialect: ctx.dialect, rules };

  // ---- libraries -------------------------------------------------------------------------------------
  app.get(
    '/api/templates',
    {
      config: { access: 'user' },
      schema: {
        tags: ['content'],
        querystring: libraryQuery,
        response: { 200: z.object({ items: z.array(templateSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => listTemplates(ctx.db, principalOf(request), request.query, ctx.clock.now()),
  );
  app.get(
    '/api/assets',
    {
      config: { access: 'user' },
      schema: {
        tags: ['content'],
        querystring: libraryQuery,
        response: { 200: z.object({ items: z.array(assetSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => listAssets(ctx.db, principalOf(request), request.query, ctx.clock.now()),
  );

  app.get(
    '/api/templates/:id',
    {
      config: { access: 'user' },
      schema: { tags: ['content'], params: z.object({ id }), response: { 200: templateSchema } },
    },
    async (request) => {
      const template = await getTemplate(ctx.db, principalOf(request), request.params.id, ctx.clock.now());
      return { ...template, signatures: await listSignatures(ctx.db, 'template', template.id) };
    },
  );
  app.get(
    '/api/assets/:id',
    {
      config: { access: 'user' },
      schema: { tags: ['content'], params: z.object({ id }), response: { 200: assetSchema } },
    },
    async (request) => {
      const asset = await getAsset(ctx.db, principalOf(request), request.params.id, ctx.clock.now());
      return { ...asset, signatures: await listSignatures(ctx.db, 'asset', asset.id) };
    },
  );

  app.post(
    '/api/templates',
    {
      config: { access: AUTHORS },
      schema: { tags: ['content'], body: newTemplateSchema, response: { 201: templateSchema } },
    },
    async (request, reply) =>
      reply.status(201).send(await createTemplate(ctx.db, deps, principalOf(request), request.body)),
  );
  app.post(
    '/api/assets',
    {
      config: { access: AUTHORS },
      schema: { tags: ['content'], body: newAssetSchema, response: { 201: assetSchema } },
    },
    async (request, reply) =>
      reply.status(201).send(await createAsset(ctx.db, deps, principalOf(request), request.body)),
  );

  // ---- review workflow ---------------------------------------------------------------------------------
  for (const kind of ['template', 'asset'] as const satisfies readonly ContentKind[]) {
    const base = kind === 'template' ? '/api/templates' : '/api/assets';
    for (const action of ['submit', 'approve', 'reject', 'withdraw'] as const) {
      app.post(
        `${base}/:id/${action}`,
        {
          config: { access: REVIEW_ACCESS[action] },
          schema: {
            tags: ['content'],
            params: z.object({ id }),
            body: reviewBodies[action],
            response: { 200: kind === 'template' ? templateSchema : assetSchema },
          },
        },
        async (request) => {
          const body = (request.body ?? {}) as ReviewInput;
          const result = await reviewContent(
            ctx.db,
            deps,
            principalOf(request),
            kind,
            request.params.id,
            action,
            {
              ...body,
              request: requestInfo(request),
            },
          );
          return { ...result, signatures: await listSignatures(ctx.db, kind, result.id) };
        },
      );
    }
  }

  // ---- for reviewers: what changed between two versions -------------------------------------------------
  app.get(
    '/api/templates/:id/diff',
    {
      config: { access: REVIEWERS },
      schema: {
        tags: ['content'],
        params: z.object({ id }),
        querystring: z.object({ against: id }),
        response: { 200: diffSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const now = ctx.clock.now();
      const [to, from] = await Promise.all([
        getTemplate(ctx.db, principal, request.params.id, now),
        getTemplate(ctx.db, principal, request.query.against, now),
      ]);
      return diffTemplates(from, to);
    },
  );
  app.get(
    '/api/assets/:id/diff',
    {
      config: { access: REVIEWERS },
      schema: {
        tags: ['content'],
        params: z.object({ id }),
        querystring: z.object({ against: id }),
        response: { 200: diffSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const now = ctx.clock.now();
      const [to, from] = await Promise.all([
        getAsset(ctx.db, principal, request.params.id, now),
        getAsset(ctx.db, principal, request.query.against, now),
      ]);
      return diffAssets(from, to);
    },
  );

  // ---- render: the text exactly as the HCP will read it ---------------------------------------------------
  app.get(
    '/api/templates/:id/render',
    {
      config: { access: 'user' },
      schema: {
        tags: ['content'],
        params: z.object({ id }),
        querystring: z.object({
          parameters: z.string().max(20_000).optional().describe('a JSON object keyed by parameter name'),
          hcpId: id.optional().describe('render for this HCP (their name, time zone); a sample otherwise'),
        }),
        response: { 200: renderSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const now = ctx.clock.now();
      const template = await getTemplate(ctx.db, principal, request.params.id, now);
      const parameters = parseParameters(request.query.parameters);
      const hcp = request.query.hcpId
        ? await findVisibleHcp(ctx.db, ctx, principal, request.query.hcpId, requestInfo(request))
        : await sampleHcp(ctx, template.market);
      // A preview has no message yet, so no tracked link: a placeholder code of the real length stands in,
      // behind the same public URL messaging puts in front of real links.
      const assetValues = template.parameters
        .filter((p) => p.type === 'asset_link')
        .map((p) => parameters[p.name])
        .filter((v): v is string => typeof v === 'string');
      const assets = await assetsForDecision(ctx.db, assetValues, now);
      const links: Record<string, RenderLink> = Object.fromEntries(
        assets.map((a) => [
          a.id,
          { url: `${ctx.config.publicUrl}${TRACKED_LINK_PREFIX}${'x'.repeat(24)}`, asset: a },
        ]),
      );
      const result = renderTemplate(template, parameters, hcp, links, now);
      return result.ok
        ? { ok: true, text: result.text, assetIds: result.assetIds, problems: [] }
        : { ok: false, text: null, assetIds: [], problems: result.problems };
    },
  );

  // ---- the venues a market keeps, for `venue` parameters (a rep picks one, never types an address) ------
  app.get(
    '/api/venues',
    {
      config: { access: 'user' },
      schema: {
        tags: ['content'],
        querystring: z.object({ market }),
        response: {
          200: z.object({
            items: z.array(z.object({ id: z.string(), name: z.string() })),
            nextCursor: z.null(),
          }),
        },
      },
    },
    async (request) => ({ items: [...venuesOf(request.query.market)], nextCursor: null }),
  );

  // ---- recall lists ---------------------------------------------------------------------------------------
  app.get(
    '/api/templates/:id/recipients',
    {
      config: { access: ['compliance'] },
      schema: {
        tags: ['content'],
        params: z.object({ id }),
        querystring: z.object(pageQuery),
        response: { 200: z.object({ items: z.array(recipientSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      await getTemplate(ctx.db, principal, request.params.id, ctx.clock.now());
      return listTemplateRecipients(ctx.db, principal, request.params.id, request.query);
    },
  );
  app.get(
    '/api/assets/:id/recipients',
    {
      config: { access: ['compliance'] },
      schema: {
        tags: ['content'],
        params: z.object({ id }),
        querystring: z.object(pageQuery),
        response: { 200: z.object({ items: z.array(recipientSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      await getAsset(ctx.db, principal, request.params.id, ctx.clock.now());
      return listAssetRecipients(ctx.db, principal, request.params.id, request.query);
    },
  );
}

function parseParameters(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new DomainError('validation_failed', 'parameters must be a JSON object keyed by parameter name.', [
      { path: 'querystring.parameters', message: 'not a JSON object' },
    ]);
  return value as Record<string, unknown>;
}

/** Without an HCP, a preview shows where the name goes, in the market's time zone. */
async function sampleHcp(ctx: ParleyContext, marketCode: string) {
  const row = await ctx.db
    .selectFrom('markets')
    .select('time_zone')
    .where('code', '=', marketCode)
    .executeTakeFirst();
  return { name: '[HCP name]', timeZone: row?.time_zone ?? 'UTC' };
}
