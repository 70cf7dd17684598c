import { z } from 'zod';

/**
 * The shape of Parley's rulebook: what compliance may set, validated with zod when a version is loaded or
 * saved. A rulebook has `global` rules and optional `markets.<CODE>` overrides that are deep-merged over
 * them (see `rulesForMarket`). Every field of `global` is required so that a market override can never
 * leave a rule undefined; overrides are partial.
 */

export const CONSENT_CHANNELS = ['whatsapp', 'email', 'phone', 'sms'] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

/** Channels the channel mix may name: the consent channels plus those that need no messaging consent. */
export const MIX_CHANNELS = [
  ...CONSENT_CHANNELS,
  'f2f',
  'virtual',
  'event',
  'web',
  'medical_information_team',
] as const;
export type MixChannel = (typeof MIX_CHANNELS)[number];

export const PURPOSES = [
  'promotional',
  'non_promotional',
  'service',
  'medical_information',
  'events',
] as const;
export type Purpose = (typeof PURPOSES)[number];

export const MESSAGE_TYPES = [
  'reminder',
  'confirmation',
  'follow_up',
  'recap',
  'resource_link',
  'event_invite',
  'opt_in_request',
  'service',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const CLASSIFICATIONS = ['promotional', 'non_promotional'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** Kinds of outbound message that the frequency caps may exempt. */
export const CAP_EXEMPTIONS = ['opt_out_confirmation', 'reply_in_window', 'medical_information'] as const;
export type CapExemption = (typeof CAP_EXEMPTIONS)[number];

/**
 * A message's statuses in the order of its life (CONTRACT.md: queued < sending < sent < delivered < read),
 * before whatever ends it. The rulebook's vocabulary of statuses starts here; messaging orders a message's
 * status history by it.
 */
export const MESSAGE_LIFECYCLE = [
  'pending_review',
  'scheduled',
  'queued',
  'sending',
  'unknown',
  'sent',
  'delivered',
  'read',
] as const;

/** Message statuses that hold a slot under the caps (reservations included). */
export const COUNTED_STATUSES = [...MESSAGE_LIFECYCLE, 'failed', 'cancelled'] as const;

/** The signals of first triage (assistant's lexicons) that the rulebook may add words to. */
export const TRIAGE_SIGNALS = [
  'adverse_reaction',
  'pregnancy_exposure',
  'breastfeeding_exposure',
  'overdose',
  'medication_error',
  'misuse',
  'lack_of_efficacy',
  'off_label_use',
  'medical_question',
  'product_complaint',
] as const;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time of day as HH:MM (24 h)');
const roles = z.enum(['rep', 'manager', 'msl', 'pv', 'compliance', 'brand', 'medical', 'digital', 'admin']);
const wordList = z.array(z.string().min(1));
/** Language tag → words, e.g. `pt: [PARAR, SAIR]`. */
const wordsByLanguage = z.record(
  z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]+)*$/, 'expected a language tag'),
  wordList,
);
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

const purposeByClassification = z.strictObject({
  non_promotional: z.enum(PURPOSES),
  promotional: z.enum(PURPOSES),
});

