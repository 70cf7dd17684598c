/**
 * The closed set of failure codes any capability may raise. Each maps to one HTTP status in
 * platform/http/error-map.ts; the map is a `Record` over this union, so a code without a status fails the
 * build. Decisions ("not allowed to send") are values, not errors: see policy.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'bad_request'
  | 'unauthenticated'
  | 'invalid_signature'
  | 'e_signature_failed'
  | 'forbidden'
  | 'csrf_rejected'
  | 'not_found'
  | 'conflict'
  | 'invalid_transition'
  | 'legal_hold'
  | 'idempotency_key_reused'
  | 'policy_denied'
  | 'unprocessable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** A failure with a stable code, a sentence for people and optional structured details. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}

/** The common case, worded once: an HCP, template, message … that does not exist or is out of scope. */
export function notFound(what: string): DomainError {
  return new DomainError('not_found', `${what} not found`);
}
