import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { createThrottles, principalOf } from '../identity/index.js';
import { createHcp, findVisibleHcp, listVisibleHcps } from './hcps.store.js';

// Paging through one's own territory is a few pages a minute; walking the directory is not.
const HCP_READS_PER_USER_PER_MINUTE = 120;

const hcpSchema = z.object({
  id: z.string(),
  crmId: z.string(),
  name: z.string(),
  specialty: z.string().nullable(),
  institution: z.string().nullable(),
  whatsappNumber: z.string().nullable(),
  email: z.string().nullable(),
  market: z.string(),
  timeZone: z.string(),
  language: z.string(),
  segment: z.string().nullable(),
  territoryIds: z.array(z.string()),
  whatsappStatus: z.enum(['active', 'suspended', 'unreachable']),
  marketingStopped: z.boolean(),
  erased: z.boolean(),
});

const marketCode = z.string().regex(/^[A-Z]{2}$/, { message: 'must be a two-letter market code, e.g. BR' });

const newHcpBody = z.object({
  name: z.string().trim().min(1).max(200),
  market: marketCode,
  timeZone: z.string().refine((zone) => IANAZone.isValidZone(zone), {
    message: 'must be an IANA time zone, e.g. Europe/Madrid',
  }),
  language: z
    .string()
    .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, { message: 'must be a BCP 47 language tag, e.g. pt-BR' }),
  whatsappNumber: z
    .string()
    .refine((n) => /^\+\d{8,15}$/.test(n) && parsePhoneNumberFromString(n)?.isValid() === true, {
      message: 'must be a valid phone number in E.164 form, e.g. +5511987654321',
    })
    .nullish(),
  email: z.email({ message: 'must be an email address' }).max(320).nullish(),
  specialty: z.string().trim().min(1).max(200).nullish(),
  institution: z.string().trim().min(1).max(200).nullish(),
  crmId: z.string().trim().min(1).max(100).optional(),
  segment: z.string().trim().min(1).max(100).nullish(),
  territoryIds: z.array(z.string().min(1)).min(1, { message: 'name at least one territory' }).max(50),
});

const listQuery = z.object({
  q: z.string().trim().max(200).optional(),
  market: marketCode.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(1000).optional(),
});

/** The HCP directory: search, read one, create (admin). Scoping is the store's (`hcpVisibility`). */
export const registerHcpRoutes: RouteModule = async (app, ctx) => {
  const throttle = await createThrottles(app, ctx);
  const perUser = throttle({
    name: 'hcp_reads_per_user',
    max: HCP_READS_PER_USER_PER_MINUTE,
    timeWindow: '1 minute',
    keyOf: (request) => request.principal?.id ?? request.ip,
  });

  app.get(
    '/api/hcps',
    {
      config: { access: 'user' },
      preHandler: perUser,
      schema: {
        tags: ['hcps'],
        summary: 'HCPs the caller may see; `q` matches a name, a CRM id or an exact E.164 number',
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(hcpSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => listVisibleHcps(ctx.db, ctx, principalOf(request), request.query),
  );

  app.get(
    '/api/hcps/:id',
    {
      config: { access: 'user' },
      preHandler: perUser,
      schema: {
        tags: ['hcps'],
        summary: 'One HCP (404 when it does not exist or is out of scope)',
        params: z.object({ id: z.string().min(1).max(100) }),
        response: { 200: hcpSchema },
      },
    },
    async (request) =>
      findVisibleHcp(ctx.db, ctx, principalOf(request), request.params.id, {
        ip: request.ip,
        method: request.method,
        route: request.routeOptions.url,
      }),
  );

  app.post(
    '/api/hcps',
    {
      config: { access: ['admin'] },
      schema: {
        tags: ['hcps'],
        summary: 'Create an HCP (admin)',
        body: newHcpBody,
        response: { 201: hcpSchema },
      },
    },
    async (request, reply) => {
      const hcp = await createHcp(ctx.db, ctx, principalOf(request), request.body);
      return reply.status(201).send(hcp);
    },
  );
};
