/**
 * The arithmetic behind the analytics reports, as pure functions: every formula here is written out in
 * docs/analytics.md, and the tests check them against hand-computed values.
 */

/** `numerator ÷ denominator` rounded to 4 decimals; null when the denominator is 0 (no basis, not 0 %). */
export function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : Math.round((numerator / denominator) * 10_000) / 10_000;
}

/** The median of a list (mean of the two middle values for an even count); null for an empty list. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of values given as counts per value (the value `i` appearing `counts[i]` times). */
export function medianOfCounts(counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const nth = (k: number) => {
    let seen = 0;
    for (const [value, n] of counts.entries()) {
      seen += n;
      if (seen > k) return value;
    }
    return counts.length - 1;
  };
  return total % 2 ? nth((total - 1) / 2) : (nth(total / 2 - 1) + nth(total / 2)) / 2;
}

/** Mean, population standard deviation and coefficient of variation (stddev ÷ mean) of a list. */
export function spread(values: readonly number[]): {
  mean: number | null;
  stddev: number | null;
  cv: number | null;
} {
  if (values.length === 0) return { mean: null, stddev: null, cv: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const stddev = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  return { mean: round(mean), stddev: round(stddev), cv: mean === 0 ? null : round(stddev / mean) };
}

/** The ISO week a moment falls in, as `YYYY-Www` (UTC). */
export function isoWeekOf(iso: string): string {
  const d = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of the same week decides the year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** How many weeks (7 days, at least 1, fractions kept) a period spans. */
export function weeksIn(from: string, to: string): number {
  return Math.max(1, (Date.parse(to) - Date.parse(from)) / (7 * 86_400_000));
}

/** Statuses an outbound message has after leaving Parley (held, scheduled, cancelled or queued ones have not). */
export const SENT_STATUSES = ['sent', 'delivered', 'read', 'failed', 'unknown'] as const;
const SENT = new Set<string>(SENT_STATUSES);

/** One WhatsApp message of an HCP's conversation, as the reply figures need it. */
export interface MessageMoment {
  /** Orders messages of the same HCP, direction and instant (by its bytes, as the database does). */
  id: string;
  hcpId: string;
  direction: 'inbound' | 'outbound';
  /** Outbound: when it was created; inbound: Meta's timestamp. */
  at: string;
  status: string;
}

const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * When each outbound message was answered: the moment of the HCP's next message in their conversation
 * when that one is inbound, else null. A conversation is all of an HCP's WhatsApp messages, whichever rep
 * sent them and whenever: every inbound message and every outbound one that left Parley, in time order
 * (outbound before inbound at the same instant, since a reply cannot precede what it answers; then by
 * id). Keyed by the ids of the outbound messages that left Parley. The database keeps the same fact per
 * message, as the wait until the answer (`messages.reply_wait_ms`, engagement/conversation-facts.store.ts).
 */
export function replyTimes(moments: readonly MessageMoment[]): Map<string, string | null> {
  const byHcp = new Map<string, MessageMoment[]>();
  for (const m of moments)
    if (m.direction === 'inbound' || SENT.has(m.status)) {
      const list = byHcp.get(m.hcpId) ?? [];
      list.push(m);
      byHcp.set(m.hcpId, list);
    }
  const replies = new Map<string, string | null>();
  for (const list of byHcp.values()) {
    list.sort(
      (a, b) =>
        byBytes(a.at, b.at) ||
        (a.direction === b.direction ? 0 : a.direction === 'outbound' ? -1 : 1) ||
        byBytes(a.id, b.id),
    );
    list.forEach((m, i) => {
      if (m.direction !== 'outbound') return;
      const next = list[i + 1];
      replies.set(m.id, next?.direction === 'inbound' ? next.at : null);
    });
  }
  return replies;
}

/** An outbound message, as the sending facts need it. */
export interface SentMoment {
  id: string;
  hcpId: string;
  /** When it was created (its place among the HCP's messages). */
  at: string;
  templateId: string | null;
  status: string;
}

/** What a sent message's place among the HCP's sent messages says (kept per message, migration 0026). */
export interface SendingFacts {
  /** Its position among the HCP's sent messages of the same week (Monday to Sunday, UTC), from 1. */
  weekRank: number;
  /** When the HCP's previous sent message was created; null for their first. */
  prevSentAt: string | null;
  /** When the HCP's previous sent message of the same template was created; null for the first or none. */
  prevTemplateSentAt: string | null;
}

/** Whole weeks since Monday 1970-01-05 of an instant's UTC day (platform/database `mondayWeekOf`). */
export function mondayWeek(at: string): number {
  return Math.floor((Date.parse(`${at.slice(0, 10)}T00:00:00Z`) - Date.UTC(1970, 0, 5)) / (7 * 86_400_000));
}

/**
 * The sending facts of each outbound message that left Parley, over every HCP's sent messages in order of
 * creation (then by id), whichever rep sent them. They let reports count without grouping: an HCP-week
 * holds more than `cap` messages exactly when one of them has rank `cap + 1`; an HCP was sent something in
 * a period exactly once with no earlier message of theirs in it (`prevSentAt` before the period), and a
 * template reached an HCP likewise.
 */
export function sendingFacts(messages: readonly SentMoment[]): Map<string, SendingFacts> {
  const byHcp = new Map<string, SentMoment[]>();
  for (const m of messages)
    if (SENT.has(m.status)) {
      const list = byHcp.get(m.hcpId) ?? [];
      list.push(m);
      byHcp.set(m.hcpId, list);
    }
  const facts = new Map<string, SendingFacts>();
  for (const list of byHcp.values()) {
    list.sort((a, b) => byBytes(a.at, b.at) || byBytes(a.id, b.id));
    let week = Number.NaN;
    let rank = 0;
    const lastOfTemplate = new Map<string, string>();
    list.forEach((m, i) => {
      const w = mondayWeek(m.at);
      rank = w === week ? rank + 1 : 1;
      week = w;
      facts.set(m.id, {
        weekRank: rank,
        prevSentAt: list[i - 1]?.at ?? null,
        prevTemplateSentAt: m.templateId === null ? null : (lastOfTemplate.get(m.templateId) ?? null),
      });
      if (m.templateId !== null) lastOfTemplate.set(m.templateId, m.at);
    });
  }
  return facts;
}

/** A stored message, as its kept facts are worked out from it. */
export interface StoredMoment {
  id: string;
  hcp_id: string | null;
  direction: 'inbound' | 'outbound';
  status: string;
  template_id: string | null;
  created_at: string;
  meta_timestamp: string | null;
}

/** The facts kept per message (`messages.reply_wait_ms`, `week_rank`, `prev_sent_at`, `prev_template_sent_at`). */
export interface KeptFacts {
  replyWaitMs: number | null;
  weekRank: number | null;
  prevSentAt: string | null;
  prevTemplateSentAt: string | null;
}

/**
 * The kept facts of each of some HCPs' messages, given all of those HCPs' messages: `replyTimes` as a
 * wait from the message, and `sendingFacts`; all null for a message that has none (inbound, or one that
 * never left Parley).
 */
export function keptFacts(rows: readonly StoredMoment[]): Map<string, KeptFacts> {
  const known = rows.filter((r) => r.hcp_id !== null);
  const replies = replyTimes(
    known.map((r) => ({
      id: r.id,
      hcpId: r.hcp_id!,
      direction: r.direction,
      at: r.direction === 'inbound' ? (r.meta_timestamp ?? r.created_at) : r.created_at,
      status: r.status,
    })),
  );
  const places = sendingFacts(
    known
      .filter((r) => r.direction === 'outbound')
      .map((r) => ({
        id: r.id,
        hcpId: r.hcp_id!,
        at: r.created_at,
        templateId: r.template_id,
        status: r.status,
      })),
  );
  return new Map(
    rows.map((r) => {
      const answer = replies.get(r.id) ?? null;
      const place = places.get(r.id);
      return [
        r.id,
        {
          replyWaitMs: answer === null ? null : Date.parse(answer) - Date.parse(r.created_at),
          weekRank: place?.weekRank ?? null,
          prevSentAt: place?.prevSentAt ?? null,
          prevTemplateSentAt: place?.prevTemplateSentAt ?? null,
        },
      ];
    }),
  );
}

/** The statuses that mean an outbound message reached the handset. */
const DELIVERED = new Set(['delivered', 'read']);
export const REPLY_WINDOW_MS = 7 * 86_400_000;

/**
 * Reply figures of some outbound messages, given when each was answered (`replyTimes`): a delivered (or
 * read) message counts as replied when its answer came within 7 days; time to reply is from the message
 * to its answer. Only delivered messages can be replied to, so the rate is replied ÷ delivered.
 */
export function replyFigures(messages: readonly { status: string; at: string; repliedAt: string | null }[]): {
  delivered: number;
  replied: number;
  replyRate: number | null;
  medianMinutesToReply: number | null;
} {
  let delivered = 0;
  const waits: number[] = [];
  for (const m of messages) {
    if (!DELIVERED.has(m.status)) continue;
    delivered++;
    if (m.repliedAt === null) continue;
    const wait = Date.parse(m.repliedAt) - Date.parse(m.at);
    if (wait <= REPLY_WINDOW_MS) waits.push(wait);
  }
  const med = median(waits);
  return {
    delivered,
    replied: waits.length,
    replyRate: ratio(waits.length, delivered),
    medianMinutesToReply: med === null ? null : Math.round((med / 60_000) * 10) / 10,
  };
}

/** Outbound messages per HCP per ISO week: the most any HCP got in one week, and how many HCP-weeks had more than `cap`. */
export function weeklyLoad(
  messages: readonly { hcpId: string; at: string }[],
  cap: number,
): { hcpWeeks: number; maxPerHcpWeek: number; hcpWeeksOverCap: number; hcpsOverCap: number } {
  const counts = new Map<string, number>();
  for (const m of messages) {
    const key = `${m.hcpId} ${isoWeekOf(m.at)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const over = [...counts.entries()].filter(([, n]) => n > cap);
  // A loop, not Math.max(...counts): a year of a large world has more HCP-weeks than the call stack holds.
  let most = 0;
  for (const n of counts.values()) if (n > most) most = n;
  return {
    hcpWeeks: counts.size,
    maxPerHcpWeek: most,
    hcpWeeksOverCap: over.length,
    hcpsOverCap: new Set(over.map(([k]) => k.split(' ')[0])).size,
  };
}

/** A consent ledger entry as coverage needs it. */
export interface LedgerEntry {
  id: string;
  channel: string;
  purpose: string;
  status: 'granted' | 'pending' | 'withdrawn' | 'refused';
  capturedAt: string;
  recordedAt: string;
  expiresAt: string | null;
}

const RANK_AT_EQUAL_TIME: Record<LedgerEntry['status'], number> = {
  pending: 0,
  granted: 1,
  refused: 2,
  withdrawn: 3,
};

/**
 * The purposes for which one HCP's ledger holds a grant in force on `channel` at `at`. The same fold as
 * consent's `foldConsent` (latest entry known at `at` by capture time, the more restrictive last at an
 * equal instant, then by id; a grant past its expiry is not in force). Kept here because consent imports
 * engagement (to put consent changes on the timeline) and capabilities may not import in a cycle.
 */
export function purposesGrantedAt(entries: readonly LedgerEntry[], channel: string, at: string): Set<string> {
  const t = Date.parse(at);
  const latest = new Map<string, LedgerEntry>();
  const known = entries
    .filter((e) => e.channel === channel && Date.parse(e.capturedAt) <= t && Date.parse(e.recordedAt) <= t)
    .sort(
      (a, b) =>
        Date.parse(a.capturedAt) - Date.parse(b.capturedAt) ||
        RANK_AT_EQUAL_TIME[a.status] - RANK_AT_EQUAL_TIME[b.status] ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  for (const e of known) latest.set(e.purpose, e);
  return new Set(
    [...latest.values()]
      .filter((e) => e.status === 'granted' && (e.expiresAt === null || Date.parse(e.expiresAt) > t))
      .map((e) => e.purpose),
  );
}
