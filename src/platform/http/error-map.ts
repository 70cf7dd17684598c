import type { ErrorCode } from '../errors/index.js';

/** Every domain error code and its HTTP status, in one place; a code missing here fails the build. */
export const httpStatusOf: Record<ErrorCode, number> = {
  validation_failed: 400,
  bad_request: 400,
  unauthenticated: 401,
  invalid_signature: 401,
  e_signature_failed: 401,
  forbidden: 403,
  csrf_rejected: 403,
  not_found: 404,
  conflict: 409,
  invalid_transition: 409,
  legal_hold: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  policy_denied: 422,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};
