/**
 * The typed tables of Parley's store: one interface per table, one `Database` that Kysely checks every
 * query against. Conventions, held in both dialects alike so the same code runs on SQLite and PostgreSQL:
 * - ids are opaque text (see platform/crypto `newId`);
 * - moments are ISO-8601 UTC text with milliseconds (`2026-03-02T12:00:00.000Z`), which sorts as it reads;
 * - booleans are integers 0/1; lists and small objects are JSON text (`*_json`);
 * - personal data is sealed (`*_enc`, see platform/crypto) with a blind index beside it (`*_bidx`).
 */

import type { Generated } from 'kysely';

type Json = string;
type Iso = string;
type Flag = 0 | 1;

export interface MarketsTable {
  code: string; // ISO 3166-1 alpha-2, e.g. BR
  name: string;
  languages_json: Json; // BCP 47 tags, first is the default
  time_zone: string; // IANA
  weekend_days_json: Json; // ISO weekday numbers, 1 = Monday
  holidays_json: Json; // ISO dates, local to the market
  legal_regime: string;
  data_residency: string;
  created_at: Iso;
}

export interface SendingNumbersTable {
  phone_number_id: string; // Meta's id of the business phone number
  market_code: string;
  display_phone_number: string;
  waba_id: string;
  /** Meta's messaging-limit tier: unique recipients per 24 h (250, 1000, 10000, 100000, unlimited = 0). */
  messaging_limit: number;
  status: 'active' | 'paused';
  paused_reason: string | null;
}

export interface ProductsTable {
  id: string;
  market_code: string;
  brand: string;
  name: string; // the product as named in text (brand name)
  generic_name: string;
  approved_indications_json: Json;
  pi_asset_key: string | null; // the prescribing-information asset
}

export interface UsersTable {
  id: string;
  email: string; // staff work address, lower-cased; not HCP personal data
  name: string;
  role: 'rep' | 'manager' | 'msl' | 'pv' | 'compliance' | 'brand' | 'medical' | 'digital' | 'admin';
  password_hash: string;
  manager_id: string | null;
  active: Flag;
  created_at: Iso;
}

export interface UserMarketsTable {
  user_id: string;
  market_code: string;
}

export interface TerritoriesTable {
  id: string;
  name: string;
  market_code: string;
}

/** Which territories a user works (reps) — managers see their reps' territories through `manager_id`. */
export interface UserTerritoriesTable {
  user_id: string;
  territory_id: string;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  created_at: Iso;
  expires_at: Iso;
  revoked_at: Iso | null;
}

export interface HcpsTable {
  id: string;
  /** A small integer key of the HCP's own (unique, never reused) that its interactions carry: hcps.seq. */
  seq: number;
  crm_id: string;
  name: string;
  specialty: string | null;
  institution: string | null;
  market_code: string;
  language: string;
  time_zone: string;
  whatsapp_number_enc: string | null;
  whatsapp_number_bidx: string | null;
  wa_id_bidx: string | null;
  bsuid: string | null; // Meta's business-scoped user id, when known
  whatsapp_status: 'active' | 'suspended' | 'unreachable';
  marketing_stopped: Flag; // Meta's user_preferences marketing stop: a platform flag, not consent
  email_enc: string | null;
  email_bidx: string | null;
  segment: string | null;
  legal_hold: Flag;
  erased_at: Iso | null;
  created_at: Iso;
  updated_at: Iso;
}

export interface HcpTerritoriesTable {
  hcp_id: string;
  territory_id: string;
}

export interface ConsentEntriesTable {
  id: string;
  hcp_id: string;
  channel: 'whatsapp' | 'email' | 'phone' | 'sms';
  purpose: 'promotional' | 'non_promotional' | 'service' | 'medical_information' | 'events';
  status: 'granted' | 'pending' | 'withdrawn' | 'refused';
  source: 'written_form' | 'web_form' | 'verbal' | 'whatsapp_reply' | 'double_opt_in' | 'crm_import';
  captured_by: string | null; // user id; null for the HCP's own WhatsApp reply
  captured_at: Iso; // when the HCP gave or withdrew it
  evidence: string | null;
  wording_version: string | null;
  message_id: string | null;
  expires_at: Iso | null;
  recorded_at: Iso;
}

