import { DateTime } from 'luxon';
import type { ContentKind, ContentStatus } from './content-model.js';

/**
 * The MLR review workflow's pure heart:
 *
 *   draft → in_review → approved → superseded | expired | withdrawn
 *                     ↘ rejected (with the reviewer's comments)
 *
 * - the author submits; drafts and pieces in review may be withdrawn by their author or by compliance;
 * - approvers are the roles the market requires (default: compliance). Each required role signs once,
 *   with an electronic signature; the piece is approved when every required role has signed;
 * - an author never approves (or rejects) own work, and an approver signs only for the markets they work;
 * - an approved piece is withdrawn by compliance (or a required approver role), or superseded when a newer
 *   version of its key is approved, or expires on its date with no one acting.
 * No IO, no clock: `now` is handed in.
 */

export type ReviewAction = 'submit' | 'approve' | 'reject' | 'withdraw';

export interface ReviewSubject {
  kind: ContentKind;
  /** The stored status (expiry is applied here, from `expiresAt`). */
  status: ContentStatus;
  expiresAt: string | null;
  authorId: string;
  market: string;
}

export interface Reviewer {
  id: string;
  role: string;
  marketCodes: readonly string[];
}

export interface ApprovalProgress {
  /** Roles whose signature the market requires (default: compliance). */
  requiredRoles: readonly string[];
  /** Signatures already on this version: who signed, for which role. */
  signatures: ReadonlyArray<{ signerId: string; role: string | null }>;
}

export type ReviewStep =
  | { ok: true; next: ContentStatus; signsFor?: string }
  | { ok: false; code: 'forbidden' | 'invalid_transition'; message: string };

/** The default approver roles when the rulebook names none for a market. */
export const DEFAULT_APPROVER_ROLES: readonly string[] = ['compliance'];

/**
 * The status a reader sees at `now`: an approved piece whose expiry has been reached reads `expired`
 * even before the expiry job has written it, so there is never a window in which expired content is usable.
 */
export function effectiveStatus(status: ContentStatus, expiresAt: string | null, now: Date): ContentStatus {
  if (status === 'approved' && expiresAt !== null && expiresAt <= now.toISOString()) return 'expired';
  return status;
}

/** Whether a piece may be used in a message at `now` (approved and not expired). */
export function isUsable(status: ContentStatus, expiresAt: string | null, now: Date): boolean {
  return effectiveStatus(status, expiresAt, now) === 'approved';
}

/**
 * Decides one review step. Refusals are values with a code the caller turns into its error: `forbidden`
 * for who may not do it (an author approving own work), `invalid_transition` for a state that does not
 * allow it.
 */
export function checkReviewStep(
  action: ReviewAction,
  subject: ReviewSubject,
  reviewer: Reviewer,
  now: Date,
  approval: ApprovalProgress = { requiredRoles: DEFAULT_APPROVER_ROLES, signatures: [] },
): ReviewStep {
  const status = effectiveStatus(subject.status, subject.expiresAt, now);
  const isAuthor = reviewer.id === subject.authorId;
  const pastExpiry = subject.expiresAt !== null && subject.expiresAt <= now.toISOString();
  const refuse = (code: 'forbidden' | 'invalid_transition', message: string): ReviewStep => ({
    ok: false,
    code,
    message,
  });

  switch (action) {
    case 'submit':
      if (!isAuthor) return refuse('forbidden', `Only the author submits a ${subject.kind} for review.`);
      if (status !== 'draft')
        return refuse('invalid_transition', `A ${status} ${subject.kind} cannot be submitted.`);
      if (pastExpiry)
        return refuse('invalid_transition', `The ${subject.kind}'s expiry date has already passed.`);
      return { ok: true, next: 'in_review' };

    case 'approve':
    case 'reject': {
      if (isAuthor) return refuse('forbidden', `An author never ${action}s own work.`);
      if (!approval.requiredRoles.includes(reviewer.role))
        return refuse(
          'forbidden',
          `In ${subject.market} a ${subject.kind} is reviewed by ${approval.requiredRoles.join(', ')}, not ${reviewer.role}.`,
        );
      if (!reviewer.marketCodes.includes(subject.market))
        return refuse('forbidden', `You do not review content for ${subject.market}.`);
      if (status !== 'in_review')
        return refuse('invalid_transition', `A ${status} ${subject.kind} cannot be ${action}d.`);
      if (action === 'reject') return { ok: true, next: 'rejected' };
      if (pastExpiry)
        return refuse('invalid_transition', `The ${subject.kind}'s expiry date has already passed.`);
      if (approval.signatures.some((s) => s.signerId === reviewer.id))
        return refuse('invalid_transition', 'You have already signed this version.');
      if (approval.signatures.some((s) => s.role === reviewer.role))
        return refuse('invalid_transition', `The ${reviewer.role} signature is already on this version.`);
      const signed = new Set([...approval.signatures.map((s) => s.role), reviewer.role]);
      const complete = approval.requiredRoles.every((r) => signed.has(r));
      return { ok: true, next: complete ? 'approved' : 'in_review', signsFor: reviewer.role };
    }

    case 'withdraw':
      if (status === 'approved') {
        if (reviewer.role !== 'compliance' && !approval.requiredRoles.includes(reviewer.role))
          return refuse('forbidden', `Only compliance withdraws an approved ${subject.kind}.`);
        if (!reviewer.marketCodes.includes(subject.market))
          return refuse('forbidden', `You do not review content for ${subject.market}.`);
        return { ok: true, next: 'withdrawn' };
      }
      if (status === 'draft' || status === 'in_review') {
        if (!isAuthor && reviewer.role !== 'compliance')
          return refuse('forbidden', `Only the author or compliance withdraws a ${status} ${subject.kind}.`);
        return { ok: true, next: 'withdrawn' };
      }
      return refuse('invalid_transition', `A ${status} ${subject.kind} cannot be withdrawn.`);
  }
}

/**
 * What an approval signature means, in words the record keeps: "approved for use in BR", with the
 * reviewing role named when a market requires more than one signature.
 */
export function approvalMeaning(market: string, role: string, requiredRoles: readonly string[]): string {
  const base = `approved for use in ${market}`;
  return requiredRoles.length > 1 ? `${base} (${role} review)` : base;
}

/**
 * The approval code given to an approved version when the approver does not type the code of their MLR
 * system: stable and readable, e.g. `BR-VISITA-LEMBRETE-V3`.
 */
export function defaultApprovalCode(market: string, key: string, version: number): string {
  return `${market}-${key.toUpperCase().replace(/[^A-Z0-9]+/g, '-')}-V${version}`;
}

/**
 * The expiry instant of a piece, as stored (ISO-8601 UTC). A date (`2026-06-30`) means the piece expires
 * at the start of that day in the market's time zone ("expires on its date"); a full date-time with an
 * offset is taken as is. Undefined when the text is neither.
 */
export function expiryInstant(input: string, marketTimeZone: string): string | undefined {
  const asDate = /^\d{4}-\d{2}-\d{2}$/.test(input)
    ? DateTime.fromISO(input, { zone: marketTimeZone }).startOf('day')
    : DateTime.fromISO(input, { setZone: true });
  if (!asDate.isValid) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(input)) return undefined;
  return asDate.toUTC().toISO() ?? undefined;
}
