import { sql, type SelectQueryBuilder } from 'kysely';
import { hcpVisibility } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import {
  byteOrder,
  countWhere,
  inJsonIdList,
  type Database,
  type Db,
  type InteractionsTable,
} from '../platform/database/index.js';
import { ratio } from './analytics-figures.js';
import { scopeOf, type Scope } from './analytics-scope.js';
import {
  blocked,
  consistency,
  contentUsage,
  messagingReach,
  overMessaging,
  whatsapp,
} from './message-analytics.store.js';
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

async function assets(db: Db, scope: Scope, f: AnalyticsFilters) {
  // The period's links, narrowed by the caller's scope and the brand asked for. Each narrowing is a
  // condition of its own, looked up per link only when asked for: joining every link to its HCP and its
  // message whatever the scope cost compliance's year two look-ups a link (0.4 of the report's 0.45 s on
  // the 10M world).
  let links = db
    .selectFrom('tracked_links as l')
    .where('l.created_at', '>=', f.from)
    .where('l.created_at', '<', f.to);
  if (scope.markets) {
    const markets = scope.markets;
    links = markets.length
      ? links.where((eb) =>
          eb.exists(
            eb
              .selectFrom('hcps as h')
              .select(sql`1`.as('one'))
              .whereRef('h.id', '=', 'l.hcp_id')
              .where('h.market_code', 'in', markets),
          ),
        )
      : links.where(sql<boolean>`1 = 0`);
  }
  if (scope.repIds) {
    const repIds = scope.repIds;
    links = links.where((eb) =>
      eb.exists(
        eb
          .selectFrom('messages as m')
          .select(sql`1`.as('one'))
          .whereRef('m.id', '=', 'l.message_id')
          .where('m.rep_id', 'in', repIds),
      ),
    );
  }
  if (f.brand)
    links = links.where(
      'l.asset_id',
      'in',
      db.selectFrom('assets').select('id').where('brand', '=', f.brand),
    );
  // Per asset, counted by the database: links sent; and clicks, where a click names the assets it was on
  // and counts for the link of its message and each of those assets, with the links they opened.
  const [perAsset, clicks] = await Promise.all([
    db
      .selectFrom(
        links
          .select((eb) => ['l.asset_id', eb.fn.countAll<number>().as('sent')])
          .groupBy('l.asset_id')
          .as('g'),
      )
      .innerJoin('assets as a', 'a.id', 'g.asset_id')
      .select(['g.asset_id', 'a.key', 'a.version', 'a.title', 'g.sent'])
      .execute(),
    links
      // Said outright, `message_id is not null` lets both stores read the clicks through their index by
      // message (migration 0029), whatever the join's order.
      .innerJoin('visible_interactions as i', (join) =>
        join
          .onRef('i.message_id', '=', 'l.message_id')
          .on('i.kind', '=', 'click')
          .on('i.message_id', 'is not', null),
      )
      .where((eb) => inJsonIdList(db, eb.ref('i.asset_ids_json'), eb.ref('l.asset_id')))
      .select((eb) => [
        'l.asset_id',
        eb.fn.countAll<number>().as('clicks'),
        eb.fn.count<number>('l.message_id').distinct().as('links'),
      ])
      .groupBy('l.asset_id')
      .execute(),
  ]);
  const clicksOf = new Map(
    clicks.map((c) => [c.asset_id, { clicks: Number(c.clicks), links: Number(c.links) }]),
  );
  const byAsset = new Map(
    perAsset.map((a) => [
      a.asset_id,
      {
        key: a.key,
        version: a.version,
        title: a.title,
        sent: Number(a.sent),
        clickedLinks: clicksOf.get(a.asset_id)?.links ?? 0,
      },
    ]),
  );
  const rows = [...byAsset.entries()]
    .map(([id, r]) => ({
      assetId: id,
      key: r.key,
      version: r.version,
      title: r.title,
      linksSent: r.sent,
      linksClicked: r.clickedLinks,
      clicks: clicksOf.get(id)?.clicks ?? 0,
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
      countWhere(
        sql<boolean>`${sql.ref('status')} = 'granted'
                     and (${sql.ref('expires_at')} is null or ${sql.ref('expires_at')} > ${at})`,
      ).as('granted'),
      countWhere(sql<boolean>`${sql.ref('captured_at')} > ${at} or ${sql.ref('recorded_at')} > ${at}`).as(
        'after',
      ),
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

/** What a report works out: its rows too, or only its summary (for `overview`, which shows summaries). */
export interface ReportParts {
  rows: boolean;
}

async function consent(
  db: Db,
  principal: Principal,
  scope: Scope,
  f: AnalyticsFilters,
  parts: ReportParts = { rows: true },
) {
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
  // The period's WhatsApp consent entries of HCPs in scope. When the scope is every HCP, as it is for
  // compliance, each entry is checked against the erased HCPs (usually none) rather than against a list of
  // the whole world (on SQLite, 65 ms against 135 ms for a year of the 10M world's grants).
  const everyone = principal.role !== 'manager' && !scope.markets;
  const periodEntries = db
    .selectFrom('consent_entries')
    .where('channel', '=', 'whatsapp')
    .where('captured_at', '>=', f.from)
    .where('captured_at', '<', f.to)
    .where(
      'hcp_id',
      everyone ? 'not in' : 'in',
      everyone ? db.selectFrom('hcps').select('id').where('erased_at', 'is not', null) : inScope.select('id'),
    );
  // Opt-ins and opt-outs over the period: who, as subqueries the counts below use.
  const changed = (status: 'granted' | 'withdrawn') =>
    periodEntries.select('hcp_id').where('status', '=', status);
  // How many HCPs opted in (or out): grouped by HCP in the order of consent_entries_status (migration
  // 0028), which a distinct count would sort again (on SQLite, 37 ms against 128 ms for a year of grants).
  const changedHcps = (status: 'granted' | 'withdrawn') =>
    db
      .selectFrom(changed(status).groupBy('hcp_id').as('x'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
  const [counts, granted, optIns, optOuts, reach] = await Promise.all([
    inScope
      .select((eb) => [
        eb.fn.countAll<number>().as('hcps'),
        eb.fn.count<number>('whatsapp_number_bidx').as('with_number'),
      ])
      .executeTakeFirstOrThrow(),
    // Reachable on WhatsApp for a purpose: a number on file and a grant in force at the end of the period
    // (the rows' figures only).
    parts.rows
      ? grantsInForce(db, inScope.where('whatsapp_number_bidx', 'is not', null).select('id'), f.to)
      : new Map<string, number>(),
    changedHcps('granted'),
    changedHcps('withdrawn'),
    messagingReach(db, scope, f, changed('granted'), changed('withdrawn')),
  ]);
  const optedIn = Number(optIns.n);
  const optedOut = Number(optOuts.n);
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
  return {
    summary: {
      hcps: hcpCount,
      hcpsWithWhatsapp: withNumberCount,
      optInRequestsSentTo: reach.asked,
      optedIn,
      optInRate: ratio(reach.askedAndGranted, reach.asked),
      hcpsMessaged: reach.messaged,
      optedOut,
      optOutRate: ratio(reach.messagedAndWithdrew, reach.messaged),
    },
    rows: parts.rows ? rows : [],
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
          // Summaries only: consent's grants in force and blocked's reasons are figures of their rows.
          consent(db, principal, scope, filters, { rows: false }),
          blocked(db, scope, filters, { rows: false }),
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
