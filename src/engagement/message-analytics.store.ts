import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import {
  byteOrder,
  countWhere,
  inCommaList,
  medianOf,
  millisBetween,
  mondayWeekOf,
  notSearchedBy,
  tableIndexedBy,
  type Database,
  type Db,
} from '../platform/database/index.js';
import {
  medianOfCounts,
  mondayWeek,
  ratio,
  REPLY_WINDOW_MS,
  SENT_STATUSES,
  spread,
  weeksIn,
} from './analytics-figures.js';
import { scopedInteractions, type Scope } from './analytics-scope.js';
import type { AnalyticsFilters, ReportParts } from './analytics.store.js';
import { markedHcps } from './conversation-facts.store.js';
import {
  cellCountColumns,
  cellCounts,
  staleMessageDays,
  statusCountsOf,
  type StatusCounts,
} from './message-day-cells.store.js';
import { dayRuns, nextDay, planPeriod } from './volume-tally.js';
import type { ReasonCode } from '../policy/index.js';

/**
 * The reports read from WhatsApp messages and policy decisions (whatsapp, blocked, over-messaging,
 * consistency, content-usage, and the messaging side of consent). The database does the counting: a year
 * of a large world holds over a million messages and as many decisions, which no report reads row by row.
 * No report reads a decision back; `blocked` reads the handful of distinct reason lists. Every
 * formula is written out in docs/analytics.md; analytics-figures.ts holds the same arithmetic over rows,
 * and the property test of message-analytics.test.ts holds the two equal.
 */

type MessagesQuery = SelectQueryBuilder<Database & { m: Database['messages'] }, 'm', object>;

/** Ids of the templates of a brand (for the brand filter); null without one. */
async function brandTemplates(db: Db, brand: string | undefined): Promise<string[] | null> {
  if (!brand) return null;
  const rows = await db.selectFrom('templates').select('id').where('brand', '=', brand).execute();
  return rows.map((r) => r.id);
}

const nothing = sql<boolean>`1 = 0`;

/** The half-open period [from, to) a query reads, as ISO-8601 UTC text. */
type Period = Pick<AnalyticsFilters, 'from' | 'to'>;

/**
 * Which HCPs' messages a query reads, when it splits them by their kept facts (conversation-facts.store.ts):
 * those whose facts are current (`kept`), or those marked to be worked out again (`live`); all without.
 */
type Facts = 'kept' | 'live' | undefined;

/**
 * Which messages a query starts from: split by `Facts`; only those of a few templates (template ids); or
 * `answered`, the kept answered ones (a `reply_wait_ms`) of unmarked HCPs, read from their own index.
 */
type Start = Facts | { templates: readonly string[] } | 'answered';

/**
 * Messages of the period from or to known HCPs in the caller's markets, split by kept facts or only those
 * of a few templates, as `start` says.
 */
function periodMessages(db: Db, scope: Scope, f: Period, direction: 'inbound' | 'outbound', start?: Start) {
  let qb: MessagesQuery;
  if (start === 'live')
    // The marked HCPs (usually none or a few) are where a `live` query starts: a CROSS JOIN is SQLite's
    // way to fix the order, which otherwise started from a market's 40,000 HCPs and sought each one's
    // messages (0.26 s for none marked). Both stores join the same rows.
    qb = db
      .selectFrom(markedHcps(db).distinct().as('s'))
      .crossJoin('messages as m')
      .whereRef('m.hcp_id', '=', 's.hcp_id') as unknown as MessagesQuery;
  else if (typeof start === 'object')
    // A few templates' messages (the opt-in requests), through the template index whatever the planner
    // thinks: with statistics SQLite read a rep's year row by row from the table (0.55 s on the 10M world),
    // without them the whole period once per template (0.4 s). PostgreSQL is given the ids themselves, so
    // that it estimates their messages from its statistics of those values: given a subquery it assumed an
    // average template's share and scanned the year (0.5 s, against under a millisecond).
    qb = start.templates.length
      ? db
          .selectFrom(tableIndexedBy(db, 'messages', 'm', 'messages_template'))
          .where('m.template_id', 'in', start.templates)
      : db.selectFrom('messages as m').where(nothing);
  else if (start === 'answered')
    // The answered messages' partial index (migration 0033), its condition said as literals as the index
    // says it: a year of the 10M world's sent messages is 684,687 entries of messages_analytics.
    qb = db
      .selectFrom(tableIndexedBy(db, 'messages', 'm', 'messages_replies'))
      .where(
        sql<boolean>`${sql.ref('m.direction')} = 'outbound' and ${sql.ref('m.reply_wait_ms')} is not null`,
      ) as unknown as MessagesQuery;
  else qb = db.selectFrom('messages as m');
  if (start === 'kept' || start === 'answered') qb = qb.where('m.hcp_id', 'not in', markedHcps(db));
  qb = qb
    .where('m.direction', '=', direction)
    .where('m.created_at', '>=', f.from)
    .where('m.created_at', '<', f.to);
  // A message's market is its HCP's, kept in the analytics index (migration 0027): a comparison there,
  // not a search of the market's HCPs per message. A message without an HCP has none.
  if (scope.markets)
    qb = scope.markets.length ? qb.where('m.market_code', 'in', scope.markets) : qb.where(nothing);
  // Without a market, a message's HCP exists whenever it names one (a foreign key): no look-up needed.
  else qb = qb.where('m.hcp_id', 'is not', null);
  return qb;
}

