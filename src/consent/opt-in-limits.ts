/**
 * How often Parley may ask an HCP to opt in. Asking is itself a message to someone who has not agreed to
 * messages, so it is limited on its own, apart from every other cap. Pure: the caller passes the times of
 * the opt-in requests already sent or reserved (queued, scheduled) and `now`.
 */

export interface OptInRequestLimits {
  /** At most one request within this many days of the previous one. */
  minDaysBetween: number;
  /** At most this many requests, ever. */
  maxEver: number;
}

/** The default: one request per 30 days, three ever. */
export const DEFAULT_OPT_IN_REQUEST_LIMITS: OptInRequestLimits = { minDaysBetween: 30, maxEver: 3 };

export type OptInRequestCheck =
  | { allowed: true }
  | { allowed: false; reason: 'opt_in_request_limit'; sent: number; limit: number }
  | { allowed: false; reason: 'opt_in_request_too_soon'; lastAt: string; nextAllowedAt: string };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Whether another opt-in request may go to the HCP at `now`, given the times of the previous ones
 * (cancelled requests excluded by the caller: a request cancelled before sending frees its slot).
 * A request counts from the moment it was created, so a queued one already blocks a second.
 */
export function checkOptInRequestLimits(
  previousRequestTimes: readonly string[],
  now: Date,
  limits: OptInRequestLimits = DEFAULT_OPT_IN_REQUEST_LIMITS,
): OptInRequestCheck {
  if (previousRequestTimes.length >= limits.maxEver)
    return {
      allowed: false,
      reason: 'opt_in_request_limit',
      sent: previousRequestTimes.length,
      limit: limits.maxEver,
    };
  const last = Math.max(...previousRequestTimes.map((t) => new Date(t).getTime()));
  if (previousRequestTimes.length > 0) {
    const next = last + limits.minDaysBetween * DAY_MS;
    if (now.getTime() < next)
      return {
        allowed: false,
        reason: 'opt_in_request_too_soon',
        lastAt: new Date(last).toISOString(),
        nextAllowedAt: new Date(next).toISOString(),
      };
  }
  return { allowed: true };
}
