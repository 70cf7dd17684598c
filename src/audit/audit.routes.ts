import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { decodeCursor } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { listAuditEvents, verifyAuditChain } from './audit.store.js';

/** Who reads the regulated trail (CONTRACT.md, "Who sees what": compliance reads, admin reads audit). */
const AUDIT_READERS = ['compliance', 'admin'] as const;

const isoTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());
const filterValue = z.string().trim().min(1).max(200);

const auditQuery = z.object({
  targetType: filterValue.optional(),
  targetId: filterValue.optional(),
  subjectId: filterValue.optional(),
  actorId: filterValue.optional(),
  action: filterValue.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

const chainProblem = z.enum(['gap', 'broken_link', 'hash_mismatch', 'head_mismatch', 'anchor_mismatch']);

/** `<seq>:<hash>`, a head recorded from an earlier verification. */
const anchorPattern = /^(\d{1,15}):([0-9a-f]{64})$/;

const verifyQuery = z.object({
  anchor: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((a) => a.trim()) : v),
      z.array(z.string().regex(anchorPattern, 'expected <seq>:<64 hex digits of the hash>')).max(100),
    )
    .optional(),
});

const verificationSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  firstBrokenId: z.string().optional(),
  firstBrokenSeq: z.number().int().optional(),
  problem: chainProblem.optional(),
  message: z.string().optional(),
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  verifiedAt: z.string(),
});

const changesSchema = z.record(z.string(), z.unknown()).nullable();

const auditEventSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  at: z.string(),
  actor: z.object({ id: z.string(), role: z.string() }).nullable(),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }),
  subjectId: z.string().nullable(),
  reason: z.string().nullable(),
  before: changesSchema,
  after: changesSchema,
  hasPersonalValues: z.boolean(),
  prevHash: z.string(),
  hash: z.string(),
});

/**
 * The audit trail over HTTP: compliance and admin page through it and verify it. Neither is a state
 * change, so neither is audited; a verification is logged (and a broken chain logged as an error).
 */
export const registerAuditRoutes: RouteModule = async (app, ctx) => {
  app.get(
    '/api/audit/verify',
    {
      config: { access: AUDIT_READERS },
      schema: {
        tags: ['audit'],
        summary: 'Walk the whole hash chain; name the first broken row',
        description:
          '`?anchor=<seq>:<hash>` (repeatable, or comma-separated): heads recorded from earlier ' +
          'verifications; the chain must still pass through each.',
        querystring: verifyQuery,
        response: { 200: verificationSchema },
      },
    },
    async (request) => {
      // Not principalOf(): identity imports audit (the security log), so audit does not import identity.
      // The access guard has set the principal before any handler of a non-public route runs.
      const by = request.principal?.id ?? null;
      const anchors = (request.query.anchor ?? []).map((a) => {
        const [, seq, hash] = anchorPattern.exec(a) ?? [];
        return { seq: Number(seq), hash: hash ?? '' };
      });
      const report = await verifyAuditChain(ctx.db, { anchors });
      const fields = {
        by,
        ok: report.ok,
        checked: report.checked,
        firstBrokenSeq: report.firstBrokenSeq,
        firstBrokenId: report.firstBrokenId,
        problem: report.problem,
        anchors: anchors.length,
        headSeq: report.head?.seq,
      };
      if (report.ok) request.log.info(fields, 'audit chain verified');
      else request.log.error(fields, `audit chain broken: ${report.message ?? ''}`);
      return { ...report, verifiedAt: ctx.clock.now().toISOString() };
    },
  );

  app.get(
    '/api/audit',
    {
      config: { access: AUDIT_READERS },
      schema: {
        tags: ['audit'],
        summary: 'Audit events (newest first): actor, action, target, before/after, reason, time',
        description:
          'Filters: targetType, targetId, subjectId (an HCP), actorId, action, from (inclusive), to ' +
          '(exclusive). Personal values recorded beside an event are never included.',
        querystring: auditQuery,
        response: { 200: z.object({ items: z.array(auditEventSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { cursor, ...filters } = request.query;
      let afterSeq: number | undefined;
      if (cursor !== undefined) {
        const key = decodeCursor(cursor);
        const seq = key?.[0];
        if (key?.length !== 1 || typeof seq !== 'number' || !Number.isInteger(seq))
          throw new DomainError('validation_failed', 'The cursor is not one this list gave out.', [
            { path: 'querystring.cursor', message: 'unknown cursor' },
          ]);
        afterSeq = seq;
      }
      return listAuditEvents(ctx.db, { ...filters, afterSeq });
    },
  );
};