/** Outbound messages of the period in scope, of the rep or brand asked for, whatever their status. */
function outboundMessages(db: Db, scope: Scope, f: Period, brand: string[] | null, start?: Start) {
  let qb = periodMessages(db, scope, f, 'outbound', start);
  if (scope.repIds) qb = scope.repIds.length ? qb.where('m.rep_id', 'in', scope.repIds) : qb.where(nothing);
  if (brand) qb = brand.length ? qb.where('m.template_id', 'in', brand) : qb.where(nothing);
  return qb;
}

/**
 * The outbound messages above that left Parley. Status is read from the period's index entries
 * (migration 0022), not searched by: SQLite would otherwise seek each status's range of messages_status and
 * fetch every row for its direction.
 */
function sentMessages(db: Db, scope: Scope, f: Period, brand: string[] | null, start?: Start) {
  return outboundMessages(db, scope, f, brand, start).where((eb) =>
    eb(notSearchedBy(db, eb.ref('m.status')), 'in', [...SENT_STATUSES]),
  );
}

/**
 * Inbound messages of the period in scope; with a rep or brand asked for, only from the HCPs their
 * outbound messages (of the period, whatever their status) went to.
 */
function inboundMessages(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const qb = periodMessages(db, scope, f, 'inbound');
  return scope.repIds || brand
    ? // Distinct first: PostgreSQL otherwise plans a semi-join over every outbound message (a year of one
      // rep on the 10M world: 1.2 s against 0.4 s).
      qb.where('m.hcp_id', 'in', outboundMessages(db, scope, f, brand).select('m.hcp_id').distinct())
    : qb;
}

const num = (v: unknown) => Number(v ?? 0);

/**
 * 1 for a message that is the first of its kind in the period, given when the previous one of its kind
 * was sent (a kept fact: `prev_sent_at`, `prev_template_sent_at`), else 0: summed, a count of distinct HCPs.
 */
const firstOfPeriod = (previous: 'm.prev_sent_at' | 'm.prev_template_sent_at', from: string) =>
  sql<number>`case when ${sql.ref(previous)} is null or ${sql.ref(previous)} < ${from} then 1 else 0 end`;

/**
 * How many HCPs in the caller's markets (and among `among`, when given) were sent a message of the period,
 * of the rep or brand asked for: an EXISTS per HCP, a few index entries of messages_hcp_counter each,
 * where a distinct count over the period's messages would sort them all (on the 10M world, 0.1 s against
 * 0.7 s for 689,629 messages on SQLite).
 */
async function hcpsSentTo(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  brand: string[] | null,
  among?: SelectQueryBuilder<Database, 'consent_entries', { hcp_id: string }>,
): Promise<number> {
  let hcps = db.selectFrom('hcps as h');
  if (scope.markets)
    hcps = scope.markets.length ? hcps.where('h.market_code', 'in', scope.markets) : hcps.where(nothing);
  if (among) hcps = hcps.where('h.id', 'in', among);
  const sent = sentMessages(db, { ...scope, markets: null }, f, brand)
    .select('m.id')
    .where(sql<boolean>`${sql.ref('m.hcp_id')} = ${sql.ref('h.id')}`);
  const row = await hcps
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where((eb) => eb.exists(sent))
    .executeTakeFirstOrThrow();
  return num(row.n);
}

const DELIVERED = ['delivered', 'read'] as const;

/**
 * The kept waits of the delivered messages of the period in scope that were answered, of HCPs whose
 * facts are current: read from the answered messages' own partial index (migration 0033). Exported for
 * its query-plan test.
 */
export function keptRepliesQuery(db: Db, scope: Scope, f: Period, brand: string[] | null) {
  return outboundMessages(db, scope, f, brand, 'answered')
    .where((eb) => eb(notSearchedBy(db, eb.ref('m.status')), 'in', [...DELIVERED]))
    .select('m.reply_wait_ms as wait');
}

/**
 * The delivered messages of the period in scope that were answered, each with how long until the answer
 * (`wait`; analytics-figures.ts `replyTimes` defines the answer). An HCP's waits are kept per message
 * (`reply_wait_ms`, kept by conversation-facts.store.ts, and the answered ones have an index of their own)
 * unless their conversation changed since they were worked out: those few HCPs' waits are worked out here,
 * by ordering their whole conversation.
 */
