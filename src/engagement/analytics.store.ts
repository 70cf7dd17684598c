import { sql, type SelectQueryBuilder } from 'kysely';
import { hcpVisibility } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { byteOrder, type Database, type Db, type InteractionsTable } from '../platform/database/index.js';
import { median, ratio, replyFigures, spread, weeklyLoad, weeksIn } from './analytics-figures.js';
import { scopedInteractions, scopeOf, type Scope } from './analytics-scope.js';
import { volume } from './volume.store.js';

export const ANALYTICS_REPORTS = [
  'overview',
  'volume',
  'whatsapp',
  'assets',
  'consent',
  'blocked',
  'over-messaging',
  'consistency',
  'content-usage',
] as const;
export type AnalyticsReport = (typeof ANALYTICS_REPORTS)[number];

export interface AnalyticsFilters {
  market?: string;
  brand?: string;
  channel?: InteractionsTable['channel'];
  rep?: string;
  from: string;
  to: string;
  /** Time buckets of the volume report. */
  bucket: 'day' | 'month';
  /** Weekly messages per HCP above which an HCP-week counts as over-messaged (over-messaging report). */
  weeklyCap: number;
}

type Cell = string | number | null;
export interface AnalyticsResult {
  report: AnalyticsReport;
  filters: Record<string, string | number | null>;
  summary: Record<string, Cell>;
  rows: Record<string, Cell>[];
}

/** Ids of the templates of a brand (for the brand filter). */
async function brandTemplates(db: Db, brand: string | undefined): Promise<Set<string> | null> {
  if (!brand) return null;
  const rows = await db.selectFrom('templates').select('id').where('brand', '=', brand).execute();
  return new Set(rows.map((r) => r.id));
}

async function messageRows(db: Db, scope: Scope, f: AnalyticsFilters) {
  let qb = db
    .selectFrom('messages as m')
    .innerJoin('hcps as h', 'h.id', 'm.hcp_id')
    .select([
      'm.id',
      'm.hcp_id',
      'm.rep_id',
      'm.direction',
      'm.status',
      'm.created_at',
      'm.meta_timestamp',
      'm.template_id',
    ])
    .where('m.created_at', '>=', f.from)
    .where('m.created_at', '<', f.to);
  if (scope.markets)
    qb = scope.markets.length
      ? qb.where('h.market_code', 'in', scope.markets)
      : qb.where(sql<boolean>`1 = 0`);
  const rows = await qb.execute();
  const brand = await brandTemplates(db, f.brand);
  // Inbound messages have no rep or template: they follow the outbound ones they answer (same HCP).
  const outbound = rows.filter(
    (r) =>
      r.direction === 'outbound' &&
      (!scope.repIds || (r.rep_id !== null && scope.repIds.includes(r.rep_id))) &&
      (!brand || (r.template_id !== null && brand.has(r.template_id))),
  );
  const hcps = new Set(outbound.map((r) => r.hcp_id));
  const inbound = rows.filter(
    (r) => r.direction === 'inbound' && (!(scope.repIds || brand) || hcps.has(r.hcp_id)),
  );
  return { outbound, inbound };
}

/** Statuses an outbound message has after leaving Parley (held, scheduled, cancelled or queued ones have not). */
const SENT = new Set(['sent', 'delivered', 'read', 'failed', 'unknown']);

async function whatsapp(db: Db, scope: Scope, f: AnalyticsFilters) {
  const { outbound, inbound } = await messageRows(db, scope, f);
  const sent = outbound.filter((m) => SENT.has(m.status));
  const delivered = sent.filter((m) => m.status === 'delivered' || m.status === 'read').length;
  const read = sent.filter((m) => m.status === 'read').length;
  const failed = sent.filter((m) => m.status === 'failed').length;
  const replies = replyFigures([
    ...sent.map((m) => ({
      hcpId: m.hcp_id!,
      direction: 'outbound' as const,
      at: m.created_at,
      status: m.status,
    })),
    ...inbound.map((m) => ({
      hcpId: m.hcp_id!,
      direction: 'inbound' as const,
      at: m.meta_timestamp ?? m.created_at,
      status: m.status,
    })),
  ]);
  return {
    summary: {
      sent: sent.length,
      delivered,
      read,
      failed,
      inbound: inbound.length,
      replied: replies.replied,
      deliveryRate: ratio(delivered, sent.length),
      readRate: ratio(read, delivered),
      replyRate: replies.replyRate,
      medianMinutesToReply: replies.medianMinutesToReply,
    },
    rows: [],
  };
}

