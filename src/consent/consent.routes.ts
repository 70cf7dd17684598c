import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { findVisibleHcp, type Hcp } from '../hcps/index.js';
import { principalOf, type Principal } from '../identity/index.js';
import { DomainError } from '../platform/errors/index.js';
import {
  CONSENT_CHANNELS,
  CONSENT_PURPOSES,
  CONSENT_SOURCES,
  ENTRY_STATUSES,
  POSTED_CONSENT_STATUSES,
  checkStatement,
  currentConsent,
} from './consent-ledger.js';
import { defaultPreferences, type ContactPreferences } from './contact-preferences.js';
import { decodeCursor, encodeCursor } from '../platform/database/index.js';
import { reviewConsentHold } from './consent-hold-review.js';
import {
  appendConsentEntry,
  cancelQueuedMessages,
  listConsentEntries,
  listOpenConsentHolds,
  openConsentHoldsOf,
  type ConsentHold,
} from './consent.store.js';
import { readPreferences, writePreferences } from './preferences.store.js';

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 time, e.g. 2026-03-02T12:00:00Z',
});

const entrySchema = z.object({
  id: z.string(),
  hcpId: z.string(),
  channel: z.enum(CONSENT_CHANNELS),
  purpose: z.enum(CONSENT_PURPOSES),
  status: z.enum(ENTRY_STATUSES),
  source: z.enum(CONSENT_SOURCES),
  capturedBy: z.string().nullable(),
  capturedAt: z.string(),
  evidence: z.string().nullable(),
  wordingVersion: z.string().nullable(),
  messageId: z.string().nullable(),
  expiresAt: z.string().nullable(),
  recordedAt: z.string(),
});

const consentView = z.object({
  current: z.array(
    z.object({
      channel: z.enum(CONSENT_CHANNELS),
      purpose: z.enum(CONSENT_PURPOSES),
      status: z.enum(['none', 'pending', 'granted', 'withdrawn', 'refused', 'expired']),
      since: z.string().nullable(),
    }),
  ),
  ledger: z.array(entrySchema),
  /** Replies that may be opt-outs, waiting for a person: sends to the HCP are held meanwhile. */
  holds: z.array(
    z.object({
      id: z.string(),
      messageId: z.string(),
      matched: z.string().nullable(),
      createdAt: z.string(),
    }),
  ),
});

const holdSchema = z.object({
  id: z.string(),
  hcpId: z.string(),
  messageId: z.string(),
  reason: z.literal('ambiguous_reply'),
  matched: z.string().nullable(),
  status: z.enum(['open', 'resolved']),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.enum(['opted_out', 'not_an_opt_out']).nullable(),
});

const holdsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(1000).optional(),
});

// The HCP's own WhatsApp reply and its double opt-in are recorded by Parley from the reply itself, with
// the message id as evidence; a person cannot post a grant "from" them.
const HCP_REPLY_SOURCES: readonly string[] = ['whatsapp_reply', 'double_opt_in'];

const newEntryBody = z
  .object({
    channel: z.enum(CONSENT_CHANNELS),
    purpose: z.enum(CONSENT_PURPOSES),
    status: z.enum(POSTED_CONSENT_STATUSES),
    source: z.enum(CONSENT_SOURCES),
    evidence: z.string().trim().min(1).max(500).nullish(),
    wordingVersion: z.string().trim().min(1).max(100).nullish(),
    expiresAt: isoTime.nullish(),
    capturedAt: isoTime.nullish(),
  })
  .superRefine((body, issue) => {
    if (body.status === 'granted' && !body.evidence)
      issue.addIssue({
        code: 'custom',
        path: ['evidence'],
        message: 'a grant needs evidence: a document reference, the wording version shown or a message id',
      });
    if (body.status === 'granted' && HCP_REPLY_SOURCES.includes(body.source))
      issue.addIssue({
        code: 'custom',
        path: ['source'],
        message: 'grants from a WhatsApp reply are recorded by Parley from the reply itself',
      });
  });

const hcpParams = z.object({ id: z.string().min(1).max(100) });

const weekday = z.number().int().min(1).max(7);
const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be a local time HH:mm, e.g. 09:30' });
const preferencesSchema = z.object({
  preferredChannels: z.partialRecord(z.enum(CONSENT_PURPOSES), z.enum(CONSENT_CHANNELS)),
  contactWindows: z
    .array(
      z
        .object({ days: z.array(weekday).min(1).max(7), from: hhmm, to: hhmm })
        .refine((w) => w.from !== w.to, {
          message: 'a window must not start and end at the same time',
          path: ['to'],
        }),
    )
    .max(21),
  language: z
    .string()
    .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, { message: 'must be a BCP 47 language tag, e.g. pt-BR' }),
  frequencyLimit: z.object({ perWeek: z.number().int().min(0).max(50) }).nullable(),
});

function isAssignedRep(principal: Principal, hcp: Hcp): boolean {
  return hcp.territoryIds.some((t) => principal.territoryIds.includes(t));
}

/**
 * Who may record a grant: a rep for an HCP of their own territories, compliance, admin. Anyone who can see
 * the HCP may record a withdrawal or a refusal: withdrawing is never harder than granting.
 */
function mayGrant(principal: Principal, hcp: Hcp): boolean {
  if (principal.role === 'compliance' || principal.role === 'admin') return true;
  return principal.role === 'rep' && isAssignedRep(principal, hcp);
}

function requestInfo(request: { ip: string; method: string; routeOptions: { url?: string } }) {
  return { ip: request.ip, method: request.method, route: request.routeOptions.url ?? '' };
}