export interface PreferencesTable {
  hcp_id: string;
  preferences_json: Json;
  updated_by: string | null;
  updated_at: Iso;
}

export interface TemplatesTable {
  id: string;
  key: string;
  version: number;
  status: 'draft' | 'in_review' | 'approved' | 'rejected' | 'superseded' | 'expired' | 'withdrawn';
  type:
    | 'reminder'
    | 'confirmation'
    | 'follow_up'
    | 'recap'
    | 'resource_link'
    | 'event_invite'
    | 'opt_in_request'
    | 'service';
  classification: 'promotional' | 'non_promotional';
  whatsapp_category: 'utility' | 'marketing' | 'authentication';
  whatsapp_name: string;
  whatsapp_language: string;
  whatsapp_status: 'pending' | 'approved' | 'rejected' | 'paused' | 'disabled';
  market_code: string;
  language: string;
  brand: string | null;
  products_json: Json;
  tone_tags_json: Json;
  body: string;
  parameters_json: Json; // [{ name, type, maxLength? }]
  buttons_json: Json; // quick-reply labels
  approval_code: string | null;
  author_id: string;
  approved_by: string | null;
  approved_at: Iso | null;
  expires_at: Iso | null;
  review_comment: string | null;
  lint_json: Json; // tone-lint flags found at submission
  created_at: Iso;
  updated_at: Iso;
}

export interface AssetsTable {
  id: string;
  key: string;
  version: number;
  title: string;
  kind: 'leaflet' | 'study_summary' | 'dosing_guide' | 'video' | 'prescribing_information';
  status: 'draft' | 'in_review' | 'approved' | 'rejected' | 'superseded' | 'expired' | 'withdrawn';
  url: string;
  approval_code: string | null;
  classification: 'promotional' | 'non_promotional';
  market_code: string;
  brand: string | null;
  products_json: Json;
  topics_json: Json;
  author_id: string;
  approved_by: string | null;
  approved_at: Iso | null;
  expires_at: Iso | null;
  review_comment: string | null;
  created_at: Iso;
  updated_at: Iso;
}

/** An electronic signature on a content review step (21 CFR Part 11: who, when, what it meant). */
export interface ContentSignaturesTable {
  id: string;
  content_kind: 'template' | 'asset';
  content_id: string;
  signer_id: string;
  signer_name: string;
  signer_role: string | null; // the role signed for (migration 0003)
  meaning: string; // e.g. "approved for use in BR"
  signed_at: Iso;
}

export interface InteractionsTable {
  id: string;
  hcp_id: string;
  hcp_seq: number; // the HCP's seq: the timeline index is (hcp_seq, occurred_at), narrower than by hcp_id
  channel: 'whatsapp' | 'email' | 'f2f' | 'virtual' | 'phone' | 'event' | 'web';
  direction: 'inbound' | 'outbound' | 'internal';
  kind:
    | 'call'
    | 'meeting'
    | 'message'
    | 'email_sent'
    | 'email_opened'
    | 'email_clicked'
    | 'event_attended'
    | 'click'
    | 'consent_change'
    | 'blocked_attempt'
    | 'note';
  occurred_at: Iso;
  rep_id: string | null;
  summary: string | null; // never a WhatsApp body: bodies live sealed on the message
  topics_json: Json;
  products_json: Json;
  source: string; // system of origin: parley, veeva, salesforce, ...
  external_id: string; // unique with source: imports are idempotent
  template_id: string | null;
  asset_ids_json: Json;
  message_id: string | null;
  status: string | null;
  created_at: Iso;
  updated_at: Iso;
  /** The import that wrote the row; its rows are seen only once it is published (`unpublished_imports`). */
  import_id: string | null;
  /**
   * Where the row's entries sit in the timeline index (migration 0034) and the index by time (0035): 0,
   * their main part, or an import's chunk (`timeline_chunks`) until the row is folded into the main part.
   */
  timeline_chunk?: number;
}