async function assets(db: Db, scope: Scope, f: AnalyticsFilters) {
  let links = db
    .selectFrom('tracked_links as l')
    .innerJoin('hcps as h', 'h.id', 'l.hcp_id')
    .innerJoin('messages as m', 'm.id', 'l.message_id')
    .innerJoin('assets as a', 'a.id', 'l.asset_id')
    .select(['l.message_id', 'l.asset_id', 'a.key', 'a.version', 'a.title', 'a.brand'])
    .where('l.created_at', '>=', f.from)
    .where('l.created_at', '<', f.to);
  if (scope.markets)
    links = scope.markets.length
      ? links.where('h.market_code', 'in', scope.markets)
      : links.where(sql<boolean>`1 = 0`);
  if (scope.repIds) links = links.where('m.rep_id', 'in', scope.repIds);
  if (f.brand) links = links.where('a.brand', '=', f.brand);
  const shared = await links.execute();
  const messageIds = [...new Set(shared.map((s) => s.message_id))];
  const clicks = messageIds.length
    ? await db
        .selectFrom('visible_interactions')
        .select(['message_id', 'asset_ids_json'])
        .where('kind', '=', 'click')
        .where('message_id', 'in', messageIds)
        .execute()
    : [];
  const clicked = new Set<string>();
  const clickCount = new Map<string, number>();
  for (const c of clicks)
    for (const a of JSON.parse(c.asset_ids_json) as string[]) {
      clicked.add(`${c.message_id} ${a}`);
      clickCount.set(a, (clickCount.get(a) ?? 0) + 1);
    }
  const byAsset = new Map<
    string,
    { key: string; version: number; title: string; sent: number; clickedLinks: number }
  >();
  for (const s of shared) {
    const row = byAsset.get(s.asset_id) ?? {
      key: s.key,
      version: s.version,
      title: s.title,
      sent: 0,
      clickedLinks: 0,
    };
    row.sent++;
    if (clicked.has(`${s.message_id} ${s.asset_id}`)) row.clickedLinks++;
    byAsset.set(s.asset_id, row);
  }
  const rows = [...byAsset.entries()]
    .map(([id, r]) => ({
      assetId: id,
      key: r.key,
      version: r.version,
      title: r.title,
      linksSent: r.sent,
      linksClicked: r.clickedLinks,
      clicks: clickCount.get(id) ?? 0,
      clickThroughRate: ratio(r.clickedLinks, r.sent),
    }))
    .sort((a, b) => a.key.localeCompare(b.key) || a.version - b.version);
  const sent = rows.reduce((n, r) => n + r.linksSent, 0);
  const opened = rows.reduce((n, r) => n + r.linksClicked, 0);
  return { summary: { linksSent: sent, linksClicked: opened, clickThroughRate: ratio(opened, sent) }, rows };
}

/**
 * How many of the given HCPs hold a WhatsApp grant in force at `at`, per purpose: `purposesGrantedAt`'s
 * fold of each ledger, done by the database so that only the counts leave it. The entry in force for an
 * HCP and purpose is the latest known at `at` by capture time, the more restrictive at an equal instant,
 * then by id; it counts if it is a grant not yet expired. Times are compared as text: every writer stores
 * them as `Date#toISOString` gives them (fixed width, UTC), whose text order is time order. The property
 * test in analytics-consent.test.ts holds the two folds equal.
 *
 * Each ledger's winner over all its entries is kept as the ledger grows (`consent_latest_entries`,
 * migration 0021). When every winner in scope was captured and recorded by `at`, as when a period ends
 * now, the winners are the entries in force and are counted directly; otherwise the ledgers are folded
 * as of `at` (a window function over every entry, 0.6–1 s on the 10M world).
 */