function answeredMessages(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const kept = keptRepliesQuery(db, scope, f, brand);

  const conversations = db
    .selectFrom('messages as c')
    .where('c.hcp_id', 'in', markedHcps(db))
    .where((eb) => eb.or([eb('c.direction', '=', 'inbound'), eb('c.status', 'in', [...SENT_STATUSES])]))
    .select([
      'c.id',
      'c.hcp_id',
      sql<string>`case when ${sql.ref('c.direction')} = 'inbound' then coalesce(${sql.ref('c.meta_timestamp')}, ${sql.ref('c.created_at')}) else ${sql.ref('c.created_at')} end`.as(
        'at',
      ),
      sql<number>`case when ${sql.ref('c.direction')} = 'inbound' then 1 else 0 end`.as('dir'),
    ]);
  const conversation = sql`(partition by x.hcp_id order by ${byteOrder(db, sql.ref('x.at'))}, x.dir, ${byteOrder(db, sql.ref('x.id'))})`;
  const ordered = db
    .selectFrom(conversations.as('x'))
    .select((eb) => [
      'x.id',
      sql<number | null>`lead(${eb.ref('x.dir')}) over ${conversation}`.as('next_dir'),
      sql<string>`lead(${eb.ref('x.at')}) over ${conversation}`.as('next_at'),
    ]);
  const live = sentMessages(db, scope, f, brand, 'live')
    .where('m.status', 'in', [...DELIVERED])
    .innerJoin(ordered.as('o'), 'o.id', 'm.id')
    .select((eb) =>
      sql<number | null>`case when ${eb.ref('o.next_dir')} = 1
                         then ${millisBetween(db, eb.ref('m.created_at'), eb.ref('o.next_at'))} end`.as(
        'wait',
      ),
    );
  return kept.unionAll(live);
}

/**
 * The reply figures (analytics-figures.ts `replyFigures`) of the delivered messages of the period in
 * scope: how many were answered within the window, and the median wait. One statement, so the refresher
 * cannot move an HCP from kept to live waits halfway.
 */
async function replyFigures(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const wait = sql.ref('x.wait');
  const replyWait = sql<number | null>`case when ${wait} <= ${REPLY_WINDOW_MS} then ${wait} end`;
  const row = await db
    .selectFrom(answeredMessages(db, scope, f, brand).as('x'))
    .select([sql<number>`count(${replyWait})`.as('replied'), medianOf(db, replyWait).as('median_wait')])
    .executeTakeFirstOrThrow();
  return {
    replied: num(row.replied),
    medianWait: row.median_wait === null ? null : Number(row.median_wait),
  };
}

/** Inbound messages of the period in scope (`inboundMessages`), counted. */
async function inboundCount(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const row = await inboundMessages(db, scope, f, brand)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return num(row.n);
}

/** Status counts of the messages of `f`'s period in scope, read from the messages themselves. */
async function liveStatusCounts(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  brand: string[] | null,
  inbound: boolean,
): Promise<StatusCounts> {
  // Counted as the cells count (`cellCountColumns`): a day read live gives what its cells would.
  const [outbound, inbounds] = await Promise.all([
    sentMessages(db, scope, f, brand).select(cellCountColumns('m')).executeTakeFirstOrThrow(),
    inbound ? inboundCount(db, scope, f, brand) : 0,
  ]);
  return { ...statusCountsOf(outbound), inbound: inbounds };
}

/**
 * Inbound messages and sent ones by status, in the period and scope. For all reps, whole days come from the
 * day cells (migration 0033, message-day-cells.store.ts) unless stale, the rest from the messages. A rep's
 * messages, and the inbound messages of a brand's HCPs (a set of HCPs over the whole period), are read
 * from the messages.
 */
async function statusCounts(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  brand: string[] | null,
): Promise<StatusCounts> {
  if (scope.repIds) return liveStatusCounts(db, scope, f, brand, true);
  const stale = await staleMessageDays(db, f.from.slice(0, 10), nextDay(f.to.slice(0, 10)));
  const plan = planPeriod(f.from, f.to, stale);
  // A brand's cells are those of its templates: outbound messages only.
  const [brandInbound, ...parts] = await Promise.all([
    brand ? inboundCount(db, scope, f, brand) : 0,
    ...dayRuns(plan.days).map((run) => cellCounts(db, run, scope.markets, brand)),
    ...plan.live.map((range) => liveStatusCounts(db, scope, { ...f, ...range }, brand, !brand)),
  ]);
  const sum = (k: keyof StatusCounts) => parts.reduce((n, p) => n + p[k], 0);
  return {
    inbound: brand ? brandInbound : sum('inbound'),
    sent: sum('sent'),
    delivered: sum('delivered'),
    read: sum('read'),
    failed: sum('failed'),
  };
}

export async function whatsapp(db: Db, scope: Scope, f: AnalyticsFilters) {
  const brand = await brandTemplates(db, f.brand);
  const [counts, replies] = await Promise.all([
    statusCounts(db, scope, f, brand),
    replyFigures(db, scope, f, brand),
  ]);
  const { sent, delivered, read, failed, inbound } = counts;
  const { replied, medianWait } = replies;
  return {
    summary: {
      sent,
      delivered,
      read,
      failed,
      inbound,
      replied,
      deliveryRate: ratio(delivered, sent),
      readRate: ratio(read, delivered),
      replyRate: ratio(replied, delivered),
      medianMinutesToReply: medianWait === null ? null : Math.round((medianWait / 60_000) * 10) / 10,
    },
    rows: [],
  };
}

/**
 * Policy decisions on attempts to send (a `check` is a question, not an attempt) in the period and scope;
 * with `'denials'`, only the denied ones, read from their own partial index (migration 0032) rather than
 * picked out of every attempt of the period.
 */