export const rulesSchema = z.strictObject({
  /** Template type × classification → the consent purpose the message needs. */
  purposes: z.strictObject(
    Object.fromEntries(MESSAGE_TYPES.map((t) => [t, purposeByClassification])) as Record<
      MessageType,
      typeof purposeByClassification
    >,
  ),
  /** The purpose of free text written by a rep inside the customer-service window. */
  free_text_purpose: z.enum(PURPOSES),
  /** Purpose → channels allowed for it, in order of preference; the first ones are offered as alternatives. */
  channel_mix: z.strictObject(
    Object.fromEntries(PURPOSES.map((p) => [p, z.array(z.enum(MIX_CHANNELS)).min(1)])) as Record<
      Purpose,
      z.ZodArray<z.ZodEnum<{ [K in MixChannel]: K }>>
    >,
  ),
  /** Channel → message types that may be sent on it. */
  message_types: z.strictObject({ whatsapp: z.array(z.enum(MESSAGE_TYPES)) }),
  format: z.strictObject({
    links_not_files: z.boolean(),
    max_assets: nonNegativeInt,
    promotional_requires_pi_link: z.boolean(),
  }),
  frequency: z.strictObject({
    per_hcp: z.strictObject({
      rolling_hours: positiveInt,
      max_in_rolling: nonNegativeInt,
      max_per_local_day: nonNegativeInt,
    }),
    per_rep: z.strictObject({ rolling_hours: positiveInt, max_in_rolling: nonNegativeInt }),
    /** Statuses that hold a slot: queued and scheduled messages reserve one; a cancelled one frees it. */
    counted_statuses: z.array(z.enum(COUNTED_STATUSES)).min(1),
    exempt: z.array(z.enum(CAP_EXEMPTIONS)),
    /** Whether an HCP's own limit (preferences) applies on top of the rulebook's. */
    honour_hcp_limit: z.boolean(),
  }),
  quiet_hours: z.strictObject({
    enabled: z.boolean(),
    start: hhmm,
    end: hhmm,
    weekend_days: z.boolean(),
    public_holidays: z.boolean(),
    /** A reply within this many minutes of the HCP's own message ignores quiet hours and contact windows. */
    reply_exemption_minutes: nonNegativeInt,
  }),
  contact_windows: z.strictObject({ enforce: z.boolean() }),
  preferences: z.strictObject({ enforce_preferred_channel: z.boolean() }),
  promotional: z.strictObject({
    /** Promotional content on WhatsApp at all (a per-market legal decision). */
    whatsapp_allowed: z.boolean(),
  }),
  meta: z.strictObject({
    /** Meta's user_preferences marketing stop blocks marketing-category templates. */
    marketing_stop_blocks: z.boolean(),
    /** Country calling codes that never receive marketing-category templates (e.g. "1"). */
    no_marketing_calling_codes: z.array(z.string().regex(/^\d{1,4}$/, 'expected digits of a calling code')),
  }),
  service_window: z.strictObject({
    hours: positiveInt,
    free_text_allowed: z.boolean(),
    free_text_review: z.boolean(),
  }),
  duplicates: z.strictObject({ same_template_within_days: nonNegativeInt }),
  opt_in: z.strictObject({ min_days_between: nonNegativeInt, max_ever: nonNegativeInt }),
  language: z.strictObject({ match: z.enum(['exact', 'primary']) }),
  review: z.strictObject({
    /** Message types always held for a human before sending. */
    message_types: z.array(z.enum(MESSAGE_TYPES)),
    promotional: z.boolean(),
  }),
  approvers: z.strictObject({ roles: z.array(roles).min(1) }),
  tone: z.strictObject({ emoji: z.boolean(), abbreviations: z.boolean(), slang: z.boolean() }),
  keywords: z.strictObject({ opt_out: wordsByLanguage, opt_in: wordsByLanguage }),
  retention: z.strictObject({
    messages_days: positiveInt,
    decisions_days: positiveInt,
    interactions_days: positiveInt,
    webhook_inbox_days: positiveInt,
    security_log_days: positiveInt,
  }),
  /** Words added to first triage's lexicons: language → signal → words (normalised form, `*` ends a stem). */
  triage: z.record(
    z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]+)*$/, 'expected a language tag'),
    z.partialRecord(z.enum(TRIAGE_SIGNALS), wordList),
  ),
});

/** The rules in force for one market: `global` with that market's override merged over it. */
export type Rules = z.infer<typeof rulesSchema>;

type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
export type RulesOverride = DeepPartial<Rules>;

/** The document as written: a description, the global rules and per-market overrides. */
export const rulebookDocumentSchema = z.strictObject({
  description: z.string().optional(),
  global: rulesSchema,
  markets: z
    .record(z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 market code'), z.unknown())
    .optional(),
});

export type RulebookDocument = {
  description?: string;
  global: Rules;
  markets?: Record<string, RulesOverride>;
};
