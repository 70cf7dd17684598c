import { MESSAGE_LIFECYCLE } from '../policy/index.js';

/** One step of a message's life as the API lists it (CONTRACT.md "Message", `statusHistory`). */
export interface StatusStep {
  status: string;
  at: string;
  detail?: string;
}

/** Where a status stands in a message's life. */
const rankOf = (status: string) => {
  const rank = (MESSAGE_LIFECYCLE as readonly string[]).indexOf(status);
  // Terminal or unforeseen statuses (failed, cancelled, expired) come after the life they end.
  return rank === -1 ? MESSAGE_LIFECYCLE.length : rank;
};

/**
 * Parley's own steps (exact to the millisecond) and Meta's status webhooks (whole seconds, as Meta's
 * timestamps are) as one history: by time to the second, then by where a status stands in a message's
 * life, then by exact time. By exact time alone, Meta's `sent` at 10:00:39.000 would come before Parley's
 * own `queued` at 10:00:39.512 of the same message. Each status is listed once, at its first report
 * (Parley records `sent` on acceptance and Meta confirms it by webhook).
 */
export function statusHistoryOf(parley: readonly StatusStep[], meta: readonly StatusStep[]): StatusStep[] {
  const second = (at: string) => at.slice(0, 19);
  const seen = new Set<string>();
  return [...parley, ...meta]
    .sort(
      (a, b) =>
        second(a.at).localeCompare(second(b.at)) ||
        rankOf(a.status) - rankOf(b.status) ||
        a.at.localeCompare(b.at),
    )
    .filter((step) => (seen.has(step.status) ? false : (seen.add(step.status), true)));
}
