import type { RouteModule } from '../context.js';
import { registerAnalyticsRoutes } from './analytics.routes.js';
import { startCrmSink } from './crm-sink.worker.js';
import { registerImportRoutes } from './imports.routes.js';
import { registerInteractionRoutes } from './interactions.routes.js';

/** Engagement's HTTP routes (interactions, timeline, imports, analytics) and its CRM sink worker. */
export const registerEngagementRoutes: RouteModule = async (app, ctx) => {
  await registerInteractionRoutes(app, ctx);
  await registerImportRoutes(app, ctx);
  await registerAnalyticsRoutes(app, ctx);
  const { url, secret } = ctx.config.crmSink;
  if (url && secret) {
    const sink = startCrmSink(ctx, { url, secret });
    return () => sink.stop();
  }
  return undefined;
};
