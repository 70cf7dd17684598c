import type { Rulebook } from './rulebook.js';
import type {
  CapExemption,
  Classification,
  ConsentChannel,
  MessageType,
  MixChannel,
  Purpose,
} from './rulebook-schema.js';

/**
 * The inputs of `decide()`, as plain values. Other capabilities build them from the store (messaging for a
 * check or a send, the outbox worker when it claims a row) and pass them in; policy reads nothing itself.
 * Times are ISO-8601 UTC strings, as stored. Personal data appears only where a sentence needs it (the
 * HCP's name); the number itself never does, only its calling code.
 */

/** What a rep proposes to send (CONTRACT.md "Policy decision"), after ids were resolved. */
export interface DecisionRequest {
  repId: string;
  hcpId: string;
  /** A template version, with its parameters keyed by name… */
  templateId?: string;
  parameters?: Record<string, unknown>;
  /** …or free text (only inside the customer-service window, always reviewed). */
  text?: string;
  assetIds?: readonly string[];
  /** How the assets would travel: as tracked links (the default) or attached files. */
  assetDelivery?: 'link' | 'file';
  /** When the message should go; absent means now. A time in the past means now. */
  sendAt?: string;
  /** What the message is beyond its template: an exempt kind (see `frequency.exempt`) or an ordinary one. */
  kind?: 'rep' | CapExemption;
}

export type ConsentStatus = 'none' | 'pending' | 'granted' | 'withdrawn' | 'refused' | 'expired';

export interface ConsentState {
  status: ConsentStatus;
  since?: string;
  /** A grant's expiry: a grant that expires before the send time is treated as expired. */
  expiresAt?: string | null;
}

/** Current consent per channel × purpose (a fold of the ledger); a missing entry means `none`. */
export type ConsentMatrix = Partial<Record<ConsentChannel, Partial<Record<Purpose, ConsentState>>>>;

export interface DecisionHcp {
  id: string;
  /** Used in sentences for the rep ("Dra. Ana Souza has had …"). */
  name: string;
  market: string;
  language: string;
  timeZone: string;
  /** Whether a WhatsApp number is on file. */
  hasWhatsappNumber: boolean;
  /** The number's country calling code without "+" (e.g. "55"), when there is one. */
  callingCode?: string | null;
  whatsappStatus: 'active' | 'suspended' | 'unreachable';
  marketingStopped: boolean;
  /** Whether the requesting rep works a territory of this HCP (visibility was settled before: 404). */
  assignedToRep: boolean;
}

export interface DecisionMarket {
  code: string;
  timeZone: string;
  /** ISO weekday numbers, 1 = Monday. */
  weekendDays: readonly number[];
  /** ISO dates (YYYY-MM-DD), local to the market. */
  holidays: readonly string[];
}

/** A contact window in the HCP's time zone: on these ISO weekdays, between start and end (HH:MM). */
export interface ContactWindow {
  days: readonly number[];
  start: string;
  end: string;
}

export interface DecisionPreferences {
  /** Preferred channel per purpose. */
  preferredChannel?: Partial<Record<Purpose, MixChannel>>;
  contactWindows?: readonly ContactWindow[];
  /** The HCP's own frequency limit: at most `maxMessages` rep-initiated WhatsApp messages per `perDays`. */
  frequencyLimit?: { maxMessages: number; perDays: number } | null;
}

/** An outbound WhatsApp message to the HCP (any rep), or by the rep (to any HCP), that may count. */
export interface RecentMessage {
  id?: string;
  repId: string | null;
  hcpId?: string | null;
  /** When it went or will go: `send_at` for a scheduled one, else its creation time. */
  at: string;
  status: string;
  /** Template key (versions of one template are the same message for duplicate checks). */
  templateKey?: string | null;
  kind: 'rep' | CapExemption;
}

export interface DecisionTemplate {
  id: string;
  key: string;
  version: number;
  name?: string;
  status: 'draft' | 'in_review' | 'approved' | 'rejected' | 'superseded' | 'expired' | 'withdrawn';
  expiresAt?: string | null;
  market: string;
  language: string;
  type: MessageType;
  classification: Classification;
  whatsappCategory: 'utility' | 'marketing' | 'authentication';
  whatsappStatus: 'pending' | 'approved' | 'rejected' | 'paused' | 'disabled';
  parameters: ReadonlyArray<{ name: string; type: ParameterType; maxLength?: number }>;
  /** Product ids the template promotes (for the prescribing-information link). */
  products: readonly string[];
}

export type ParameterType = 'hcp_name' | 'date' | 'time' | 'venue' | 'asset_link' | 'text';

export interface DecisionAsset {
  id: string;
  key: string;
  title: string;
  kind: 'leaflet' | 'study_summary' | 'dosing_guide' | 'video' | 'prescribing_information';
  status: 'draft' | 'in_review' | 'approved' | 'rejected' | 'superseded' | 'expired' | 'withdrawn';
  expiresAt?: string | null;
  url: string;
  classification: Classification;
  products: readonly string[];
}

export interface DecisionProduct {
  id: string;
  name: string;
  /** Key of the product's prescribing-information asset. */
  piAssetKey: string | null;
}

/** Everything `decide()` looks at besides the request. */
export interface DecisionContext {
  /** The decision's "now": the real time for a send, the asked-about time for a what-if check. */
  now: string;
  rulebook: Rulebook;
  hcp: DecisionHcp;
  market: DecisionMarket;
  consent: ConsentMatrix;
  preferences?: DecisionPreferences | null;
  /** Outbound WhatsApp messages to this HCP, all reps, within `lookbackHours(rules)` of now (and future). */
  hcpMessages: readonly RecentMessage[];
  /** This rep's outbound WhatsApp messages (all HCPs) within the per-rep window (and future). */
  repMessages: readonly RecentMessage[];
  /** The customer-service window on the sending number: the HCP's last inbound message there. */
  lastInboundAt?: string | null;
  /** Template version named by the request (undefined when the request is free text or it was not found). */
  template?: DecisionTemplate | null;
  /** Assets named by the request, found ones only (a missing id is reported as not approved). */
  assets: readonly DecisionAsset[];
  /** Products of the template, with their prescribing-information asset key. */
  products: readonly DecisionProduct[];
  /** Times of opt-in requests already sent to this HCP (all of them: "three ever"). */
  optInRequests: readonly string[];
  /** An open consent hold (an ambiguous reply waits for a person): further sends wait too. */
  consentHold?: { since: string; reason?: string } | null;
}
