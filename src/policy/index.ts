export { decide, lookbackHours, repMessagesInCap } from './decide.js';
export type { Decision, DecisionAlternative, DecisionReason } from './decide.js';
export type {
  ConsentMatrix,
  ConsentState,
  ConsentStatus,
  ContactWindow,
  DecisionAsset,
  DecisionContext,
  DecisionHcp,
  DecisionMarket,
  DecisionPreferences,
  DecisionProduct,
  DecisionRequest,
  DecisionTemplate,
  ParameterType,
  RecentMessage,
} from './decision-context.js';
export { DEFAULT_RULEBOOK_YAML } from './default-rulebook.js';
export { REASON_CODES, reasonCodesColumn } from './reason-codes.js';
export type { ReasonCode } from './reason-codes.js';
export { deepMerge, parseRulebook, rulesForMarket } from './rulebook.js';
export type { ParseResult, Rulebook, RulebookProblem } from './rulebook.js';
export {
  CAP_EXEMPTIONS,
  MESSAGE_LIFECYCLE,
  MESSAGE_TYPES,
  PURPOSES,
  TRIAGE_SIGNALS,
} from './rulebook-schema.js';
export type {
  CapExemption,
  Classification,
  MessageType,
  MixChannel,
  Purpose,
  Rules,
} from './rulebook-schema.js';
export { registerRulebookRoutes } from './rulebook.routes.js';
export {
  currentRulebook,
  latestRulebook,
  ensureRulebook,
  listRulebookVersions,
  rulebookVersion,
  saveRulebook,
} from './rulebook.store.js';
export type { RulebookVersion, RulebookVersionSummary } from './rulebook.store.js';
export { consentKeywordsFor } from './rulebook-keywords.js';
export { triageLexiconsFor } from './rulebook-triage.js';
