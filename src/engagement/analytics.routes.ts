import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { principalOf } from '../identity/index.js';
import { DomainError } from '../platform/errors/index.js';
import { ANALYTICS_REPORTS, runAnalyticsReport, type AnalyticsResult } from './analytics.store.js';
import { CHANNELS } from './interaction-labels.js';

const isoTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());
const DAY = 86_400_000;

/** A report as CSV: its rows when it has any (one line each), otherwise its summary as `metric,value`. */
export function analyticsCsv(result: AnalyticsResult): string {
  if (result.rows.length > 0)
    return stringify(result.rows, { header: true, columns: Object.keys(result.rows[0]!) });
  return stringify(
    Object.entries(result.summary).map(([metric, value]) => ({ metric, value })),
    { header: true, columns: ['metric', 'value'] },
  );
}

const cell = z.union([z.string(), z.number(), z.null()]);

export const registerAnalyticsRoutes: RouteModule = async (app, ctx) => {
  app.get(
    '/api/analytics/:report',
    {
      config: { access: ['brand', 'medical', 'digital', 'manager', 'compliance'] },
      schema: {
        tags: ['engagement'],
        summary: 'Aggregate figures behind the dashboards (formulas in docs/analytics.md)',
        params: z.object({ report: z.enum(ANALYTICS_REPORTS) }),
        querystring: z.object({
          market: z
            .string()
            .regex(/^[A-Z]{2}$/)
            .optional(),
          brand: z.string().min(1).max(100).optional(),
          channel: z.enum(CHANNELS).optional(),
          rep: z.string().min(1).max(100).optional(),
          from: isoTime.optional(),
          to: isoTime.optional(),
          format: z.enum(['json', 'csv']).default('json'),
          bucket: z.enum(['day', 'month']).default('month'),
          weeklyCap: z.coerce.number().int().min(1).max(100).default(2),
        }),
        response: {
          200: z.union([
            z.object({
              report: z.enum(ANALYTICS_REPORTS),
              filters: z.record(z.string(), cell),
              summary: z.record(z.string(), cell),
              rows: z.array(z.record(z.string(), cell)),
            }),
            z.string(),
          ]),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const q = request.query;
      const to = q.to ?? ctx.clock.now().toISOString();
      const from = q.from ?? new Date(Date.parse(to) - 90 * DAY).toISOString();
      if (from >= to)
        throw new DomainError('validation_failed', 'from must be before to', [
          { path: 'querystring.from', message: 'must be before to' },
        ]);
      const result = await runAnalyticsReport(ctx.readers, principal, request.params.report, {
        market: q.market,
        brand: q.brand,
        channel: q.channel,
        rep: q.rep,
        from,
        to,
        bucket: q.bucket,
        weeklyCap: q.weeklyCap,
      });
      if (q.format === 'csv') {
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="parley-${result.report}.csv"`)
          .send(analyticsCsv(result));
      }
      return result;
    },
  );
};