export async function grantsInForce(
  db: Db,
  hcpIds: SelectQueryBuilder<Database, 'hcps', { id: string }>,
  at: string,
): Promise<Map<string, number>> {
  const latest = await db
    .selectFrom('consent_latest_entries')
    .select([
      'purpose',
      sql<number>`sum(case when ${sql.ref('status')} = 'granted'
                            and (${sql.ref('expires_at')} is null or ${sql.ref('expires_at')} > ${at})
                       then 1 else 0 end)`.as('granted'),
      sql<number>`sum(case when ${sql.ref('captured_at')} > ${at} or ${sql.ref('recorded_at')} > ${at}
                       then 1 else 0 end)`.as('after'),
    ])
    .where('channel', '=', 'whatsapp')
    .where('hcp_id', 'in', hcpIds)
    .groupBy('purpose')
    .execute();
  if (latest.every((r) => Number(r.after) === 0))
    return new Map(latest.filter((r) => Number(r.granted) > 0).map((r) => [r.purpose, Number(r.granted)]));
  return foldLedgers(db, hcpIds, at);
}

/** `grantsInForce` from the whole ledgers, as known at `at`. */
async function foldLedgers(
  db: Db,
  hcpIds: SelectQueryBuilder<Database, 'hcps', { id: string }>,
  at: string,
): Promise<Map<string, number>> {
  const rank = sql<number>`case ${sql.ref('status')} when 'pending' then 0 when 'granted' then 1 when 'refused' then 2 else 3 end`;
  const latest = db
    .selectFrom('consent_entries')
    .select((eb) => [
      'purpose',
      'status',
      'expires_at',
      sql<number>`row_number() over (partition by ${sql.ref('hcp_id')}, ${sql.ref('purpose')}
        order by ${sql.ref('captured_at')} desc, ${rank} desc, ${byteOrder(db, eb.ref('id'))} desc)`.as(
        'nth',
      ),
    ])
    .where('channel', '=', 'whatsapp')
    .where('captured_at', '<=', at)
    .where('recorded_at', '<=', at)
    .where('hcp_id', 'in', hcpIds)
    .as('latest');
  const rows = await db
    .selectFrom(latest)
    .select(['latest.purpose', (eb) => eb.fn.countAll<number>().as('n')])
    .where('latest.nth', '=', 1)
    .where('latest.status', '=', 'granted')
    .where((eb) => eb.or([eb('latest.expires_at', 'is', null), eb('latest.expires_at', '>', at)]))
    .groupBy('latest.purpose')
    .execute();
  return new Map(rows.map((r) => [r.purpose, Number(r.n)]));
}

