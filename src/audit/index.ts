export { createAuditTrail } from './audit.store.js';
export type { AuditActor, AuditEntry, AuditTrail } from './audit.store.js';
export { logSecurityEvent } from './security-log.store.js';
export type { SecurityEvent } from './security-log.store.js';
export { ChainVerifier, GENESIS_HASH, hashAuditRow } from './audit-chain.js';
