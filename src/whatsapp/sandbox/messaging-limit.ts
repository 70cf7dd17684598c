/**
 * Meta's messaging limit ("tier"), as the stand-in plays it (CLOUD-API.md §5.7, Meta doc
 * `/messaging-limits`): the number of **unique** WhatsApp users a business portfolio may deliver messages
 * to **outside a customer-service window** in a **moving 24 hours**, shared by every number of the
 * portfolio. Ladder: 250 (new portfolio) → 2,000 → 10,000 → 100,000 → unlimited. Pure: times are passed in.
 */

/** A portfolio's limit: unique recipients per moving 24 h, or no limit. Tests may use any positive count. */
export type MessagingLimit = number | 'unlimited';

/** Meta's ladder, lowest first. */
export const MESSAGING_LIMIT_LADDER: readonly MessagingLimit[] = [250, 2000, 10_000, 100_000, 'unlimited'];

/** A newly created business portfolio starts here. */
export const NEW_PORTFOLIO_MESSAGING_LIMIT: MessagingLimit = 250;

export const MESSAGING_LIMIT_WINDOW_MS = 24 * 3600_000;

/**
 * What the stand-in answers to a send that would take the portfolio past its limit — the one place to
 * correct if Meta's real answer turns out to differ.
 *
 * What is documented: Meta's own pages (messaging-limits, error-codes) say nothing about the answer.
 * Sinch's copy of Meta's messaging-limits page says that past the limit "any further messages you send to
 * new users (that you have not messaged previously, within a 24-hour period) will fail" with the text
 * below, which is word for word Meta's `error_data.details` of **131048** ("Spam rate limit hit"); Twilio
 * maps 471, the On-Premises twin of 131048, to its 63018 whose documented cause includes "your WhatsApp
 * sender has exceeded the messaging limit imposed by WhatsApp".
 *
 * ASSUMPTION (not documented anywhere we could read): that the Cloud API refuses the send **synchronously**
 * (HTTP 400, Meta's error object) rather than accepting it and sending a `failed` status webhook. Set
 * `delivery: 'async'` to play the other reading; both paths are implemented.
 */
export const MESSAGING_LIMIT_REFUSAL = {
  code: 131048,
  title: 'Spam rate limit hit',
  details:
    'Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.',
  delivery: 'sync' as 'sync' | 'async',
} as const;

/** Meta's names for a limit (`whatsapp_business_manager_messaging_limit`, `messaging_limit_tier`). */
export function messagingLimitTierName(limit: MessagingLimit): string {
  if (limit === 'unlimited') return 'TIER_UNLIMITED';
  if (limit >= 1000 && limit % 1000 === 0) return `TIER_${limit / 1000}K`;
  // Meta's ladder never holds other values; a test's small limit (say 3) reads as TIER_3.
  return `TIER_${limit}`;
}

export type Admission = 'already_counted' | 'admitted' | 'over_limit';

/**
 * The recipients a portfolio messaged outside a customer-service window in the moving 24 h. A recipient
 * counts from the last such message to them until 24 h later (the window is `(t − 24 h, t]`).
 */
export class BusinessInitiatedRecipients {
  /** wa_id → time of the last counted message; oldest first (re-inserted on each update)… */
  private readonly last = new Map<string, number>();
  /** …as long as the clock never went back (an injected test clock may): then pruning scans everything. */
  private ordered = true;
  private latest = -Infinity;

  private prune(t: number): void {
    for (const [waId, at] of this.last) {
      if (t - at < MESSAGING_LIMIT_WINDOW_MS) {
        if (this.ordered) break;
      } else this.last.delete(waId);
    }
  }

  /** Unique recipients counted in the 24 h before `t`. */
  count(t: number): number {
    this.prune(t);
    return this.last.size;
  }

  /**
   * Whether a message to `waId` at `t` fits the limit; records it when it does. A recipient already
   * counted in the window costs nothing more; a new one needs room.
   */
  admit(waId: string, t: number, limit: MessagingLimit): Admission {
    this.prune(t);
    const known = this.last.has(waId);
    if (!known && limit !== 'unlimited' && this.last.size >= limit) return 'over_limit';
    this.last.delete(waId);
    this.last.set(waId, t);
    if (t < this.latest) this.ordered = false;
    this.latest = Math.max(this.latest, t);
    return known ? 'already_counted' : 'admitted';
  }
}
