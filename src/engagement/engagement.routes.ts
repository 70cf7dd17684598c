import type { RouteModule } from '../context.js';
import { registerAnalyticsRoutes } from './analytics.routes.js';
import { startCrmSink } from './crm-sink.worker.js';
import { startAnalyticsRefresher } from './analytics-refresher.worker.js';
import { registerImportRoutes } from './imports.routes.js';
import { registerInteractionRoutes } from './interactions.routes.js';
import { startTimelineFolder } from './timeline-folder.worker.js';

/**
 * Engagement's HTTP routes (interactions, timeline, imports, analytics) and its workers: the CRM sink, the
 * refresher of the figures analytics keep as written (volume cells, the facts kept per message), and the
 * folder of imports' timeline chunks.
 */
export const registerEngagementRoutes: RouteModule = async (app, ctx) => {
  await registerInteractionRoutes(app, ctx);
  await registerImportRoutes(app, ctx);
  await registerAnalyticsRoutes(app, ctx);
  const refresher = startAnalyticsRefresher(ctx);
  const folder = startTimelineFolder(ctx);
  const { url, secret } = ctx.config.crmSink;
  const sink = url && secret ? startCrmSink(ctx, { url, secret }) : null;
  return async () => {
    await sink?.stop();
    await refresher.stop();
    await folder.stop();
  };
};
