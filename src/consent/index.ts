export {
  CONSENT_CHANNELS,
  CONSENT_PURPOSES,
  CONSENT_SOURCES,
  POSTED_CONSENT_STATUSES,
  checkStatement,
  consentBasisAt,
  currentConsent,
  foldConsent,
  orderLedger,
} from './consent-ledger.js';
export type {
  ConsentChannel,
  ConsentEntry,
  ConsentPurpose,
  ConsentSource,
  ConsentStatement,
  CurrentConsent,
  CurrentConsentStatus,
  EntryStatus,
  PostedConsentStatus,
} from './consent-ledger.js';
export {
  DEFAULT_CONSENT_KEYWORDS,
  classifyConsentReply,
  isOptOutLabel,
  normaliseReply,
} from './consent-keywords.js';
export type {
  ConsentKeywords,
  LanguageKeywords,
  ReplyContext,
  ReplyIntent,
  ReplyReading,
} from './consent-keywords.js';
export { DEFAULT_OPT_IN_REQUEST_LIMITS, checkOptInRequestLimits } from './opt-in-limits.js';
export type { OptInRequestCheck, OptInRequestLimits } from './opt-in-limits.js';
export { defaultPreferences, isWithinContactWindows } from './contact-preferences.js';
export type { ContactPreferences, ContactWindow, LocalMoment } from './contact-preferences.js';
export {
  CANCELLABLE_MESSAGE_STATUSES,
  cancelQueuedMessages,
  listConsentEntries,
  openConsentHoldsOf,
  optInRequestTimes,
  resolveConsentHold,
} from './consent.store.js';
export type { ConsentHold } from './consent.store.js';
export {
  CONSENT_BUTTON_PAYLOADS,
  DEFAULT_OPT_IN_PURPOSES,
  applyWhatsappConsentReply,
} from './whatsapp-consent-reply.js';
export type { ConsentReplyEffect, WhatsappConsentReply } from './whatsapp-consent-reply.js';
export { readPreferences } from './preferences.store.js';
export { registerConsentRoutes } from './consent.routes.js';