export interface MessagesTable {
  id: string;
  hcp_id: string | null; // null for an inbound message from an unknown number
  rep_id: string | null;
  direction: 'inbound' | 'outbound';
  wamid: string | null;
  phone_number_id: string;
  type: string; // outbound: template | text | interactive; inbound: Meta's message type
  template_id: string | null;
  parameters_enc: string | null;
  body_enc: string | null; // rendered or received text, sealed
  asset_ids_json: Json;
  provenance_json: Json; // template key/version/approval code, asset versions and codes: immutable
  /**
   * Outbound: the provenance's `kind` (`rep`, or a cap-exempt kind such as `opt_out_confirmation`), copied
   * so the counters read it from an index (migration 0015); null for inbound messages.
   */
  send_kind: string | null;
  status: string;
  status_at: Iso;
  error_code: number | null;
  error_title: string | null;
  error_detail: string | null;
  decision_id: string | null;
  idempotency_key: string | null;
  context_wamid: string | null; // the message an inbound reply answers
  send_at: Iso | null;
  meta_timestamp: Iso | null; // Meta's timestamp of an inbound message
  created_at: Iso;
  /**
   * Outbound, once it left Parley: milliseconds from the message to the HCP's next message in their
   * conversation when that one is inbound (their answer), else null. Kept by
   * engagement/conversation-facts.store.ts (migration 0024); not current while the HCP is in `stale_conversations`.
   */
  reply_wait_ms: number | null;
  /**
   * Outbound, once it left Parley: its position among the HCP's sent messages of its Monday-to-Sunday UTC
   * week, and when the HCP's previous sent message, and previous sent message of the same template, were
   * created (engagement/analytics-figures.ts `sendingFacts`; migration 0026). Kept and marked stale like
   * `reply_wait_ms`.
   */
  week_rank: number | null;
  prev_sent_at: Iso | null;
  prev_template_sent_at: Iso | null;
  /** The market of the message's HCP (migration 0027); see `MarketOfHcp`. */
  market_code: MarketOfHcp;
}

/**
 * The kept facts of a message just written: none yet. The database marks its HCP, and the refresher of
 * engagement/conversation-facts.store.ts works them out.
 */
export const NEW_MESSAGE_FACTS = {
  reply_wait_ms: null,
  week_rank: null,
  prev_sent_at: null,
  prev_template_sent_at: null,
} as const satisfies Partial<MessagesTable>;

export interface MessageStatusEventsTable {
  id: string;
  message_id: string | null; // null until the wamid is known
  wamid: string;
  status: string;
  occurred_at: Iso; // Meta's timestamp
  error_code: number | null;
  error_title: string | null;
  recorded_at: Iso;
}

export interface PolicyDecisionsTable {
  id: string;
  requested_by: string;
  hcp_id: string;
  kind: 'check' | 'send' | 'claim';
  request_json: Json;
  outcome: 'allow' | 'deny' | 'review';
  purpose: string | null;
  reasons_json: Json;
  rulebook_version: number;
  snapshot_json: Json; // the inputs, so the decision can be explained and replayed
  message_id: string | null;
  decided_at: Iso;
  /** The template the request named, if any (also in request_json): analytics filter by brand through it. */
  template_id: string | null;
  /** The reasons' codes, comma-separated (also in reasons_json; policy `reasonCodesColumn`): analytics count by them. */
  reason_codes: string;
  /** The market of the decision's HCP (migration 0027); see `MarketOfHcp`. */
  market_code: MarketOfHcp;
}

/**
 * A copy of the row's HCP's market, kept equal to it by the database (migration 0027) so that a report by
 * market compares a column instead of searching the market's HCPs. Writers set it; a row written with
 * another (or none, as a test's fixture may) takes its HCP's.
 */