function attempts(db: Db, scope: Scope, f: Period, brand: string[] | null, only?: 'denials') {
  let qb = (
    only === 'denials'
      ? db
          .selectFrom(tableIndexedBy(db, 'policy_decisions', 'd', 'policy_decisions_denials'))
          // Literals, as the index's condition says them: a planner uses a partial index only where it
          // finds its condition in the query.
          .where(sql<boolean>`${sql.ref('d.outcome')} = 'deny' and ${sql.ref('d.kind')} <> 'check'`)
      : db.selectFrom('policy_decisions as d').where('d.kind', '!=', 'check')
  )
    .where('d.decided_at', '>=', f.from)
    .where('d.decided_at', '<', f.to);
  // The decision's market, in the analytics index (migration 0027), as for messages.
  if (scope.markets)
    qb = scope.markets.length ? qb.where('d.market_code', 'in', scope.markets) : qb.where(nothing);
  // Without a market, no look-up: a decision is only ever taken on an HCP the caller could see.
  if (scope.repIds)
    qb = scope.repIds.length ? qb.where('d.requested_by', 'in', scope.repIds) : qb.where(nothing);
  if (brand) qb = brand.length ? qb.where('d.template_id', 'in', brand) : qb.where(nothing);
  return qb;
}

/**
 * The denied attempts of the period in scope, which `blocked` and `over-messaging` count: read from the
 * denials' own partial index (migration 0032). Exported for its query-plan test.
 */
export function deniedAttemptsQuery(db: Db, scope: Scope, f: Period, brand: string[] | null) {
  return attempts(db, scope, f, brand, 'denials');
}

/**
 * Denied attempts per reason code, and the HCPs they were for, counted by the database from the period's
 * range of policy_decisions_denials, which holds the denials and their codes (migrations 0025, 0032): the reason lists of the
 * period's denials (a handful of distinct lists) with their counts, then, for each code they name, the
 * distinct HCPs of the denials naming it, in one pass. Reading the denials back instead (97,000 a year on
 * the 10M world) held the event loop for 0.2 s to count them in JavaScript.
 */
async function denialsByReason(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const denied = () => deniedAttemptsQuery(db, scope, f, brand);
  const lists = await denied()
    .select((eb) => ['d.reason_codes', eb.fn.countAll<number>().as('n')])
    .groupBy('d.reason_codes')
    .execute();
  // A denial counts once for each code it names, however often it names it.
  const attemptsByCode = new Map<string, number>();
  for (const l of lists)
    for (const code of new Set(l.reason_codes ? l.reason_codes.split(',') : []))
      attemptsByCode.set(code, (attemptsByCode.get(code) ?? 0) + num(l.n));
  const codes = [...attemptsByCode.keys()];
  if (codes.length === 0) return [];
  const hcps = await denied()
    .select(
      codes.map((code, i) =>
        sql<number>`count(distinct case when ${inCommaList(db, sql.ref('d.reason_codes'), code)} then ${sql.ref('d.hcp_id')} end)`.as(
          `c${i}`,
        ),
      ),
    )
    .executeTakeFirstOrThrow();
  return codes.map((reason, i) => ({
    reason,
    attempts: attemptsByCode.get(reason)!,
    hcps: num((hcps as Record<string, unknown>)[`c${i}`]),
  }));
}

/** Whether a decision of `attempts` names a reason code (its `reason_codes` column, migration 0025). */
const names = (db: Db, code: ReasonCode) => inCommaList(db, sql.ref('d.reason_codes'), code);

/**
 * Denied attempts that a cap stopped (`frequency_cap` or `rep_cap`), and the HCPs they were for: counted in
 * the database, where reading every refusal of a year back (50,000 rows on the 10M world) cost a third
 * of the over-messaging report.
 */
async function cappedAttempts(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const row = await deniedAttemptsQuery(db, scope, f, brand)
    .where((eb) => eb.or([names(db, 'frequency_cap'), names(db, 'rep_cap')]))
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('d.hcp_id').distinct().as('hcps')])
    .executeTakeFirstOrThrow();
  return { attempts: num(row.n), hcps: num(row.hcps) };
}

export async function blocked(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  parts: ReportParts = { rows: true },
) {
  const brand = await brandTemplates(db, f.brand);
  const outcome = sql.ref('d.outcome');
  const [outcomes, byReason] = await Promise.all([
    // Counted by conditional sums, not grouped by outcome: the period's range of
    // policy_decisions_analytics (0022) holds every column read, and SQLite groups by sorting (0.35 s
    // against 0.15 s for a year of the 10M world).
    attempts(db, scope, f, brand)
      .select((eb) => [
        eb.fn.countAll<number>().as('all'),
        countWhere(sql`${outcome} = 'deny'`).as('deny'),
        countWhere(sql`${outcome} = 'review'`).as('review'),
      ])
      .executeTakeFirstOrThrow(),
    // The reasons are the rows' figures: not counted for a summary alone.
    parts.rows ? denialsByReason(db, scope, f, brand) : [],
  ]);
  const all = num(outcomes.all);
  const denied = num(outcomes.deny);
  return {
    summary: {
      attempts: all,
      blocked: denied,
      blockedRate: ratio(denied, all),
      review: num(outcomes.review),
    },
    rows: byReason.sort((a, b) => b.attempts - a.attempts || a.reason.localeCompare(b.reason)),
  };
}

