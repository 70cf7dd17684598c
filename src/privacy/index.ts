export { canonicalJson, checksumOf } from './canonical-json.js';
export {
  RETENTION_KINDS,
  candidateCutoff,
  expiredRecords,
  expiryOf,
  isExpired,
  periodFor,
} from './retention-rules.js';
export type { RetentionCandidate, RetentionKind, RetentionPeriods } from './retention-rules.js';
export { ERASED, provenanceWithoutValues, scrubText } from './personal-scrub.js';
export { auditEventsAbout, exportHcpData } from './access-export.store.js';
export type { AccessExport, RequestOrigin } from './access-export.store.js';
export { eraseHcp, erasedName, setLegalHold } from './erasure.store.js';
export type { ErasureReport } from './erasure.store.js';
export { INSPECTION_EXPORTED, inspectionExport } from './inspection.store.js';
export type { InspectionExport } from './inspection.store.js';
export { runRetention } from './retention.store.js';
export type { RetentionRun } from './retention.store.js';
export { registerPrivacyRoutes } from './privacy.routes.js';
