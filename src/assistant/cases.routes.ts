import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { principalOf } from '../identity/index.js';
import { listCases, updateCase } from './cases.store.js';

const caseSchema = z.object({
  id: z.string(),
  kind: z.enum(['adverse_event', 'medical_inquiry', 'complaint']),
  hcpId: z.string().nullable(),
  messageId: z.string().nullable(),
  interactionId: z.string().nullable(),
  verbatim: z.string().nullable(),
  product: z.string().nullable(),
  market: z.string().nullable(),
  awareAt: z.string(),
  dueAt: z.string(),
  status: z.enum(['open', 'in_progress', 'closed']),
  ownerTeam: z.enum(['safety', 'medical_information', 'quality']),
  triage: z.object({ signals: z.array(z.string()), matched: z.array(z.string()) }).nullable(),
  contentWithheld: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Cases opened by first triage: listed per role (CONTRACT.md "Who sees what"), worked by pv, msl, compliance. */
export const registerCaseRoutes: RouteModule = async (app, ctx) => {
  app.get(
    '/api/cases',
    {
      config: { access: ['rep', 'manager', 'msl', 'pv', 'compliance'] },
      schema: {
        tags: ['cases'],
        querystring: z.object({
          kind: z.enum(['adverse_event', 'medical_inquiry', 'complaint']).optional(),
          status: z.enum(['open', 'in_progress', 'closed']).optional(),
          hcpId: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(512).optional(),
        }),
        response: { 200: z.object({ items: z.array(caseSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => listCases(ctx.db, ctx, principalOf(request), request.query),
  );

  app.patch(
    '/api/cases/:id',
    {
      config: { access: ['pv', 'msl', 'compliance'] },
      schema: {
        tags: ['cases'],
        params: z.object({ id: z.string().min(1).max(64) }),
        body: z
          .object({
            status: z.enum(['open', 'in_progress', 'closed']).optional(),
            ownerTeam: z.enum(['safety', 'medical_information', 'quality']).optional(),
            reason: z.string().min(1).max(1000).optional(),
          })
          .refine((b) => b.status !== undefined || b.ownerTeam !== undefined, {
            message: 'give a status or an ownerTeam',
          }),
        response: { 200: caseSchema },
      },
    },
    async (request) =>
      updateCase(ctx.db, ctx, principalOf(request), request.params.id, request.body, {
        ip: request.ip,
        method: request.method,
        route: request.routeOptions.url,
      }),
  );
};
