import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { principalOf } from '../identity/index.js';
import { notFound } from '../platform/errors/index.js';
import type { HttpApp } from '../platform/http/index.js';
import {
  currentRulebook,
  ensureRulebook,
  listRulebookVersions,
  rulebookVersion,
  saveRulebook,
  type RulebookVersion,
} from './rulebook.store.js';
import { rulesForMarket, type Rulebook } from './rulebook.js';

/** Content types a rulebook is written in; the PUT body is the YAML text itself. */
const YAML_TYPES = ['text/yaml', 'application/yaml', 'application/x-yaml', 'text/x-yaml'];
const MAX_RULEBOOK_BYTES = 256 * 1024;

const rulebookJson = z.object({
  version: z.number().int(),
  yaml: z.string(),
  comment: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  /** The validated document: `global` and `markets` overrides, as parsed from the YAML. */
  rules: z.record(z.string(), z.unknown()),
  /** With `?market=`: the rules in force there (global with the market's override merged in). */
  effective: z.record(z.string(), z.unknown()).optional(),
});

const summary = z.object({
  version: z.number().int(),
  comment: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
});

function toJson(stored: RulebookVersion, rulebook: Rulebook, market?: string) {
  return {
    ...stored,
    rules: rulebook.document as unknown as Record<string, unknown>,
    ...(market ? { effective: rulesForMarket(rulebook, market) as unknown as Record<string, unknown> } : {}),
  };
}

const marketQuery = z.object({
  market: z
    .string()
    .regex(/^[A-Z]{2}$/, { message: 'must be a two-letter market code, e.g. BR' })
    .optional(),
});

/** Whether the client asked for the YAML text rather than JSON (`Accept: text/yaml`). */
function wantsYaml(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase())
    .some((type) => type !== undefined && YAML_TYPES.includes(type));
}

/**
 * The rulebook over HTTP: read (any user), replace (compliance), list versions. Installs the shipped
 * default as version 1 when the store has none. The YAML parser is registered inside this plugin only.
 */
export const registerRulebookRoutes: RouteModule = async (app, ctx) => {
  await ensureRulebook(ctx.db, ctx);
  await app.register(async (scope: HttpApp) => {
    scope.addContentTypeParser(
      YAML_TYPES,
      { parseAs: 'string', bodyLimit: MAX_RULEBOOK_BYTES },
      (_request, body, done) => done(null, body),
    );

    scope.get(
      '/api/rulebook',
      {
        config: { access: 'user' },
        schema: {
          tags: ['rulebook'],
          summary:
            'The current rulebook: JSON `{ version, yaml, rules, … }` (with `?market=` also the `effective` rules there), or the YAML text itself with `Accept: text/yaml`',
          querystring: marketQuery,
          // A string is the YAML text (Accept: text/yaml); Fastify sends it as is, unserialised.
          response: { 200: rulebookJson.or(z.string()) },
        },
      },
      async (request, reply) => {
        const { stored, rulebook } = await currentRulebook(ctx.db);
        if (wantsYaml(request.headers.accept))
          return reply
            .header('content-type', 'text/yaml; charset=utf-8')
            .header('x-rulebook-version', String(stored.version))
            .send(stored.yaml);
        return toJson(stored, rulebook, request.query.market);
      },
    );

    scope.put(
      '/api/rulebook',
      {
        config: { access: ['compliance'] },
        schema: {
          tags: ['rulebook'],
          summary:
            'Save a new rulebook version (compliance). Body: the YAML text (content-type text/yaml). `?comment=` says why; `?baseVersion=` refuses the save (409) if someone saved since.',
          querystring: z.object({
            comment: z.string().trim().min(1).max(500).optional(),
            baseVersion: z.coerce.number().int().min(0).optional(),
          }),
          body: z.string().min(1, { message: 'send the rulebook as YAML text' }),
          response: { 200: rulebookJson },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { stored, rulebook } = await saveRulebook(ctx.db, ctx, principal, {
          yaml: request.body,
          comment: request.query.comment ?? null,
          ...(request.query.baseVersion !== undefined ? { baseVersion: request.query.baseVersion } : {}),
        });
        return toJson(stored, rulebook);
      },
    );

    scope.get(
      '/api/rulebook/versions',
      {
        config: { access: 'user' },
        schema: {
          tags: ['rulebook'],
          summary: 'Every rulebook version, newest first',
          querystring: z.object({
            limit: z.coerce.number().int().min(1).max(200).default(50),
            cursor: z.string().max(200).optional(),
          }),
          response: { 200: z.object({ items: z.array(summary), nextCursor: z.string().nullable() }) },
        },
      },
      async (request) =>
        listRulebookVersions(ctx.db, {
          limit: request.query.limit,
          ...(request.query.cursor ? { cursor: request.query.cursor } : {}),
        }),
    );

    scope.get(
      '/api/rulebook/versions/:version',
      {
        config: { access: 'user' },
        schema: {
          tags: ['rulebook'],
          summary: 'One rulebook version (to explain or replay an old decision)',
          params: z.object({ version: z.coerce.number().int().min(1) }),
          querystring: marketQuery,
          response: { 200: rulebookJson },
        },
      },
      async (request) => {
        const found = await rulebookVersion(ctx.db, request.params.version);
        if (!found) throw notFound('Rulebook version');
        return toJson(found.stored, found.rulebook, request.query.market);
      },
    );
  });
};