/** Messages sent, HCPs messaged and the weekly load (most in one HCP-week, HCP-weeks and HCPs over cap). */
interface Load {
  sent: number;
  hcps: number;
  maxN: number;
  weeksOver: number;
  hcpsOver: number;
}

/**
 * The whole Monday-to-Sunday UTC weeks inside [from, to), as ISO bounds of their creation times; null for
 * none. The kept week ranks count a week whole, so they answer for these weeks only.
 */
export function wholeWeeks(from: string, to: string): { from: string; to: string } | null {
  const week = 7 * 86_400_000;
  const monday = (at: string) => Date.UTC(1970, 0, 5) + mondayWeek(at) * week;
  const first = monday(from) < Date.parse(from) ? monday(from) + week : monday(from);
  const last = monday(to);
  return first < last ? { from: new Date(first).toISOString(), to: new Date(last).toISOString() } : null;
}

/** The sent messages `qb` selects, counted per HCP and week (Monday to Sunday, UTC). */
function perHcpWeek(db: Db, qb: ReturnType<typeof sentMessages>) {
  return qb
    .select((eb) => [
      'm.hcp_id',
      mondayWeekOf(db, eb.ref('m.created_at')).as('week'),
      eb.fn.countAll<number>().as('n'),
    ])
    .groupBy(['m.hcp_id', 'week']);
}

/** `Load` by grouping messages by HCP-week: for a rep's or a brand's messages, which kept facts do not count. */
async function loadByGrouping(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  brand: string[] | null,
): Promise<Load> {
  const perHcp = db
    .selectFrom(perHcpWeek(db, sentMessages(db, scope, f, brand)).as('w'))
    .select((eb) => [
      eb.fn.sum<number>('w.n').as('sent'),
      eb.fn.max<number>('w.n').as('max_n'),
      countWhere(sql`${eb.ref('w.n')} > ${f.weeklyCap}`).as('weeks_over'),
    ])
    .groupBy('w.hcp_id');
  const row = await db
    .selectFrom(perHcp.as('h'))
    .select((eb) => [
      eb.fn.sum<number>('h.sent').as('sent'),
      eb.fn.countAll<number>().as('hcps'),
      eb.fn.max<number>('h.max_n').as('max_n'),
      eb.fn.sum<number>('h.weeks_over').as('weeks_over'),
      countWhere(sql`${eb.ref('h.weeks_over')} > 0`).as('hcps_over'),
    ])
    .executeTakeFirstOrThrow();
  return {
    sent: num(row.sent),
    hcps: num(row.hcps),
    maxN: num(row.max_n),
    weeksOver: num(row.weeks_over),
    hcpsOver: num(row.hcps_over),
  };
}

/**
 * `Load` of all reps' and brands' messages from the kept sending facts (migration 0026), in one pass
 * over the period's messages instead of a sort of them by HCP-week: an HCP is counted at their first
 * message of the period (`prev_sent_at` before it), a whole week over cap at its message of rank cap + 1.
 * The weeks the period cuts, and every week of HCPs whose facts are being worked out again (marked), are
 * grouped as before: a few weeks' messages and a few HCPs. One statement (its one row has the parts'
 * figures side by side, for `loadFromFacts` to add up); exported for its query-plan test.
 */
