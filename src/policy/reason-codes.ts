/**
 * The stable reason codes of a policy decision (CONTRACT.md "Policy decision"), plus those added as rules
 * grew. A code is never reused for another meaning; integrations and the compliance console read them.
 */
export const REASON_CODES = [
  // CONTRACT.md
  'consent_missing',
  'consent_pending',
  'consent_withdrawn',
  'consent_expired',
  'marketing_opted_out',
  'not_assigned',
  'no_whatsapp_number',
  'template_not_approved',
  'template_not_approved_by_meta',
  'template_expired',
  'template_market_mismatch',
  'language_mismatch',
  'invalid_parameter',
  'asset_not_approved',
  'asset_expired',
  'too_many_assets',
  'attachment_not_allowed',
  'frequency_cap',
  'rep_cap',
  'quiet_hours',
  'outside_contact_window',
  'window_closed',
  'promotional_without_consent',
  'promotional_not_allowed',
  'duplicate_message',
  'channel_not_preferred',
  'needs_review',
  // Added with the rulebook (documented in docs/rulebook.md)
  'consent_refused',
  'consent_hold',
  'channel_not_allowed',
  'message_type_not_allowed',
  'pi_link_missing',
  'marketing_not_allowed_for_number',
  'opt_in_limit',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** Reasons that only hold a message for a person; every other reason denies it. */
export const REVIEW_CODES: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['needs_review']);

/** Reasons that pass with time alone, for which a decision computes `nextAllowedAt`. */
export const TIMED_CODES: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'frequency_cap',
  'rep_cap',
  'quiet_hours',
  'outside_contact_window',
  'duplicate_message',
  'opt_in_limit',
]);

/**
 * A decision's reason codes as one column value (`policy_decisions.reason_codes`, migration 0025): the
 * codes in the decision's order, comma-separated; empty for none. Codes are lower-case words, never commas.
 */
export function reasonCodesColumn(reasons: readonly { code: string }[]): string {
  return reasons.map((r) => r.code).join(',');
}
