import { sql } from 'kysely';
import { countWhere, isPostgres, writeInChunks, type Db, type DbOrTx } from '../platform/database/index.js';
import { SENT_STATUSES } from './analytics-figures.js';
import { nextDay } from './volume-tally.js';

/**
 * The figures kept per UTC day for messages (migration 0033): per HCP market and template, the inbound
 * messages and the outbound ones that left Parley, by status. The `whatsapp` report reads whole days
 * from them and the rest (the ragged ends of its period, and days whose cells are stale) from the
 * messages, so it is exact whether or not the refresher has caught up. A year is a few thousand cells
 * where the messages were over a million.
 */

/** What a day's cells hold for a set of messages, added up. */
export interface StatusCounts {
  inbound: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
}

/**
 * What a cell counts, as aggregates over the messages a query reads (`table`, their table's name or alias
 * in the query): one definition for the cells a refresh builds and the days a report reads live, so that
 * the two always agree.
 */
export function cellCountColumns(table: string) {
  const direction = sql.ref(`${table}.direction`);
  const status = sql.ref(`${table}.status`);
  const outbound = sql<boolean>`${direction} = 'outbound'`;
  return [
    countWhere(sql<boolean>`${direction} = 'inbound'`).as('inbound'),
    countWhere(sql<boolean>`${outbound} and ${status} in (${sql.join([...SENT_STATUSES])})`).as('sent'),
    countWhere(sql<boolean>`${outbound} and ${status} in ('delivered', 'read')`).as('delivered'),
    countWhere(sql<boolean>`${outbound} and ${status} = 'read'`).as('read'),
    countWhere(sql<boolean>`${outbound} and ${status} = 'failed'`).as('failed'),
  ];
}

/** `StatusCounts` from a row of sums (null for none, text for PostgreSQL's bigints). */
export function statusCountsOf(row: Record<keyof StatusCounts, unknown>): StatusCounts {
  const num = (v: unknown) => Number(v ?? 0);
  return {
    inbound: num(row.inbound),
    sent: num(row.sent),
    delivered: num(row.delivered),
    read: num(row.read),
    failed: num(row.failed),
  };
}

/** Days of [fromDay, toDay) whose cells may no longer match their messages (marked by the triggers). */
export async function staleMessageDays(db: DbOrTx, fromDay: string, toDay: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('stale_message_days')
    .select('day')
    .distinct()
    .where('day', '>=', fromDay)
    .where('day', '<', toDay)
    .execute();
  return new Set(rows.map((r) => r.day));
}

/** Serialises refreshes across PostgreSQL sessions (any number of Parley instances may run one). */
const REFRESH_LOCK = 0x4d534744; // 'MSGD'

/**
 * Rebuilds the cells of one day from its messages and clears the marks that were read, in one
 * transaction; the database counts, so only the cells leave it. A mark written after they were read stays:
 * its day is refreshed again. Returns false when another refresher got there first.
 */
async function refreshDay(db: Db, day: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(${REFRESH_LOCK})`.execute(tx);
    // Marks first, then the rows: every mark read was committed with its rows, which are read after it.
    const marks = await tx.selectFrom('stale_message_days').select('id').where('day', '=', day).execute();
    if (marks.length === 0) return false;
    const cells = await tx
      .selectFrom('messages')
      .select(['market_code', 'template_id', ...cellCountColumns('messages')])
      // A message without an HCP is in no report.
      .where('hcp_id', 'is not', null)
      .where('created_at', '>=', day)
      .where('created_at', '<', nextDay(day))
      .groupBy(['market_code', 'template_id'])
      .execute();
    await tx.deleteFrom('message_day_cells').where('day', '=', day).execute();
    const values = cells
      .map((c) => ({ day, market_code: c.market_code, template_id: c.template_id, ...statusCountsOf(c) }))
      // A cell of messages none of which a report counts (queued ones, say) is left out.
      .filter((c) => c.inbound > 0 || c.sent > 0);
    await writeInChunks(values, (chunk) => tx.insertInto('message_day_cells').values(chunk).execute());
    await writeInChunks(
      marks.map((m) => m.id),
      (ids) => tx.deleteFrom('stale_message_days').where('id', 'in', ids).execute(),
    );
    return true;
  });
}

/**
 * Rebuilds the cells of the days stale now, oldest first, at most `limit` of them; returns how many days
 * were rebuilt. One pass: a day marked again meanwhile waits for the next call. `before` (YYYY-MM-DD)
 * leaves that day and later ones alone: `parley serve`'s refresher skips the current day, which every
 * delivery receipt marks again. Reports are exact without any of it (they read stale days live).
 */
export async function refreshMessageDays(
  db: Db,
  limit = Number.MAX_SAFE_INTEGER,
  options: { before?: string } = {},
): Promise<number> {
  let stale = db.selectFrom('stale_message_days').select('day').distinct().orderBy('day').limit(limit);
  if (options.before) stale = stale.where('day', '<', options.before);
  let refreshed = 0;
  for (const { day } of await stale.execute()) if (await refreshDay(db, day)) refreshed++;
  return refreshed;
}

/**
 * The cells of the whole days from `first` to `last` (YYYY-MM-DD, inclusive) in the given markets (null:
 * all), added up. With a list of templates, only the outbound messages of those templates count (inbound
 * messages have none); null counts every cell, free text and inbound messages included.
 */
export async function cellCounts(
  db: Db,
  run: { first: string; last: string },
  markets: string[] | null,
  templates: string[] | null,
): Promise<StatusCounts> {
  let cells = db
    .selectFrom('message_day_cells as c')
    .select((eb) => [
      eb.fn.sum<number>('c.inbound').as('inbound'),
      eb.fn.sum<number>('c.sent').as('sent'),
      eb.fn.sum<number>('c.delivered').as('delivered'),
      eb.fn.sum<number>('c.read').as('read'),
      eb.fn.sum<number>('c.failed').as('failed'),
    ])
    .where('c.day', '>=', run.first)
    .where('c.day', '<=', run.last);
  if (markets) cells = markets.length ? cells.where('c.market_code', 'in', markets) : cells.where(nothing);
  if (templates)
    cells = templates.length ? cells.where('c.template_id', 'in', templates) : cells.where(nothing);
  return statusCountsOf(await cells.executeTakeFirstOrThrow());
}

const nothing = sql<boolean>`1 = 0`;
