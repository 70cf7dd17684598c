/**
 * The consent ledger's pure heart: what an entry is, and how the append-only ledger folds into the
 * consent in force at a moment. No IO, no clock: every function is handed `now` (or `at`).
 *
 * How the fold reads the ledger (the compliance rule, in one place):
 * - only entries Parley knew of at the moment count: captured at or before it AND recorded at or before it,
 *   so "what was our basis at 10:00" never leans on a form typed in at 11:00;
 * - per channel × purpose, the entry captured last decides; entries captured at the same instant are
 *   ordered restrictive-first-loses: a withdrawal or refusal outranks a grant at the same instant
 *   (withdrawing is never harder than granting), then the entry id breaks any remaining tie;
 * - a grant (or a pending verbal grant) whose expiry has been reached is `expired` from that instant on;
 * - a verbal grant is recorded as `pending` and becomes `granted` only through a later double opt-in.
 */

export const CONSENT_CHANNELS = ['whatsapp', 'email', 'phone', 'sms'] as const;
export const CONSENT_PURPOSES = [
  'promotional',
  'non_promotional',
  'service',
  'medical_information',
  'events',
] as const;
export const CONSENT_SOURCES = [
  'written_form',
  'web_form',
  'verbal',
  'whatsapp_reply',
  'double_opt_in',
  'crm_import',
] as const;
/** What may be posted: `pending` is never posted, it is what a verbal grant becomes. */
export const POSTED_CONSENT_STATUSES = ['granted', 'withdrawn', 'refused'] as const;
export const ENTRY_STATUSES = ['granted', 'pending', 'withdrawn', 'refused'] as const;

export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
export type ConsentSource = (typeof CONSENT_SOURCES)[number];
export type PostedConsentStatus = (typeof POSTED_CONSENT_STATUSES)[number];
export type EntryStatus = (typeof ENTRY_STATUSES)[number];
export type CurrentConsentStatus = 'none' | EntryStatus | 'expired';

/** One row of the ledger, as the API shows it (CONTRACT.md "Consent entry"). */
export interface ConsentEntry {
  id: string;
  hcpId: string;
  channel: ConsentChannel;
  purpose: ConsentPurpose;
  status: EntryStatus;
  source: ConsentSource;
  /** The user who captured it; null when the HCP gave it themselves (a WhatsApp reply). */
  capturedBy: string | null;
  /** When the HCP gave, refused or withdrew it (ISO-8601 UTC). */
  capturedAt: string;
  evidence: string | null;
  wordingVersion: string | null;
  /** Parley's message id when the entry came from a WhatsApp reply. */
  messageId: string | null;
  expiresAt: string | null;
  /** When Parley wrote it down (ISO-8601 UTC). */
  recordedAt: string;
}

/** The consent in force for one channel × purpose, and since when. */
export interface CurrentConsent {
  channel: ConsentChannel;
  purpose: ConsentPurpose;
  status: CurrentConsentStatus;
  /** When the deciding entry was captured (or, for `expired`, when it expired); null for `none`. */
  since: string | null;
  /** The entry that decides it; null for `none`. */
  entryId: string | null;
}

// Lower rank sorts first, so at an equal instant the more restrictive entry is applied last and wins.
const RANK_AT_EQUAL_TIME: Record<EntryStatus, number> = { pending: 0, granted: 1, refused: 2, withdrawn: 3 };

function ms(iso: string): number {
  return new Date(iso).getTime();
}

/** Whether Parley knew of the entry at `at`: captured and recorded at or before it. */
function isKnownAt(entry: ConsentEntry, at: number): boolean {
  return ms(entry.capturedAt) <= at && ms(entry.recordedAt) <= at;
}

/**
 * The ledger in the order the fold applies it: by capture time, then restrictive last at an equal
 * instant, then by id. A total order, so the fold never depends on insertion order.
 */
