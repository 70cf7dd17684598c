/**
 * How a message's status moves: forward only. Meta delivers status webhooks unordered, duplicated and
 * sometimes skips one (`delivered` is implied by `read`), so each incoming status is folded into the
 * current one and the higher wins. `failed` and `cancelled` are terminal: nothing moves a message out of
 * them. `played` (a voice message was played) is recorded as an event but is not a message state.
 */

const RANK: Record<string, number> = {
  pending_review: 0,
  scheduled: 1,
  queued: 2,
  sending: 3,
  unknown: 4,
  sent: 5,
  delivered: 6,
  read: 7,
};

const TERMINAL = new Set(['failed', 'cancelled']);

/** Whether a status is one a message can be in after a status webhook (`played` is not). */
export function isMessageState(status: string): boolean {
  return status in RANK || TERMINAL.has(status);
}

/**
 * The status a message moves to when `incoming` arrives while it is `current`: the higher of the two in
 * `queued < sending < unknown < sent < delivered < read`; `failed` wins over any non-terminal state; a
 * terminal state never changes. Returns `current` when nothing moves.
 */
export function advanceStatus(current: string, incoming: string): string {
  if (TERMINAL.has(current)) return current;
  if (incoming === 'failed') return 'failed';
  const from = RANK[current];
  const to = RANK[incoming];
  if (to === undefined) return current;
  if (from === undefined || to > from) return incoming;
  return current;
}