async function consent(db: Db, principal: Principal, scope: Scope, f: AnalyticsFilters) {
  // Coverage is over the HCPs the caller's scope covers: a manager's team territories, a market, or all.
  let inScope = db.selectFrom('hcps').where('erased_at', 'is', null);
  if (principal.role === 'manager') inScope = inScope.where(hcpVisibility(principal));
  if (scope.markets)
    inScope = scope.markets.length
      ? inScope.where('market_code', 'in', scope.markets)
      : inScope.where(sql<boolean>`1 = 0`);
  // The reads below do not depend on each other: PostgreSQL runs them side by side on pooled connections
  // (the fold and the period's entries are each about half a second on the 10M world); SQLite, with one
  // connection, one after the other as before.
  const [counts, granted, inPeriod, { outbound }, requests] = await Promise.all([
    inScope
      .select((eb) => [
        eb.fn.countAll<number>().as('hcps'),
        eb.fn.count<number>('whatsapp_number_bidx').as('with_number'),
      ])
      .executeTakeFirstOrThrow(),
    // Reachable on WhatsApp for a purpose: a number on file and a grant in force at the end of the period.
    grantsInForce(db, inScope.where('whatsapp_number_bidx', 'is not', null).select('id'), f.to),
    // Opt-ins and opt-outs over the period, on WhatsApp: who, for the rates below.
    db
      .selectFrom('consent_entries')
      .select(['hcp_id', 'status'])
      .distinct()
      .where('channel', '=', 'whatsapp')
      .where('status', 'in', ['granted', 'withdrawn'])
      .where('captured_at', '>=', f.from)
      .where('captured_at', '<', f.to)
      .where('hcp_id', 'in', inScope.select('id'))
      .execute(),
    messageRows(db, scope, f),
    db
      .selectFrom('templates')
      .select('id')
      .where('type', '=', 'opt_in_request')
      .execute()
      .then((t) => new Set(t.map((x) => x.id))),
  ]);
  const hcpCount = Number(counts.hcps);
  const withNumberCount = Number(counts.with_number);
  const purposes = ['promotional', 'non_promotional', 'service', 'medical_information', 'events'] as const;
  const rows = purposes.map((purpose) => ({
    purpose,
    hcps: hcpCount,
    hcpsWithWhatsapp: withNumberCount,
    reachable: granted.get(purpose) ?? 0,
    coverage: ratio(granted.get(purpose) ?? 0, hcpCount),
  }));
  const optIns = new Set(inPeriod.filter((e) => e.status === 'granted').map((e) => e.hcp_id));
  const optOuts = new Set(inPeriod.filter((e) => e.status === 'withdrawn').map((e) => e.hcp_id));
  const asked = new Set(
    outbound
      .filter((m) => m.template_id && requests.has(m.template_id) && SENT.has(m.status))
      .map((m) => m.hcp_id!),
  );
  const messaged = new Set(outbound.filter((m) => SENT.has(m.status)).map((m) => m.hcp_id!));
  const askedAndGranted = [...asked].filter((h) => optIns.has(h)).length;
  const messagedAndWithdrew = [...messaged].filter((h) => optOuts.has(h)).length;
  return {
    summary: {
      hcps: hcpCount,
      hcpsWithWhatsapp: withNumberCount,
      optInRequestsSentTo: asked.size,
      optedIn: optIns.size,
      optInRate: ratio(askedAndGranted, asked.size),
      hcpsMessaged: messaged.size,
      optedOut: optOuts.size,
      optOutRate: ratio(messagedAndWithdrew, messaged.size),
    },
    rows,
  };
}

