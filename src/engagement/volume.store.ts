import { sql } from 'kysely';
import { newId } from '../platform/crypto/index.js';
import {
  isPostgres,
  readInChunks,
  writeInChunks,
  type Db,
  type DbOrTx,
  type Tx,
} from '../platform/database/index.js';
import type { Scope } from './analytics-scope.js';
import type { AnalyticsFilters } from './analytics.store.js';
import { inListedChunks, listedTimelineChunks } from './timeline-chunks.store.js';
import {
  dayRuns,
  daysIn,
  decodeSeqs,
  encodeSeqs,
  nextDay,
  nextMonth,
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

/** Months all of whose days are in `days` (cells not stale), less the months in `staleMonths`. */
function wholeMonths(days: string[], staleMonths: ReadonlySet<string>): Set<string> {
  const counted = new Map<string, number>();
  for (const day of days) counted.set(day.slice(0, 7), (counted.get(day.slice(0, 7)) ?? 0) + 1);
  return new Set(
    [...counted]
      .filter(([month, n]) => n === daysIn(month) && !staleMonths.has(month))
      .map(([month]) => month),
  );
}

/** Months of [fromMonth, toMonth] whose month cells may no longer match. */
async function staleMonthsOf(db: Db, fromMonth: string, toMonth: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('stale_interaction_months')
    .select('month')
    .where('month', '>=', fromMonth)
    .where('month', '<=', toMonth)
    .execute();
  return new Set(rows.map((r) => r.month));
}

/**
 * The volume report. Its reads come in two rounds, each side by side: what is stale (and the brand's
 * products), then the cells and live rows that answer. On SQLite's reader threads each read of a report
 * queues behind the other reports' (as in `overview`), so a report of five reads one after the other
 * finished last, about 0.5 s after its own work was done.
 */
export async function volume(db: Db, scope: Scope, f: AnalyticsFilters): Promise<VolumeFigures> {
  const [brand, stale, staleMonths] = await Promise.all([
    f.brand ? brandConditions(db, f.brand) : null,
    staleDays(db, f.from.slice(0, 10), nextDay(f.to.slice(0, 10))),
    f.bucket === 'month' && !f.brand
      ? staleMonthsOf(db, f.from.slice(0, 7), f.to.slice(0, 7))
      : new Set<string>(),
  ]);
  const plan = planPeriod(f.from, f.to, stale);
  const tally = new VolumeTally(f.bucket);

  // Whole months, when neither the bucket nor a brand needs days: from month cells where none of the
  // month's days and not the month itself is stale.
  const months = f.bucket === 'month' && !brand ? wholeMonths(plan.days, staleMonths) : new Set<string>();
  const monthCells = () => {
    let cells = db
      .selectFrom('interaction_month_cells as c')
      .select(['c.month', 'c.channel', 'c.interactions', 'c.hcp_seqs'])
      .where('c.month', 'in', [...months]);
    if (scope.markets)
      cells = scope.markets.length
        ? cells.where('c.market_code', 'in', scope.markets)
        : cells.where(sql<boolean>`1 = 0`);
    if (scope.repIds) cells = cells.where('c.rep_id', 'in', scope.repIds);
    if (f.channel) cells = cells.where('c.channel', '=', f.channel);
    return cells.execute();
  };
  const days = plan.days.filter((d) => !months.has(d.slice(0, 7)));
  // A read per run of consecutive days: the days between two runs are answered otherwise (month cells,
  // or live as stale), and a year's day cells are tens of thousands of rows.
  const dayCells = (run: { first: string; last: string }) => {
    let cells = db
      .selectFrom('interaction_day_cells as c')
      .select(['c.day', 'c.channel', 'c.interactions', 'c.hcp_seqs'])
      .where('c.day', '>=', run.first)
      .where('c.day', '<=', run.last);
    if (scope.markets)
      cells = scope.markets.length
        ? cells.where('c.market_code', 'in', scope.markets)
        : cells.where(sql<boolean>`1 = 0`);
    if (scope.repIds) cells = cells.where('c.rep_id', 'in', scope.repIds);
    if (f.channel) cells = cells.where('c.channel', '=', f.channel);
    if (brand) cells = cells.where(brand.cells);
    return cells.execute();
  };
  // The market scope of live rows is applied here, by HCP seq: in the query, as a join or a semi-join, it
  // made the planners join every row of a day to its HCP (PostgreSQL) or seek the timeline once per HCP
  // of the market (SQLite), several times the read of the day itself.
  const marketSeqs = async () =>
    scope.markets && plan.live.length > 0
      ? new Set(
          scope.markets.length
            ? (
                await db.selectFrom('hcps').select('seq').where('market_code', 'in', scope.markets).execute()
              ).map((h) => h.seq)
            : [],
        )
      : null;
  const liveGroups = (range: { from: string; to: string }, chunks: readonly number[]) => {
    let rows = db
      .selectFrom('visible_interactions as i')
      .where(inListedChunks('i', chunks))
      .where('i.occurred_at', '>=', range.from)
      .where('i.occurred_at', '<', range.to);
    if (scope.repIds) rows = rows.where('i.rep_id', 'in', scope.repIds);
    if (f.channel) rows = rows.where('i.channel', '=', f.channel);
    if (brand) rows = rows.where(brand.interactions);
    const day = sql<string>`substr(${sql.ref('i.occurred_at')}, 1, 10)`;
    return rows
      .select([day.as('day'), 'i.channel', 'i.hcp_seq', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy([day, 'i.channel', 'i.hcp_seq'])
      .execute();
  };
  const [monthRows, dayCellRuns, inMarkets, live] = await Promise.all([
    months.size > 0 ? monthCells() : [],
    Promise.all(dayRuns(days).map(dayCells)),
    marketSeqs(),
    // The index by time's listed chunks first, read beside the other reads rather than before them.
    plan.live.length > 0
      ? listedTimelineChunks(db).then((chunks) =>
          Promise.all(plan.live.map((range) => liveGroups(range, chunks))),
        )
      : [],
  ]);
  // Added up in one order whatever order the reads finished in.
  for (const cell of monthRows)
    tally.addCell(cell.month, cell.channel, cell.interactions, decodeSeqs(cell.hcp_seqs));
  for (const cell of dayCellRuns.flat())
    tally.addCell(cell.day, cell.channel, cell.interactions, decodeSeqs(cell.hcp_seqs));
  for (const groups of live)
    for (const g of groups)
      if (!inMarkets || inMarkets.has(g.hcp_seq)) tally.addHcp(g.day, g.channel, Number(g.n), g.hcp_seq);
  return tally.figures();
}

/**
 * A day's visible interactions, with what its cells group by: a range of the index by time in chunk 0 and
 * each listed chunk. Exported for its query-plan test.
 */
export function dayRowsQuery(db: DbOrTx, day: string, chunks: readonly number[]) {
  return db
    .selectFrom('visible_interactions as i')
    .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
    .select(['h.market_code', 'i.channel', 'i.rep_id', 'i.template_id', 'i.products_json', 'i.hcp_seq'])
    .where(inListedChunks('i', chunks))
    .where('i.occurred_at', '>=', day)
    .where('i.occurred_at', '<', nextDay(day));
}

/** Serialises refreshes across PostgreSQL sessions (any number of Parley instances may run one). */
const REFRESH_LOCK = 0x5041524c; // 'PARL'

type DayRow = Awaited<ReturnType<ReturnType<typeof dayRowsQuery>['execute']>>[number];

/** A day's cells from its rows: one per market, channel, rep, template and products. */
function dayCellValues(day: string, rows: DayRow[]) {
  const cells = new Map<string, { row: DayRow; interactions: number; hcps: Set<number> }>();
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
  return [...cells.values()].map(({ row, interactions, hcps }) => ({
    day,
    market_code: row.market_code,
    channel: row.channel,
    rep_id: row.rep_id,
    template_id: row.template_id,
    products_json: row.products_json,
    interactions,
    hcp_seqs: encodeSeqs(hcps),
  }));
}

/** Replaces a day's cells and clears the marks its rebuild answered (ids), in the caller's transaction. */
async function writeDayCells(
  tx: Tx,
  day: string,
  values: ReturnType<typeof dayCellValues>,
  markIds: number[],
) {
  await tx.deleteFrom('interaction_day_cells').where('day', '=', day).execute();
  await writeInChunks(values, (chunk) => tx.insertInto('interaction_day_cells').values(chunk).execute());
  await writeInChunks(markIds, (ids) =>
    tx.deleteFrom('stale_interaction_days').where('id', 'in', ids).execute(),
  );
  await markMonthStale(tx, day.slice(0, 7));
}

export interface DayRefreshOptions {
  /**
   * Where a day's rows are read: the readers of a SQLite file (`ParleyContext.readers`), so that the read
   * (every row of the day) does not hold the event loop. Default: `db`, in the rebuild's one transaction.
   */
  readers?: Db;
  /** For tests: runs after a day's marks are claimed and before its rows are read (readers only). */
  afterClaim?: (day: string) => Promise<void>;
}

/**
 * Rebuilds the cells of one day from its visible interactions and clears the marks that were read.
 * Returns false when another refresher got there first. A mark written after they were read stays: its
 * day is refreshed again.
 */
async function refreshDay(db: Db, day: string, options: DayRefreshOptions): Promise<boolean> {
  const { readers = db } = options;
  return readers === db || isPostgres(db)
    ? refreshDayInOneTransaction(db, day)
    : refreshDayOnReaders(db, readers, day, options);
}

/** Marks, rows and cells in one transaction (PostgreSQL, whose reads never hold the event loop; tests). */
async function refreshDayInOneTransaction(db: Db, day: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(${REFRESH_LOCK})`.execute(tx);
    // Marks first, then the rows: every mark read was committed with its rows, which are read after it.
    const marks = await actionableMarks(tx).select('s.id').where('s.day', '=', day).execute();
    if (marks.length === 0) return false;
    // Then the chunks: an import published since the marks were read left a mark of its own, unread.
    const chunks = await listedTimelineChunks(tx);
    const rows = await dayRowsQuery(tx, day, chunks).execute();
    await writeDayCells(
      tx,
      day,
      dayCellValues(day, rows),
      marks.map((m) => m.id),
    );
    return true;
  });
}

/**
 * SQLite with reader threads: the day's rows (0.8 s of reading on the 10M world, 2.4–3.5 s on a 29M one,
 * all of it holding the event loop and every webhook when read on the store's own connection) are read
 * on a reader, outside any transaction of the store's connection, between two short ones:
 *
 * 1. the day's marks are claimed: given a token of this rebuild as their import id. A claimed mark is
 *    still actionable (reports read the day live), but no longer the `''` mark the insert trigger looks
 *    for before adding one, so a row changed during the read marks the day again;
 * 2. the rows are read on a reader, whose snapshot holds every row the claimed marks were written with;
 * 3. the cells are written and the claimed marks deleted, only if every one of them still carries this
 *    rebuild's token: a refresher that claimed them since (another process, or one taking over marks a
 *    crashed rebuild left claimed) rebuilds the day from a later read, and this one writes nothing.
 */
async function refreshDayOnReaders(
  db: Db,
  readers: Db,
  day: string,
  options: DayRefreshOptions,
): Promise<boolean> {
  const claim = newId('refresh');
  const claimed = await db.transaction().execute(async (tx) => {
    const ids = (await actionableMarks(tx).select('s.id').where('s.day', '=', day).execute()).map(
      (m) => m.id,
    );
    await writeInChunks(ids, (chunk) =>
      tx.updateTable('stale_interaction_days').set({ import_id: claim }).where('id', 'in', chunk).execute(),
    );
    return ids;
  });
  if (claimed.length === 0) return false;
  await options.afterClaim?.(day);
  // The chunks before the rows, as above: an import published in between left a mark of its own.
  const chunks = await listedTimelineChunks(readers);
  const values = dayCellValues(day, await dayRowsQuery(readers, day, chunks).execute());
  return db.transaction().execute(async (tx) => {
    const held = await readInChunks(claimed, (ids) =>
      tx
        .selectFrom('stale_interaction_days')
        .select('id')
        .where('id', 'in', ids)
        .where('import_id', '=', claim)
        .execute(),
    );
    if (held.length !== claimed.length) return false;
    await writeDayCells(tx, day, values, claimed);
    return true;
  });
}

async function markMonthStale(tx: DbOrTx, month: string) {
  const marked = await tx
    .selectFrom('stale_interaction_months')
    .select('id')
    .where('month', '=', month)
    .executeTakeFirst();
  if (!marked) await tx.insertInto('stale_interaction_months').values({ month }).execute();
}

/**
 * Rebuilds a month's cells from its day cells (per market, channel and rep: the counts summed, the sets
 * united) and clears the month's marks that were read, in one transaction.
 */
async function refreshMonth(db: Db, month: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(${REFRESH_LOCK})`.execute(tx);
    const marks = await tx
      .selectFrom('stale_interaction_months')
      .select('id')
      .where('month', '=', month)
      .execute();
    if (marks.length === 0) return false;
    const days = await tx
      .selectFrom('interaction_day_cells')
      .select(['market_code', 'channel', 'rep_id', 'interactions', 'hcp_seqs'])
      .where('day', '>=', month)
      .where('day', '<', nextMonth(month))
      .execute();
    const cells = new Map<string, { day: (typeof days)[number]; interactions: number; hcps: Set<number> }>();
    for (const day of days) {
      const key = JSON.stringify([day.market_code, day.channel, day.rep_id]);
      const cell = cells.get(key) ?? { day, interactions: 0, hcps: new Set<number>() };
      cell.interactions += day.interactions;
      for (const seq of decodeSeqs(day.hcp_seqs)) cell.hcps.add(seq);
      cells.set(key, cell);
    }
    await tx.deleteFrom('interaction_month_cells').where('month', '=', month).execute();
    const values = [...cells.values()].map(({ day, interactions, hcps }) => ({
      month,
      market_code: day.market_code,
      channel: day.channel,
      rep_id: day.rep_id,
      interactions,
      hcp_seqs: encodeSeqs(hcps),
    }));
    await writeInChunks(values, (chunk) => tx.insertInto('interaction_month_cells').values(chunk).execute());
    await tx
      .deleteFrom('stale_interaction_months')
      .where(
        'id',
        'in',
        marks.map((m) => m.id),
      )
      .execute();
    return true;
  });
}

/**
 * Rebuilds the cells of the days stale now, oldest first, at most `limit` of them, then the month cells
 * of the months those (or earlier) rebuilds changed; returns how many days were rebuilt. One pass: a day
 * marked again meanwhile waits for the next call. `before` (YYYY-MM-DD) leaves that day and later ones
 * alone: the refresher in `parley serve` skips the current day, which every webhook marks again and which
 * reports read as a partial day anyway. Reports are exact without any of it (they read stale days live).
 */
export async function refreshDayCells(
  db: Db,
  limit = Number.MAX_SAFE_INTEGER,
  options: { before?: string } & DayRefreshOptions = {},
): Promise<number> {
  let stale = actionableMarks(db).select('s.day').distinct().orderBy('s.day').limit(limit);
  if (options.before) stale = stale.where('s.day', '<', options.before);
  let refreshed = 0;
  for (const { day } of await stale.execute()) if (await refreshDay(db, day, options)) refreshed++;
  const months = await db.selectFrom('stale_interaction_months').select('month').distinct().execute();
  for (const { month } of months) await refreshMonth(db, month);
  return refreshed;
}