export function orderLedger(entries: readonly ConsentEntry[]): ConsentEntry[] {
  return [...entries].sort(
    (a, b) =>
      ms(a.capturedAt) - ms(b.capturedAt) ||
      RANK_AT_EQUAL_TIME[a.status] - RANK_AT_EQUAL_TIME[b.status] ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** The entry that decides one channel × purpose at `at`, before expiry is considered. */
function decidingEntry(
  entries: readonly ConsentEntry[],
  channel: ConsentChannel,
  purpose: ConsentPurpose,
  at: number,
): ConsentEntry | undefined {
  const relevant = entries.filter((e) => e.channel === channel && e.purpose === purpose && isKnownAt(e, at));
  return orderLedger(relevant).at(-1);
}

/**
 * Folds the ledger into the consent in force for one channel × purpose at `now`.
 * `none` when nothing is recorded; `expired` when the deciding grant's expiry is at or before `now`.
 */
export function foldConsent(
  entries: readonly ConsentEntry[],
  channel: ConsentChannel,
  purpose: ConsentPurpose,
  now: Date,
): CurrentConsent {
  const at = now.getTime();
  const entry = decidingEntry(entries, channel, purpose, at);
  if (!entry) return { channel, purpose, status: 'none', since: null, entryId: null };
  const grantLike = entry.status === 'granted' || entry.status === 'pending';
  if (grantLike && entry.expiresAt !== null && ms(entry.expiresAt) <= at)
    return { channel, purpose, status: 'expired', since: entry.expiresAt, entryId: entry.id };
  return { channel, purpose, status: entry.status, since: entry.capturedAt, entryId: entry.id };
}

/** Every channel × purpose, folded at `now`: `none` where nothing is recorded. */
export function currentConsent(entries: readonly ConsentEntry[], now: Date): CurrentConsent[] {
  return CONSENT_CHANNELS.flatMap((channel) =>
    CONSENT_PURPOSES.map((purpose) => foldConsent(entries, channel, purpose, now)),
  );
}

/**
 * On what basis could Parley send on `channel` for `purpose` at `at`: the id of the grant in force then,
 * or null when there was none (nothing recorded, pending, withdrawn, refused or expired). This is the
 * join RELIABILITY 24 asks for: every sent message names the entry that allowed it.
 */
export function consentBasisAt(
  entries: readonly ConsentEntry[],
  channel: ConsentChannel,
  purpose: ConsentPurpose,
  at: Date,
): string | null {
  const current = foldConsent(entries, channel, purpose, at);
  return current.status === 'granted' ? current.entryId : null;
}

/** A new entry as a person or a reply states it, before Parley turns it into a ledger row. */
export interface ConsentStatement {
  channel: ConsentChannel;
  purpose: ConsentPurpose;
  status: PostedConsentStatus;
  source: ConsentSource;
  evidence?: string | null;
  wordingVersion?: string | null;
  expiresAt?: string | null;
  capturedAt?: string | null;
}

/** What a statement becomes in the ledger, or why it cannot be recorded. */
export type StatementCheck =
  { ok: true; status: EntryStatus; capturedAt: string } | { ok: false; field: string; message: string };

/**
 * Checks a statement against the ledger's rules and says which status it is stored with:
 * a grant needs evidence; a verbal grant is stored `pending` until a double opt-in confirms it;
 * nothing is captured in the future; an expiry falls after the capture.
 */
export function checkStatement(statement: ConsentStatement, now: Date): StatementCheck {
  const capturedAt = statement.capturedAt ?? now.toISOString();
  if (ms(capturedAt) > now.getTime())
    return { ok: false, field: 'capturedAt', message: 'Consent cannot be captured in the future.' };
  if (statement.status === 'granted') {
    if (!statement.evidence || statement.evidence.trim() === '')
      return {
        ok: false,
        field: 'evidence',
        message: 'A grant needs evidence: a document reference, the wording version shown or a message id.',
      };
    if (statement.expiresAt && ms(statement.expiresAt) <= ms(capturedAt))
      return { ok: false, field: 'expiresAt', message: 'The expiry must fall after the capture.' };
  }
  const status: EntryStatus =
    statement.status === 'granted' && statement.source === 'verbal' ? 'pending' : statement.status;
  return { ok: true, status, capturedAt: new Date(capturedAt).toISOString() };
}
