import { sql } from 'kysely';
import { isPostgres, type Db, type DbOrTx } from '../platform/database/index.js';
import type { Scope } from './analytics-scope.js';
import type { AnalyticsFilters } from './analytics.store.js';
import {
  decodeSeqs,
  encodeSeqs,
  nextDay,
  planPeriod,
  VolumeTally,
  type VolumeFigures,
} from './volume-tally.js';

/**
 * The volume report (interactions and HCPs reached, by channel over time) and the day cells it reads
 * (migration 0019). Whole days come from `interaction_day_cells`; the ragged ends of the period and any
 * day whose cells are stale come from the interactions themselves, so figures are exact whether or not
 * the refresher has caught up. Reading a year of cells costs a few thousand rows where the interactions
 * were ten million.
 */

/**
 * The brand filter, as one condition on an interaction or a cell (both carry `template_id` and
 * `products_json`): a template of the brand, or a product listed by the brand's name or by the id or
 * name of one of its products.
 */
async function brandConditions(db: Db, brand: string) {
  const products = await db
    .selectFrom('products')
    .select(['id', 'name'])
    .where('brand', '=', brand)
    .execute();
  const names = [...new Set([brand, ...products.flatMap((p) => [p.id, p.name])])];
  const on = (alias: 'i' | 'c') => {
    const listed = names.map(
      (n) =>
        sql<boolean>`${sql.ref(`${alias}.products_json`)} like ${`%${JSON.stringify(n).replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`,
    );
    return sql<boolean>`(${sql.ref(`${alias}.template_id`)} in (select id from templates where brand = ${brand})
                         or ${sql.join(listed, sql` or `)})`;
  };
  return { interactions: on('i'), cells: on('c') };
}

/** Days of [fromDay, toDay) whose cells may no longer match (marked by the triggers, and visible). */
export async function staleDays(db: DbOrTx, fromDay: string, toDay: string): Promise<Set<string>> {
  const rows = await actionableMarks(db)
    .select('s.day')
    .distinct()
    .where('s.day', '>=', fromDay)
    .where('s.day', '<', toDay)
    .execute();
  return new Set(rows.map((r) => r.day));
}

/**
 * Marks that say a day changed for readers: written by the API, WhatsApp, erasure or retention, or by an
 * import already published (or given up). A day marked only by an import still being written has not.
 */
function actionableMarks(db: DbOrTx) {
  return db
    .selectFrom('stale_interaction_days as s')
    .where((eb) =>
      eb.or([
        eb('s.import_id', '=', ''),
        eb('s.import_id', 'not in', eb.selectFrom('unpublished_imports').select('import_id')),
      ]),
    );
}

export async function volume(db: Db, scope: Scope, f: AnalyticsFilters): Promise<VolumeFigures> {
  const brand = f.brand ? await brandConditions(db, f.brand) : null;
  const stale = await staleDays(db, f.from.slice(0, 10), nextDay(f.to.slice(0, 10)));
  const plan = planPeriod(f.from, f.to, stale);
  const tally = new VolumeTally(f.bucket);

  if (plan.days.length > 0) {
    const wanted = new Set(plan.days);
    let cells = db
      .selectFrom('interaction_day_cells as c')
      .select(['c.day', 'c.channel', 'c.interactions', 'c.hcp_seqs'])
      .where('c.day', '>=', plan.days[0]!)
      .where('c.day', '<=', plan.days.at(-1)!);
    if (scope.markets)
      cells = scope.markets.length
        ? cells.where('c.market_code', 'in', scope.markets)
        : cells.where(sql<boolean>`1 = 0`);
    if (scope.repIds) cells = cells.where('c.rep_id', 'in', scope.repIds);
    if (f.channel) cells = cells.where('c.channel', '=', f.channel);
    if (brand) cells = cells.where(brand.cells);
    for (const cell of await cells.execute())
      if (wanted.has(cell.day))
        tally.addCell(cell.day, cell.channel, cell.interactions, decodeSeqs(cell.hcp_seqs));
  }

  for (const range of plan.live) {
    // The market scope as a semi-join on the HCP's seq, and none without it: joining every row of a
    // day to its HCP only to learn a market nobody asked about doubled the read on PostgreSQL.
    let rows = db
      .selectFrom('visible_interactions as i')
      .where('i.occurred_at', '>=', range.from)
      .where('i.occurred_at', '<', range.to);
    if (scope.markets)
      rows = scope.markets.length
        ? rows.where(
            'i.hcp_seq',
            'in',
            db.selectFrom('hcps').select('seq').where('market_code', 'in', scope.markets),
          )
        : rows.where(sql<boolean>`1 = 0`);
    if (scope.repIds) rows = rows.where('i.rep_id', 'in', scope.repIds);
    if (f.channel) rows = rows.where('i.channel', '=', f.channel);
    if (brand) rows = rows.where(brand.interactions);
    const day = sql<string>`substr(${sql.ref('i.occurred_at')}, 1, 10)`;
    const groups = await rows
      .select([day.as('day'), 'i.channel', 'i.hcp_seq', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy([day, 'i.channel', 'i.hcp_seq'])
      .execute();
    for (const g of groups) tally.addHcp(g.day, g.channel, Number(g.n), g.hcp_seq);
  }
  return tally.figures();
}

/** Serialises refreshes across PostgreSQL sessions (any number of Parley instances may run one). */
const REFRESH_LOCK = 0x5041524c; // 'PARL'

/**
 * Rebuilds the cells of one day from its visible interactions and clears the marks that were read, in
 * one transaction. A mark written after they were read stays: its day is refreshed again. Returns false
 * when another refresher got there first.
 */
async function refreshDay(db: Db, day: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(${REFRESH_LOCK})`.execute(tx);
    // Marks first, then the rows: every mark read was committed with its rows, which are read after it.
    const marks = await actionableMarks(tx).select('s.id').where('s.day', '=', day).execute();
    if (marks.length === 0) return false;
    const rows = await tx
      .selectFrom('visible_interactions as i')
      .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
      .select(['h.market_code', 'i.channel', 'i.rep_id', 'i.template_id', 'i.products_json', 'i.hcp_seq'])
      .where('i.occurred_at', '>=', day)
      .where('i.occurred_at', '<', nextDay(day))
      .execute();
    const cells = new Map<string, { row: (typeof rows)[number]; interactions: number; hcps: Set<number> }>();
    for (const row of rows) {
      const key = JSON.stringify([
        row.market_code,
        row.channel,
        row.rep_id,
        row.template_id,
        row.products_json,
      ]);
      const cell = cells.get(key) ?? { row, interactions: 0, hcps: new Set<number>() };
      cell.interactions++;
      cell.hcps.add(row.hcp_seq);
      cells.set(key, cell);
    }
    await tx.deleteFrom('interaction_day_cells').where('day', '=', day).execute();
    const values = [...cells.values()].map(({ row, interactions, hcps }) => ({
      day,
      market_code: row.market_code,
      channel: row.channel,
      rep_id: row.rep_id,
      template_id: row.template_id,
      products_json: row.products_json,
      interactions,
      hcp_seqs: encodeSeqs(hcps),
    }));
    for (let i = 0; i < values.length; i += 500)
      await tx
        .insertInto('interaction_day_cells')
        .values(values.slice(i, i + 500))
        .execute();
    const ids = marks.map((m) => m.id);
    for (let i = 0; i < ids.length; i += 500)
      await tx
        .deleteFrom('stale_interaction_days')
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
    return true;
  });
}

/**
 * Rebuilds the cells of the days stale now, oldest first, at most `limit` of them; returns how many were
 * rebuilt. One pass: a day marked again meanwhile (today, by every webhook) waits for the next call.
 * Reports are exact without it (they read stale days live); it keeps them fast.
 */
export async function refreshDayCells(db: Db, limit = Number.MAX_SAFE_INTEGER): Promise<number> {
  const days = await actionableMarks(db).select('s.day').distinct().orderBy('s.day').limit(limit).execute();
  let refreshed = 0;
  for (const { day } of days) if (await refreshDay(db, day)) refreshed++;
  return refreshed;
}
