export { recordInteraction, toInteraction, findInteractionByKey } from './interactions.store.js';
export type { Interaction, NewInteraction } from './interactions.store.js';
export { registerEngagementRoutes } from './engagement.routes.js';