type MarketOfHcp = string | null;

export interface RulebooksTable {
  version: number;
  yaml: string;
  comment: string | null;
  created_by: string | null;
  created_at: Iso;
}

export interface OutboxTable {
  id: string;
  message_id: string;
  state: 'pending' | 'claimed' | 'done' | 'dead' | 'cancelled';
  available_at: Iso;
  attempts: number;
  claimed_by: string | null;
  claimed_until: Iso | null;
  last_error: string | null;
  created_at: Iso;
  updated_at: Iso;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  status_code: number;
  response_json: Json;
  created_at: Iso;
}

export interface TrackedLinksTable {
  code: string; // unguessable
  message_id: string;
  asset_id: string;
  hcp_id: string;
  created_at: Iso;
}

export interface CasesTable {
  id: string;
  kind: 'adverse_event' | 'medical_inquiry' | 'complaint';
  hcp_id: string | null;
  message_id: string | null;
  interaction_id: string | null;
  verbatim_enc: string;
  product: string | null;
  market_code: string | null;
  aware_at: Iso;
  due_at: Iso;
  status: 'open' | 'in_progress' | 'closed';
  owner_team: 'safety' | 'medical_information' | 'quality';
  triage_json: Json; // what matched and why
  created_at: Iso;
  updated_at: Iso;
}

export interface WebhookInboxTable {
  id: string;
  body_sha256: string; // names a delivery; not unique: events are (a retried delivery changes nothing)
  body: string; // the raw bytes as received (UTF-8)
  received_at: Iso;
  state: 'pending' | 'processed' | 'quarantined';
  attempts: number;
  processed_at: Iso | null;
  error: string | null;
}

/** One event inside a delivery (a message, a status, a preference change), deduplicated by its key. */
export interface WebhookEventsTable {
  event_key: string; // e.g. message:<wamid>, status:<wamid>:<status>
  inbox_id: string;
  kind: string;
  state: 'pending' | 'processed' | 'quarantined';
  error: string | null;
  created_at: Iso;
  processed_at: Iso | null;
}

export interface ServiceWindowsTable {
  hcp_id: string;
  phone_number_id: string;
  last_inbound_at: Iso; // Meta's timestamp of the HCP's latest message on that number
}

export interface UnknownContactsTable {
  id: string;
  wa_id_bidx: string;
  wa_id_enc: string;
  profile_name_enc: string | null;
  message_id: string;
  phone_number_id: string;
  received_at: Iso;
}

export interface AuditEventsTable {
  seq: number; // position in the chain, from 1
  id: string;
  at: Iso;
  actor_id: string | null; // null: the system itself
  actor_role: string | null;
  action: string; // e.g. consent.recorded, template.approved
  target_type: string;
  target_id: string;
  subject_id: string | null; // the HCP the event concerns, for access requests and erasure
  reason: string | null;
  changes_json: Json; // before/after of non-personal fields
  personal_ref: string | null; // audit_personal.id holding the sealed personal values
  prev_hash: string;
  hash: string;
}

/** The chain's head, one row: appending locks it, so concurrent writers cannot fork the chain. */
export interface AuditHeadTable {
  id: number; // always 1
  seq: number;
  hash: string;
}

/** Personal values that audit events point to; erasure deletes these, the chain stays whole. */
export interface AuditPersonalTable {
  id: string;
  subject_id: string;
  payload_enc: string;
  created_at: Iso;
}

/** Access denials, signature failures, throttling: outside the regulated trail. */
export interface SecurityLogTable {
  id: string;
  at: Iso;
  kind: string;
  actor_id: string | null;
  ip: string | null;
  method: string | null;
  route: string | null;
  target: string | null;
  detail_json: Json;
}

