export { canReadMessageBodies, hcpVisibility } from './hcp-scope.js';
export {
  createHcp,
  findHcpById,
  findHcpByWhatsappNumber,
  findVisibleHcp,
  listVisibleHcps,
  nextHcpSeqs,
  normaliseEmail,
  normaliseNumber,
  numberIndex,
} from './hcps.store.js';
export type { Hcp, HcpQuery, NewHcp } from './hcps.store.js';
export { registerHcpRoutes } from './hcps.routes.js';