export function factsLoadQuery(db: Db, scope: Scope, f: AnalyticsFilters) {
  const weeks = wholeWeeks(f.from, f.to);
  const at = sql.ref('m.created_at');
  const inWholeWeeks = weeks ? sql<boolean>`(${at} >= ${weeks.from} and ${at} < ${weeks.to})` : nothing;
  const cap = f.weeklyCap;
  // Marked HCPs' weeks, and the cut weeks of everyone else, grouped: the marked HCPs' messages sought by
  // HCP and the cut weeks by time, two short ranges (one filter over the year's messages read them all:
  // 25 of the report's 85 ms on PostgreSQL, 132,379 messages).
  const cutWeeks = weeks
    ? [
        { from: f.from, to: weeks.from },
        { from: weeks.to, to: f.to },
      ].filter((range) => range.from < range.to)
    : [f];
  const groupedMessages = [
    sentMessages(db, scope, f, null, 'live'),
    ...cutWeeks.map((range) => sentMessages(db, scope, range, null, 'kept')),
  ]
    .map((qb) => qb.select(['m.hcp_id', 'm.created_at']))
    .reduce((all, part) => all.unionAll(part));
  // Read as messages: perHcpWeek asks for no column but these two.
  const grouped = perHcpWeek(db, db.selectFrom(groupedMessages.as('m')) as unknown as MessagesQuery);
  const overCapInGroups = db.selectFrom(grouped.as('g')).select('g.hcp_id').where('g.n', '>', cap);
  const kept = sentMessages(db, scope, f, null, 'kept');
  const overCap = sql<boolean>`${inWholeWeeks} and ${sql.ref('m.week_rank')} = ${cap + 1}`;
  const facts = kept.select((eb) => [
    eb.fn.countAll<number>().as('sent'),
    sql<number>`sum(${firstOfPeriod('m.prev_sent_at', f.from)})`.as('hcps'),
    sql<number | null>`max(case when ${inWholeWeeks} then ${sql.ref('m.week_rank')} end)`.as('max_n'),
    countWhere(overCap).as('weeks_over'),
    // HCPs over cap in a whole week, unless also over cap in a grouped week (counted below).
    sql<number>`count(distinct case when ${overCap} and ${sql.ref('m.hcp_id')} not in (${overCapInGroups})
                               then ${sql.ref('m.hcp_id')} end)`.as('hcps_over'),
  ]);
  const groups = db
    .selectFrom(grouped.as('w'))
    .select((eb) => [
      eb.fn.max<number>('w.n').as('max_n'),
      countWhere(sql`${eb.ref('w.n')} > ${cap}`).as('weeks_over'),
      sql<number>`count(distinct case when ${eb.ref('w.n')} > ${cap} then ${eb.ref('w.hcp_id')} end)`.as(
        'hcps_over',
      ),
    ]);
  const marked = sentMessages(db, scope, f, null, 'live').select((eb) => [
    eb.fn.countAll<number>().as('sent'),
    eb.fn.count<number>('m.hcp_id').distinct().as('hcps'),
  ]);
  // One statement, three one-row parts: each part reads the marks, and apart (they ran side by side) a
  // refresh that cleared a mark between two of them left that HCP's messages out of both the kept and
  // the live part (and a write that marked one between them counted it twice).
  return db
    .selectFrom([facts.as('k'), groups.as('g'), marked.as('l')])
    .select([
      'k.sent as kept_sent',
      'k.hcps as kept_hcps',
      'k.max_n as kept_max_n',
      'k.weeks_over as kept_weeks_over',
      'k.hcps_over as kept_hcps_over',
      'g.max_n as grouped_max_n',
      'g.weeks_over as grouped_weeks_over',
      'g.hcps_over as grouped_hcps_over',
      'l.sent as live_sent',
      'l.hcps as live_hcps',
    ]);
}

/** `Load` from the kept sending facts (`factsLoadQuery`). */
async function loadFromFacts(db: Db, scope: Scope, f: AnalyticsFilters): Promise<Load> {
  const row = await factsLoadQuery(db, scope, f).executeTakeFirstOrThrow();
  return {
    sent: num(row.kept_sent) + num(row.live_sent),
    hcps: num(row.kept_hcps) + num(row.live_hcps),
    maxN: Math.max(num(row.kept_max_n), num(row.grouped_max_n)),
    weeksOver: num(row.kept_weeks_over) + num(row.grouped_weeks_over),
    hcpsOver: num(row.kept_hcps_over) + num(row.grouped_hcps_over),
  };
}

export async function overMessaging(db: Db, scope: Scope, f: AnalyticsFilters) {
  const brand = await brandTemplates(db, f.brand);
  const [load, capped] = await Promise.all([
    scope.repIds || brand ? loadByGrouping(db, scope, f, brand) : loadFromFacts(db, scope, f),
    cappedAttempts(db, scope, f, brand),
  ]);
  const hcpsMessaged = load.hcps;
  const sent = load.sent;
  return {
    summary: {
      messagesSent: sent,
      hcpsMessaged,
      messagesPerHcpPerWeek:
        hcpsMessaged === 0 ? null : Math.round((sent / hcpsMessaged / weeksIn(f.from, f.to)) * 100) / 100,
      maxPerHcpWeek: load.maxN,
      weeklyCap: f.weeklyCap,
      hcpWeeksOverCap: load.weeksOver,
      hcpsOverCap: load.hcpsOver,
      attemptsBeyondCaps: capped.attempts,
      hcpsAtCap: capped.hcps,
    },
    rows: [],
  };
}

/**
 * The sent messages of the period per rep and UTC hour. Grouped by rep and hour alone, the reps' names read
 * after: joined to users first, PostgreSQL sorted a year's messages by name too (1.1 s against 0.65 s on
 * the 10M world). Hour first, and the rep not searched by: with planner statistics (`parley seed` gathers
 * them) SQLite otherwise read the period through an index that starts with the rep, for the order of the
 * grouping, and fetched every row from the table (2.4 s against 0.6 s for a year of the 10M world).
 */
export function repHourCellsQuery(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  return sentMessages(db, scope, f, brand)
    .where((eb) => eb(notSearchedBy(db, eb.ref('m.rep_id')), 'is not', null))
    .select((eb) => [
      'm.rep_id',
      sql<string>`substr(${eb.ref('m.created_at')}, 12, 2)`.as('hour'),
      eb.fn.countAll<number>().as('n'),
      eb.fn.count<number>('m.template_id').as('templated'),
    ])
    .groupBy(['hour', 'm.rep_id']);
}

