import type { RouteModule } from '../context.js';
import { registerInteractionRoutes } from './interactions.routes.js';

/** Engagement's HTTP routes (interactions, timeline, imports, analytics) and its CRM sink worker. */
export const registerEngagementRoutes: RouteModule = async (app, ctx) => {
  await registerInteractionRoutes(app, ctx);
};