async function decisions(db: Db, scope: Scope, f: AnalyticsFilters) {
  let qb = db
    .selectFrom('policy_decisions as d')
    .innerJoin('hcps as h', 'h.id', 'd.hcp_id')
    .select(['d.hcp_id', 'd.requested_by', 'd.outcome', 'd.reasons_json', 'd.request_json', 'd.kind'])
    .where('d.decided_at', '>=', f.from)
    .where('d.decided_at', '<', f.to)
    // A `check` is a question; only attempts to send (and their re-decision at send time) count.
    .where('d.kind', '!=', 'check');
  if (scope.markets)
    qb = scope.markets.length
      ? qb.where('h.market_code', 'in', scope.markets)
      : qb.where(sql<boolean>`1 = 0`);
  if (scope.repIds) qb = qb.where('d.requested_by', 'in', scope.repIds);
  const rows = await qb.execute();
  const brand = await brandTemplates(db, f.brand);
  return rows
    .map((r) => {
      const request = safeJson(r.request_json) as { templateId?: string; assetIds?: string[] } | null;
      const reasons = (safeJson(r.reasons_json) as { code?: string }[] | null) ?? [];
      return {
        ...r,
        templateId: request?.templateId ?? null,
        assetIds: request?.assetIds ?? [],
        codes: reasons.flatMap((x) => (x.code ? [x.code] : [])),
      };
    })
    .filter((r) => !brand || (r.templateId !== null && brand.has(r.templateId)));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function blocked(db: Db, scope: Scope, f: AnalyticsFilters) {
  const all = await decisions(db, scope, f);
  const denied = all.filter((d) => d.outcome === 'deny');
  const byCode = new Map<string, { attempts: number; hcps: Set<string> }>();
  for (const d of denied)
    for (const code of new Set(d.codes)) {
      const row = byCode.get(code) ?? { attempts: 0, hcps: new Set<string>() };
      row.attempts++;
      row.hcps.add(d.hcp_id);
      byCode.set(code, row);
    }
  return {
    summary: {
      attempts: all.length,
      blocked: denied.length,
      blockedRate: ratio(denied.length, all.length),
      review: all.filter((d) => d.outcome === 'review').length,
    },
    rows: [...byCode.entries()]
      .map(([reason, r]) => ({ reason, attempts: r.attempts, hcps: r.hcps.size }))
      .sort((a, b) => b.attempts - a.attempts || a.reason.localeCompare(b.reason)),
  };
}

async function overMessaging(db: Db, scope: Scope, f: AnalyticsFilters) {
  const { outbound } = await messageRows(db, scope, f);
  const sent = outbound.filter((m) => SENT.has(m.status));
  const load = weeklyLoad(
    sent.map((m) => ({ hcpId: m.hcp_id!, at: m.created_at })),
    f.weeklyCap,
  );
  const denied = (await decisions(db, scope, f)).filter((d) => d.outcome === 'deny');
  const capped = denied.filter((d) => d.codes.includes('frequency_cap') || d.codes.includes('rep_cap'));
  const hcpsMessaged = new Set(sent.map((m) => m.hcp_id)).size;
  return {
    summary: {
      messagesSent: sent.length,
      hcpsMessaged,
      messagesPerHcpPerWeek:
        hcpsMessaged === 0
          ? null
          : Math.round((sent.length / hcpsMessaged / weeksIn(f.from, f.to)) * 100) / 100,
      maxPerHcpWeek: load.maxPerHcpWeek,
      weeklyCap: f.weeklyCap,
      hcpWeeksOverCap: load.hcpWeeksOverCap,
      hcpsOverCap: load.hcpsOverCap,
      attemptsBeyondCaps: capped.length,
      hcpsAtCap: new Set(capped.map((d) => d.hcp_id)).size,
    },
    rows: [],
  };
}

async function consistency(db: Db, scope: Scope, f: AnalyticsFilters) {
  const { outbound } = await messageRows(db, scope, f);
  const sent = outbound.filter((m) => SENT.has(m.status) && m.rep_id !== null);
  const byRep = new Map<string, { messages: number; templated: number; hours: number[] }>();
  for (const m of sent) {
    const r = byRep.get(m.rep_id!) ?? { messages: 0, templated: 0, hours: [] };
    r.messages++;
    if (m.template_id) r.templated++;
    r.hours.push(new Date(m.created_at).getUTCHours());
    byRep.set(m.rep_id!, r);
  }
  const users = byRep.size
    ? await db
        .selectFrom('users')
        .select(['id', 'name'])
        .where('id', 'in', [...byRep.keys()])
        .execute()
    : [];
  const names = new Map(users.map((u) => [u.id, u.name]));
  const rows = [...byRep.entries()]
    .map(([repId, r]) => ({
      repId,
      repName: names.get(repId) ?? null,
      messages: r.messages,
      fromTemplates: r.templated,
      templateShare: ratio(r.templated, r.messages),
      medianSendHourUtc: median(r.hours),
    }))
    .sort((a, b) => b.messages - a.messages || a.repId.localeCompare(b.repId));
  const volumes = spread(rows.map((r) => r.messages));
  const templated = rows.reduce((n, r) => n + r.fromTemplates, 0);
  return {
    summary: {
      reps: rows.length,
      messages: sent.length,
      templateShare: ratio(templated, sent.length),
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
      // A literal, not a parameter: the planner matches it to the partial index of clicks without needing
      // to plan for the bound value (SQLite does that only with its STAT4 statistics).
      .where(sql<boolean>`${sql.ref('i.kind')} = 'click'`)
      .where('i.status', 'in', ['expired', 'withdrawn', 'superseded'])
  );
}

async function contentUsage(db: Db, scope: Scope, f: AnalyticsFilters) {
  const { outbound } = await messageRows(db, scope, f);
  const sent = outbound.filter((m) => SENT.has(m.status) && m.template_id);
  const uses = new Map<string, { messages: number; hcps: Set<string> }>();
  for (const m of sent) {
    const u = uses.get(m.template_id!) ?? { messages: 0, hcps: new Set<string>() };
    u.messages++;
    u.hcps.add(m.hcp_id!);
    uses.set(m.template_id!, u);
  }
  const all = await decisions(db, scope, f);
  const expiredAttempts = new Map<string, number>();
  let expiredTemplate = 0;
  let expiredAsset = 0;
  for (const d of all) {
    if (d.codes.includes('template_expired') && d.templateId) {
      expiredTemplate++;
      expiredAttempts.set(d.templateId, (expiredAttempts.get(d.templateId) ?? 0) + 1);
    }
    if (d.codes.includes('asset_expired')) expiredAsset++;
  }
  const ids = [...new Set([...uses.keys(), ...expiredAttempts.keys()])];
  const templates = ids.length
    ? await db
        .selectFrom('templates')
        .select(['id', 'key', 'version', 'status', 'brand'])
        .where('id', 'in', ids)
        .execute()
    : [];
  const expiredClicks = Number((await expiredClicksQuery(db, scope, f).executeTakeFirstOrThrow()).n);
  return {
    summary: {
      templatedMessages: sent.length,
      templatesUsed: uses.size,
      attemptsWithExpiredTemplate: expiredTemplate,
      attemptsWithExpiredAsset: expiredAsset,
      clicksOnExpiredAssets: expiredClicks,
    },
    rows: templates
      .map((t) => ({
        templateId: t.id,
        key: t.key,
        version: t.version,
        status: t.status,
        brand: t.brand,
        messages: uses.get(t.id)?.messages ?? 0,
        hcpsReached: uses.get(t.id)?.hcps.size ?? 0,
        attemptsWhileExpired: expiredAttempts.get(t.id) ?? 0,
      }))
      .sort((a, b) => a.key.localeCompare(b.key) || a.version - b.version),
  };
}

/**
 * Runs one analytics report for a principal: aggregates only, never a name, number or message text of an
 * HCP. Filters narrow the caller's scope; they never widen it.
 */
export async function runAnalyticsReport(
  db: Db,
  principal: Principal,
  report: AnalyticsReport,
  filters: AnalyticsFilters,
): Promise<AnalyticsResult> {
  const scope = await scopeOf(db, principal, filters);
  const echo = {
    market: filters.market ?? null,
    brand: filters.brand ?? null,
    channel: filters.channel ?? null,
    rep: filters.rep ?? null,
    from: filters.from,
    to: filters.to,
  };
  const run = async (): Promise<Omit<AnalyticsResult, 'report' | 'filters'>> => {
    switch (report) {
      case 'volume':
        return volume(db, scope, filters);
      case 'whatsapp':
        return whatsapp(db, scope, filters);
      case 'assets':
        return assets(db, scope, filters);
      case 'consent':
        return consent(db, principal, scope, filters);
      case 'blocked':
        return blocked(db, scope, filters);
      case 'over-messaging':
        return overMessaging(db, scope, filters);
      case 'consistency':
        return consistency(db, scope, filters);
      case 'content-usage':
        return contentUsage(db, scope, filters);
      case 'overview': {
        const parts = await Promise.all([
          volume(db, scope, filters),
          whatsapp(db, scope, filters),
          assets(db, scope, filters),
          consent(db, principal, scope, filters),
          blocked(db, scope, filters),
        ]);
        const names = ['volume', 'whatsapp', 'assets', 'consent', 'blocked'];
        const summary: Record<string, Cell> = {};
        parts.forEach((p, i) => {
          for (const [k, v] of Object.entries(p.summary)) summary[`${names[i]}.${k}`] = v;
        });
        return { summary, rows: [] };
      }
    }
  };
  return { report, filters: echo, ...(await run()) };
}
