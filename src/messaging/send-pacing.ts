/**
 * Pacing of sends from Parley's side, so Meta's limits are never the thing that stops us (issue 5 item 9):
 * - per sending number: at most `perNumberPerSecond` sends in any one-second window (Meta: 80 mps by
 *   default, up to 1,000);
 * - per recipient: at least `pairSpacingMs` between two sends to the same HCP (Meta's pair limit is
 *   about one message every 6 s).
 * A `SendPacer` answers "may this send go now?" and, when not, when it may. It keeps times in memory and
 * takes `now` from the caller, so it is deterministic in tests; one pacer is shared by every worker of a
 * process. (Across several Parley instances each takes a share of the number's rate: see docs.)
 */
export interface PacingLimits {
  perNumberPerSecond: number;
  pairSpacingMs: number;
}

export const DEFAULT_PACING: PacingLimits = { perNumberPerSecond: 80, pairSpacingMs: 6000 };

export type PacingVerdict = { ok: true } | { ok: false; retryAt: number; limit: 'number_rate' | 'pair_rate' };

export class SendPacer {
  private readonly byNumber = new Map<string, number[]>();
  private readonly byPair = new Map<string, number>();

  constructor(private readonly limits: PacingLimits = DEFAULT_PACING) {}

  /** Takes a slot when one is free (and records it); otherwise says when to come back. */
  take(phoneNumberId: string, recipient: string, now: number): PacingVerdict {
    const pairKey = `${phoneNumberId}:${recipient}`;
    const lastToRecipient = this.byPair.get(pairKey);
    if (lastToRecipient !== undefined && now - lastToRecipient < this.limits.pairSpacingMs) {
      return { ok: false, retryAt: lastToRecipient + this.limits.pairSpacingMs, limit: 'pair_rate' };
    }
    const recent = (this.byNumber.get(phoneNumberId) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= this.limits.perNumberPerSecond) {
      this.byNumber.set(phoneNumberId, recent);
      return { ok: false, retryAt: recent[0]! + 1000, limit: 'number_rate' };
    }
    recent.push(now);
    this.byNumber.set(phoneNumberId, recent);
    this.byPair.set(pairKey, now);
    if (this.byPair.size > 100_000) this.forgetPairsBefore(now - this.limits.pairSpacingMs);
    return { ok: true };
  }

  /** Hands a slot back when the send did not happen after all (e.g. the decision changed). */
  release(phoneNumberId: string, recipient: string, at: number): void {
    const recent = this.byNumber.get(phoneNumberId);
    const i = recent?.lastIndexOf(at) ?? -1;
    if (recent && i >= 0) recent.splice(i, 1);
    if (this.byPair.get(`${phoneNumberId}:${recipient}`) === at)
      this.byPair.delete(`${phoneNumberId}:${recipient}`);
  }

  private forgetPairsBefore(t: number): void {
    for (const [k, v] of this.byPair) if (v < t) this.byPair.delete(k);
  }
}
