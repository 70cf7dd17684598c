export {
  createAuditTrail,
  erasePersonalAuditValues,
  listAuditEvents,
  personalAuditValuesOf,
  verifyAuditChain,
} from './audit.store.js';
export type {
  AuditActor,
  AuditEntry,
  AuditEvent,
  AuditQuery,
  AuditTrail,
  ChainReport,
  ChainVerification,
  PersonalAuditValues,
} from './audit.store.js';
export { registerAuditRoutes } from './audit.routes.js';
export { logSecurityEvent } from './security-log.store.js';
export type { SecurityEvent } from './security-log.store.js';
export { ChainVerifier, GENESIS_HASH, describeChainBreak, hashAuditRow } from './audit-chain.js';
export type { ChainBreak, ChainHead, ChainProblem } from './audit-chain.js';