/** One run of `parley import` or `POST /api/imports/:kind` (engagement). */
export interface ImportRunsTable {
  id: string;
  kind: 'hcps' | 'territories' | 'consents' | 'interactions';
  file_name: string;
  status: 'staging' | 'applied' | 'rejected';
  total_rows: number;
  invalid_rows: number;
  inserted_rows: number;
  updated_rows: number;
  unchanged_rows: number;
  started_by: string | null;
  started_at: Iso;
  finished_at: Iso | null;
}

/**
 * An interactions import whose rows are written but not to be seen (yet): being written, or being taken
 * out again after a rejection or a crash (`discarding`). Publishing an import deletes its row.
 */
export interface UnpublishedImportsTable {
  import_id: string;
  state: 'writing' | 'discarding';
  started_at: Iso;
  /** Renewed with every batch: an import whose heartbeat stopped long ago was abandoned by its process. */
  heartbeat_at: Iso;
}

/**
 * A chunk of the timeline index not yet folded into its main part (migration 0034): an import's new rows
 * are written under a chunk of their own, which readers by HCP search beside the main part.
 */
export interface TimelineChunksTable {
  chunk: Generated<number>;
  import_id: string;
  opened_at: Iso;
}

/**
 * The volume report's figures for one UTC day and one combination of what it filters and groups by
 * (migration 0019): how many interactions, and which HCPs they reached (`seq`s, unsigned 32-bit
 * little-endian, ascending). Rebuilt a whole day at a time from `visible_interactions`.
 */
export interface InteractionDayCellsTable {
  day: string; // YYYY-MM-DD, UTC
  market_code: string; // the HCP's market when the day was counted
  channel: InteractionsTable['channel'];
  rep_id: string | null;
  template_id: string | null;
  products_json: Json;
  interactions: number;
  hcp_seqs: Buffer;
}

/**
 * The volume report's figures for one UTC month, per market, channel and rep (migration 0020): the sum
 * of its day cells' interactions and the union of their HCPs. Rebuilt a whole month at a time.
 */
export interface InteractionMonthCellsTable {
  month: string; // YYYY-MM, UTC
  market_code: string;
  channel: InteractionsTable['channel'];
  rep_id: string | null;
  interactions: number;
  hcp_seqs: Buffer;
}

/**
 * The entry that wins each HCP, channel and purpose's consent ledger (migration 0021), kept by trigger as
 * the ledger is appended to: what the consent report counts when the period ends after all of them.
 */
export interface ConsentLatestEntriesTable {
  hcp_id: string;
  channel: string;
  purpose: string;
  entry_id: string;
  status: string;
  captured_at: Iso;
  recorded_at: Iso;
  expires_at: Iso | null;
}

/** Months whose day cells changed since their month cells were built (migration 0020). */
export interface StaleInteractionMonthsTable {
  id: Generated<number>;
  month: string;
}

/**
 * Days whose cells no longer match their interactions, marked by the database's triggers (migration 0019)
 * and, for an import's new rows, by the import (0035). `import_id` is the import that wrote the row, ''
 * for any other write: a day marked only by imports still unpublished has not changed for any reader yet.
 */
export interface StaleInteractionDaysTable {
  id: Generated<number>;
  day: string;
  import_id: string;
}

/**
 * The `whatsapp` report's figures for one UTC day, HCP market and template (migration 0033): messages to
 * or from a known HCP, inbound, and outbound ones that left Parley by status (`sent` counts them all, as
 * `SENT_STATUSES` of engagement/analytics-figures.ts; `delivered` includes read ones). Rebuilt a whole day
 * at a time from `messages`.
 */
export interface MessageDayCellsTable {
  day: string; // YYYY-MM-DD, UTC
  market_code: string | null; // the HCP's market when the day was counted
  template_id: string | null;
  inbound: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
}

/** Days whose message cells no longer match their messages, marked by the database's triggers (0033). */
export interface StaleMessageDaysTable {
  id: number; // written by the triggers only
  day: string;
}

/** HCPs whose conversation changed since their `messages.reply_wait_ms` were worked out (migration 0024). */
export interface StaleConversationsTable {
  id: number; // written by the triggers only
  hcp_id: string;
}

