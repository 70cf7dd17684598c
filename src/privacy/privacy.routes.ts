import { z } from 'zod';
import type { ParleyContext, RouteModule } from '../context.js';
import { principalOf } from '../identity/index.js';
import { exportHcpData } from './access-export.store.js';
import { eraseHcp, setLegalHold } from './erasure.store.js';
import { inspectionExport } from './inspection.store.js';
import { runRetention } from './retention.store.js';

const hcpParams = z.object({ id: z.string().min(1).max(100) });
const reason = z.string().trim().min(3).max(1000);
const isoTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());

/** The envelope of both exports; the content is documented in docs/privacy.md. */
const exportEnvelope = {
  generatedAt: z.string(),
  generatedBy: z.string(),
  checksum: z.string().regex(/^[0-9a-f]{64}$/),
};
const accessExportSchema = z.object({
  format: z.literal('parley.access-export.v1'),
  hcpId: z.string(),
  ...exportEnvelope,
  content: z.record(z.string(), z.unknown()),
});
const inspectionExportSchema = z.object({
  format: z.literal('parley.inspection-export.v1'),
  ...exportEnvelope,
  document: z.object({
    hcpId: z.string(),
    from: z.string(),
    to: z.string(),
    messages: z.array(z.unknown()),
    auditTrail: z.array(z.unknown()),
  }),
});

/** The daily retention run starts at this UTC hour, when the fewest people work in any market. */
const RETENTION_HOUR_UTC = 3;
const DAY_MS = 86_400_000;

const originOf = (request: { ip: string; method: string; routeOptions: { url?: string } }) => ({
  ip: request.ip,
  method: request.method,
  route: request.routeOptions.url,
});

/**
 * Personal-data rights over HTTP (CONTRACT.md): access-request export and erasure of one HCP
 * (compliance, admin), legal holds (compliance), the inspection export of a conversation and its audit
 * trail (compliance); and the daily retention run.
 */
export const registerPrivacyRoutes: RouteModule = async (app, ctx) => {
  app.get(
    '/api/hcps/:id/export',
    {
      config: { access: ['compliance', 'admin'] },
      schema: {
        tags: ['privacy'],
        summary:
          'Everything Parley holds about one HCP (GDPR access request), with a SHA-256 of its canonical JSON',
        params: hcpParams,
        response: { 200: accessExportSchema },
      },
    },
    async (request) => exportHcpData(ctx, principalOf(request), request.params.id, originOf(request)),
  );

  app.post(
    '/api/hcps/:id/erasure',
    {
      config: { access: ['compliance', 'admin'] },
      schema: {
        tags: ['privacy'],
        summary:
          'GDPR erasure of one HCP: personal data removed everywhere, a pseudonymous shell kept; 409 legal_hold under a hold',
        params: hcpParams,
        body: z.object({ reason }),
        response: {
          200: z.object({
            hcpId: z.string(),
            erasedAt: z.string(),
            removed: z.record(z.string(), z.number()),
          }),
        },
      },
    },
    async (request) =>
      eraseHcp(ctx, principalOf(request), request.params.id, request.body.reason, originOf(request)),
  );

  app.post(
    '/api/hcps/:id/legal-hold',
    {
      config: { access: ['compliance'] },
      schema: {
        tags: ['privacy'],
        summary: 'Set or clear a legal hold on an HCP (blocks erasure and retention deletions)',
        params: hcpParams,
        body: z.object({ hold: z.boolean(), reason }),
        response: { 200: z.object({ hcpId: z.string(), legalHold: z.boolean() }) },
      },
    },
    async (request) =>
      setLegalHold(ctx, principalOf(request), request.params.id, request.body, originOf(request)),
  );

  app.get(
    '/api/audit/inspection',
    {
      config: { access: ['compliance'] },
      schema: {
        tags: ['privacy', 'audit'],
        summary:
          "One HCP's conversation in a period and its audit trail, as canonical JSON with a reproducible checksum",
        querystring: z
          .object({ hcpId: z.string().min(1).max(100), from: isoTime, to: isoTime })
          .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['to'] }),
        response: { 200: inspectionExportSchema },
      },
    },
    async (request) => inspectionExport(ctx, principalOf(request), request.query, originOf(request)),
  );

  return startDailyRetention(ctx);
};

/** Runs the retention job once a day at RETENTION_HOUR_UTC; returns the function that stops it. */
function startDailyRetention(ctx: ParleyContext): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    const now = ctx.clock.now();
    const next = new Date(now);
    next.setUTCHours(RETENTION_HOUR_UTC, 0, 0, 0);
    if (next.getTime() <= now.getTime()) next.setTime(next.getTime() + DAY_MS);
    timer = setTimeout(
      () => {
        running = runRetention(ctx)
          .then((run) =>
            ctx.logger.info(
              { retention: Object.fromEntries(Object.entries(run.kinds).map(([k, v]) => [k, v.expired])) },
              'retention run finished',
            ),
          )
          .catch((error: unknown) => ctx.logger.error({ err: error }, 'retention run failed'))
          .finally(schedule);
      },
      Math.min(next.getTime() - now.getTime(), DAY_MS),
    );
    timer.unref();
  };
  schedule();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    await running;
  };
}
