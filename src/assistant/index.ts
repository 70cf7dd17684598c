export { normaliseForTriage, OWNER_TEAM, triageText } from './triage.js';
export type { CaseKind, KnownProduct, OwnerTeam, TriageFinding, TriageResult } from './triage.js';
export { LEXICONS } from './triage-lexicons.js';
export type { TriageLanguage, TriageSignal } from './triage-lexicons.js';
export { CASE_DUE_HOURS, listCases, openCase, openCases, updateCase } from './cases.store.js';
export type { CasePatch, CaseQuery, CaseView, NewCase } from './cases.store.js';
export { registerCaseRoutes } from './cases.routes.js';