/** The consent ledger and the HCP's preferences, per HCP, scoped through `findVisibleHcp`. */
export const registerConsentRoutes: RouteModule = async (app, ctx) => {
  app.get(
    '/api/hcps/:id/consent',
    {
      config: { access: 'user' },
      schema: {
        tags: ['consent'],
        summary: "The HCP's consent in force per channel × purpose, and the whole ledger",
        params: hcpParams,
        response: { 200: consentView },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const hcp = await findVisibleHcp(ctx.db, ctx, principal, request.params.id, requestInfo(request));
      const ledger = await listConsentEntries(ctx.db, hcp.id);
      const current = currentConsent(ledger, ctx.clock.now()).map(({ channel, purpose, status, since }) => ({
        channel,
        purpose,
        status,
        since,
      }));
      const holds = (await openConsentHoldsOf(ctx.db, hcp.id)).map(
        ({ id, messageId, matched, createdAt }) => ({
          id,
          messageId,
          matched,
          createdAt,
        }),
      );
      return { current, ledger, holds };
    },
  );

  app.post(
    '/api/hcps/:id/consent',
    {
      config: { access: 'user' },
      schema: {
        tags: ['consent'],
        summary:
          'Record a consent entry: a grant (rep for own HCPs, compliance, admin), a withdrawal or a refusal',
        params: hcpParams,
        body: newEntryBody,
        response: { 201: entrySchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      // Visibility first, outside the transaction: an out-of-scope attempt is a 404 and its security-log
      // line must survive.
      const hcp = await findVisibleHcp(ctx.db, ctx, principal, request.params.id, requestInfo(request));
      if (body.status === 'granted' && !mayGrant(principal, hcp))
        throw new DomainError(
          'forbidden',
          principal.role === 'rep'
            ? 'Reps record grants only for HCPs of their own territories.'
            : 'Only the HCP’s rep, compliance or an admin may record a grant.',
        );
      const now = ctx.clock.now();
      const check = checkStatement(body, now);
      if (!check.ok)
        throw new DomainError('validation_failed', check.message, [
          { path: `body.${check.field}`, message: check.message },
        ]);
      const entry = await ctx.db.transaction().execute(async (tx) => {
        const created = await appendConsentEntry(tx, ctx, principal, {
          hcpId: hcp.id,
          channel: body.channel,
          purpose: body.purpose,
          status: check.status,
          source: body.source,
          capturedAt: check.capturedAt,
          evidence: body.evidence ?? null,
          wordingVersion: body.wordingVersion ?? null,
          messageId: null,
          expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
        });
        if (created.channel === 'whatsapp' && created.status === 'withdrawn')
          await cancelQueuedMessages(tx, ctx, {
            hcpId: hcp.id,
            actor: principal,
            reason: `WhatsApp consent withdrawn (${created.purpose}).`,
          });
        return created;
      });
      return reply.status(201).send(entry);
    },
  );

  app.get(
    '/api/hcps/:id/preferences',
    {
      config: { access: 'user' },
      schema: {
        tags: ['consent'],
        summary: "The HCP's preferred channel per purpose, contact windows, language and own frequency limit",
        params: hcpParams,
        response: { 200: preferencesSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const hcp = await findVisibleHcp(ctx.db, ctx, principal, request.params.id, requestInfo(request));
      return (await readPreferences(ctx.db, hcp.id)) ?? defaultPreferences(hcp.language);
    },
  );

  app.put(
    '/api/hcps/:id/preferences',
    {
      // Those who work with the HCP; pharmacovigilance reads cases, it does not manage contact.
      config: { access: ['rep', 'manager', 'msl', 'compliance', 'admin'] },
      schema: {
        tags: ['consent'],
        summary: "Replace the HCP's preferences",
        params: hcpParams,
        body: preferencesSchema,
        response: { 200: preferencesSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const hcp = await findVisibleHcp(ctx.db, ctx, principal, request.params.id, requestInfo(request));
      const next: ContactPreferences = request.body;
      return ctx.db.transaction().execute((tx) => writePreferences(tx, ctx, principal, hcp, next));
    },
  );

  app.get(
    '/api/consent/holds',
    {
      config: { access: ['compliance'] },
      schema: {
        tags: ['consent'],
        summary: 'Replies that may be opt-outs, waiting for a person (oldest first)',
        querystring: holdsQuery,
        response: { 200: z.object({ items: z.array(holdSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      let after: { createdAt: string; id: string } | undefined;
      if (cursor !== undefined) {
        const key = decodeCursor(cursor);
        if (!key || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'string')
          throw new DomainError('validation_failed', 'The cursor is not valid.', [
            { path: 'querystring.cursor', message: 'not a cursor from this list' },
          ]);
        after = { createdAt: key[0], id: key[1] };
      }
      const rows = await listOpenConsentHolds(ctx.db, { limit: limit + 1, ...(after ? { after } : {}) });
      const items: ConsentHold[] = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null,
      };
    },
  );

  app.post(
    '/api/consent/holds/:id/resolve',
    {
      config: { access: ['compliance'] },
      schema: {
        tags: ['consent'],
        summary: 'Say what a held reply meant: an opt-out (withdraws WhatsApp consent) or not',
        params: z.object({ id: z.string().min(1).max(100) }),
        body: z.object({ resolution: z.enum(['opted_out', 'not_an_opt_out']) }),
        response: { 200: holdSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return ctx.db.transaction().execute((tx) =>
        reviewConsentHold(tx, ctx, principal, {
          holdId: request.params.id,
          resolution: request.body.resolution,
        }),
      );
    },
  );
};
