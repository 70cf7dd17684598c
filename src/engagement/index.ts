export { recordInteraction, toInteraction } from './interactions.store.js';
export type { Interaction, NewInteraction } from './interactions.store.js';