export async function consistency(db: Db, scope: Scope, f: AnalyticsFilters) {
  const brand = await brandTemplates(db, f.brand);
  const cells = await repHourCellsQuery(db, scope, f, brand).execute();
  const repIds = [...new Set(cells.map((c) => c.rep_id!))];
  const names = new Map(
    repIds.length
      ? (await db.selectFrom('users').select(['id', 'name']).where('id', 'in', repIds).execute()).map((u) => [
          u.id,
          u.name,
        ])
      : [],
  );
  const byRep = new Map<
    string,
    { name: string | null; messages: number; templated: number; hours: number[] }
  >();
  for (const c of cells) {
    const r = byRep.get(c.rep_id!) ?? {
      name: names.get(c.rep_id!) ?? null,
      messages: 0,
      templated: 0,
      hours: Array<number>(24).fill(0),
    };
    r.messages += num(c.n);
    r.templated += num(c.templated);
    // Times are stored as UTC ISO text: characters 12–13 are the UTC hour.
    r.hours[Number(c.hour)] = (r.hours[Number(c.hour)] ?? 0) + num(c.n);
    byRep.set(c.rep_id!, r);
  }
  const rows = [...byRep.entries()]
    .map(([repId, r]) => ({
      repId,
      repName: r.name,
      messages: r.messages,
      fromTemplates: r.templated,
      templateShare: ratio(r.templated, r.messages),
      medianSendHourUtc: medianOfCounts(r.hours),
    }))
    .sort((a, b) => b.messages - a.messages || a.repId.localeCompare(b.repId));
  const volumes = spread(rows.map((r) => r.messages));
  const messages = rows.reduce((n, r) => n + r.messages, 0);
  const templated = rows.reduce((n, r) => n + r.fromTemplates, 0);
  return {
    summary: {
      reps: rows.length,
      messages,
      templateShare: ratio(templated, messages),
      meanMessagesPerRep: volumes.mean,
      stddevMessagesPerRep: volumes.stddev,
      volumeCv: volumes.cv,
      sendHourSpreadUtc: spread(
        rows.flatMap((r) => (r.medianSendHourUtc === null ? [] : [r.medianSendHourUtc])),
      ).stddev,
    },
    rows,
  };
}

/**
 * How many clicks on an asset link came after the asset expired (an HCP reached for content that was no
 * longer valid) in the period and scope. Exported for its query-plan test: it must stay a read of the
 * clicks' own partial index (migration 0018), not of every interaction of the period.
 */
export function expiredClicksQuery(db: Db, scope: Scope, f: Pick<AnalyticsFilters, 'from' | 'to'>) {
  return (
    scopedInteractions(db, scope, f)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      // Literals, not parameters, as the condition of the partial index of these clicks says them
      // (migration 0031): a planner uses a partial index only where it finds its condition in the query.
      .where(sql<boolean>`${sql.ref('i.kind')} = 'click'`)
      .where(sql<boolean>`${sql.ref('i.status')} in ('expired', 'withdrawn', 'superseded')`)
  );
}

interface TemplateUses {
  templateId: string;
  messages: number;
  hcps: number;
}

/**
 * Messages sent from a template, the template not searched by: with planner statistics SQLite otherwise
 * read the period through the template index, for the order of the grouping, and fetched every row from
 * the table (1.4 s against 0.5 s for a year of the 10M world).
 */
const templated = (db: Db) => (eb: ExpressionBuilder<{ m: Database['messages'] }, 'm'>) =>
  eb(notSearchedBy(db, eb.ref('m.template_id')), 'is not', null);

/** Messages and HCPs reached per template, from the kept sending facts of unmarked HCPs (templateUses). */
export function keptTemplateUsesQuery(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  return sentMessages(db, scope, f, brand, 'kept')
    .where(templated(db))
    .select((eb) => [
      'm.template_id',
      eb.fn.countAll<number>().as('n'),
      sql<number>`sum(${firstOfPeriod('m.prev_template_sent_at', f.from)})`.as('hcps'),
    ])
    .groupBy('m.template_id');
}

/** Messages and distinct HCPs per template of the sent messages `qb` selects, by grouping them. */
function groupedTemplateUsesQuery(db: Db, qb: ReturnType<typeof sentMessages>) {
  return qb
    .where(templated(db))
    .select((eb) => [
      'm.template_id',
      eb.fn.countAll<number>().as('n'),
      eb.fn.count<number>('m.hcp_id').distinct().as('hcps'),
    ])
    .groupBy('m.template_id');
}

/**
 * Messages and distinct HCPs per template. For all reps, from the kept sending facts (migration 0026): an
 * HCP counts at their first message of the template in the period (`prev_template_sent_at` before it), so
 * no set of HCPs is built per template; HCPs whose facts are being worked out again (marked) are grouped
 * as before. A rep's messages are always grouped: the facts count every rep's.
 */
async function templateUses(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  brand: string[] | null,
): Promise<TemplateUses[]> {
  const uses = scope.repIds
    ? groupedTemplateUsesQuery(db, sentMessages(db, scope, f, brand))
    : // Marked and unmarked HCPs are apart: their counts add up. In one statement, so that both parts read
      // the same marks (a refresh between two statements moved an HCP out of both).
      db
        .selectFrom(
          keptTemplateUsesQuery(db, scope, f, brand)
            .unionAll(groupedTemplateUsesQuery(db, sentMessages(db, scope, f, brand, 'live')))
            .as('u'),
        )
        .select((eb) => [
          'u.template_id',
          eb.fn.sum<number>('u.n').as('n'),
          eb.fn.sum<number>('u.hcps').as('hcps'),
        ])
        .groupBy('u.template_id');
  const rows = await uses.execute();
  return rows.map((r) => ({ templateId: r.template_id!, messages: num(r.n), hcps: num(r.hcps) }));
}