/** Valid, normalised rows of an import waiting to be applied in one step (personal values already sealed). */
export interface ImportStagingTable {
  import_id: string;
  line: number;
  payload_json: Json;
}

/** Where the CRM sink has delivered up to, per stream: `(updated_at, id)` of the last row sent. */
export interface SinkCursorsTable {
  stream: string;
  position_json: Json;
  delivered: number;
  updated_at: Iso;
}

/** A reply that may be an opt-out, held for a person to read; sends to the HCP wait meanwhile (consent). */
export interface ConsentHoldsTable {
  id: string;
  hcp_id: string;
  message_id: string; // the inbound message that raised it
  reason: 'ambiguous_reply';
  matched: string | null; // the keyword that made it ambiguous
  status: 'open' | 'resolved';
  created_at: Iso;
  resolved_at: Iso | null;
  resolved_by: string | null;
  resolution: 'opted_out' | 'not_an_opt_out' | null;
}

/** Each status a message passes through on Parley's side, for its status history. */
export interface MessageHistoryTable {
  id: string;
  message_id: string;
  status: string;
  at: Iso;
  detail: string | null;
}

/** A paused sending number, or every send halted ('all'): what Meta's 131048, 368 and 190 lead to. */
export interface SendControlsTable {
  scope: string;
  halted_at: Iso;
  reason: string;
  error_code: number | null;
}

/** What the outbox worker decided with when it claimed a message for sending (RELIABILITY 24). */
export interface MessageSendBasesTable {
  message_id: string;
  consent_entry_id: string | null; // the grant in force (for an opt-out confirmation: the opt-out entry)
  purpose: string | null;
  rulebook_version: number;
  decided_at: Iso;
}

export interface Database {
  markets: MarketsTable;
  sending_numbers: SendingNumbersTable;
  products: ProductsTable;
  users: UsersTable;
  user_markets: UserMarketsTable;
  territories: TerritoriesTable;
  user_territories: UserTerritoriesTable;
  sessions: SessionsTable;
  hcps: HcpsTable;
  hcp_territories: HcpTerritoriesTable;
  consent_entries: ConsentEntriesTable;
  preferences: PreferencesTable;
  templates: TemplatesTable;
  assets: AssetsTable;
  content_signatures: ContentSignaturesTable;
  interactions: InteractionsTable;
  /** A view: the interactions every reader sees (none of an unpublished import's). Never written. */
  visible_interactions: InteractionsTable;
  messages: MessagesTable;
  message_status_events: MessageStatusEventsTable;
  policy_decisions: PolicyDecisionsTable;
  rulebooks: RulebooksTable;
  outbox: OutboxTable;
  idempotency_keys: IdempotencyKeysTable;
  tracked_links: TrackedLinksTable;
  cases: CasesTable;
  webhook_inbox: WebhookInboxTable;
  webhook_events: WebhookEventsTable;
  service_windows: ServiceWindowsTable;
  unknown_contacts: UnknownContactsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  audit_personal: AuditPersonalTable;
  security_log: SecurityLogTable;
  message_history: MessageHistoryTable;
  send_controls: SendControlsTable;
  import_runs: ImportRunsTable;
  import_staging: ImportStagingTable;
  unpublished_imports: UnpublishedImportsTable;
  timeline_chunks: TimelineChunksTable;
  interaction_day_cells: InteractionDayCellsTable;
  stale_interaction_days: StaleInteractionDaysTable;
  stale_conversations: StaleConversationsTable;
  message_day_cells: MessageDayCellsTable;
  stale_message_days: StaleMessageDaysTable;
  interaction_month_cells: InteractionMonthCellsTable;
  stale_interaction_months: StaleInteractionMonthsTable;
  consent_latest_entries: ConsentLatestEntriesTable;
  sink_cursors: SinkCursorsTable;
  consent_holds: ConsentHoldsTable;
  message_send_bases: MessageSendBasesTable;
}