/**
 * Attempts refused or held with an expired template (per template named) or an expired asset, counted in
 * the database by template rather than read back one refusal at a time.
 */
function expiredContentAttempts(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const count = (code: ReasonCode) => countWhere(names(db, code));
  return attempts(db, scope, f, brand)
    .where((eb) => eb(notSearchedBy(db, eb.ref('d.outcome')), 'in', ['deny', 'review']))
    .where((eb) => eb.or([names(db, 'template_expired'), names(db, 'asset_expired')]))
    .select(['d.template_id', count('template_expired').as('template'), count('asset_expired').as('asset')])
    .groupBy('d.template_id')
    .execute();
}

export async function contentUsage(db: Db, scope: Scope, f: AnalyticsFilters) {
  const brand = await brandTemplates(db, f.brand);
  const [uses, expired, clicks] = await Promise.all([
    templateUses(db, scope, f, brand),
    expiredContentAttempts(db, scope, f, brand),
    expiredClicksQuery(db, scope, f).executeTakeFirstOrThrow(),
  ]);
  const expiredAttempts = new Map<string, number>();
  let expiredTemplate = 0;
  let expiredAsset = 0;
  for (const row of expired) {
    if (row.template_id && num(row.template) > 0) {
      expiredTemplate += num(row.template);
      expiredAttempts.set(row.template_id, num(row.template));
    }
    expiredAsset += num(row.asset);
  }
  const used = new Map(uses.map((u) => [u.templateId, { messages: u.messages, hcps: u.hcps }]));
  const ids = [...new Set([...used.keys(), ...expiredAttempts.keys()])];
  const templates = ids.length
    ? await db
        .selectFrom('templates')
        .select(['id', 'key', 'version', 'status', 'brand'])
        .where('id', 'in', ids)
        .execute()
    : [];
  return {
    summary: {
      templatedMessages: [...used.values()].reduce((n, u) => n + u.messages, 0),
      templatesUsed: used.size,
      attemptsWithExpiredTemplate: expiredTemplate,
      attemptsWithExpiredAsset: expiredAsset,
      clicksOnExpiredAssets: num(clicks.n),
    },
    rows: templates
      .map((t) => ({
        templateId: t.id,
        key: t.key,
        version: t.version,
        status: t.status,
        brand: t.brand,
        messages: used.get(t.id)?.messages ?? 0,
        hcpsReached: used.get(t.id)?.hcps ?? 0,
        attemptsWhileExpired: expiredAttempts.get(t.id) ?? 0,
      }))
      .sort((a, b) => a.key.localeCompare(b.key) || a.version - b.version),
  };
}

/** The opt-in requests sent in the period and scope, read template by template (`periodMessages`). */
export async function optInRequestsQuery(db: Db, scope: Scope, f: AnalyticsFilters, brand: string[] | null) {
  const requests = await db
    .selectFrom('templates')
    .select('id')
    .where('type', '=', 'opt_in_request')
    .execute();
  return sentMessages(db, scope, f, brand, { templates: requests.map((r) => r.id) });
}

/**
 * The messaging side of the consent report: HCPs sent an opt-in request, and HCPs messaged at all, in the
 * period and scope; and how many of each are among `granted` and `withdrew` (HCP ids, as subqueries).
 */
export async function messagingReach(
  db: Db,
  scope: Scope,
  f: AnalyticsFilters,
  granted: SelectQueryBuilder<Database, 'consent_entries', { hcp_id: string }>,
  withdrew: SelectQueryBuilder<Database, 'consent_entries', { hcp_id: string }>,
) {
  const brand = await brandTemplates(db, f.brand);
  const hcp = sql.ref('m.hcp_id');
  const [asked, messaged, messagedAndWithdrew] = await Promise.all([
    // HCPs sent an opt-in request, and those of them who granted, in one pass over the period's requests.
    // Requests are few of a period's messages: they are read template by template, not picked out of the
    // period's (or a rep's) messages, which SQLite with planner statistics read row by row from the table
    // (0.55 s for a rep's year on the 10M world).
    // Started with the two counts below, not before them: the template look-up is the requests' own.
    optInRequestsQuery(db, scope, f, brand).then((requests) =>
      requests
        .select((eb) => [
          eb.fn.count<number>('m.hcp_id').distinct().as('n'),
          sql<number>`count(distinct case when ${hcp} in (${granted}) then ${hcp} end)`.as('granted'),
        ])
        .executeTakeFirstOrThrow(),
    ),
    hcpsSentTo(db, scope, f, brand),
    hcpsSentTo(db, scope, f, brand, withdrew),
  ]);
  const askedN = num(asked.n);
  const askedAndGranted = num(asked.granted);
  return { asked: askedN, askedAndGranted, messaged, messagedAndWithdrew };
}
