import { sql } from 'kysely';
import { isPostgres, type Db, type DbOrTx } from '../platform/database/index.js';
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
    const status = sql.ref('status');
    const outbound = sql<boolean>`${sql.ref('direction')} = 'outbound'`;
    const count = (condition: ReturnType<typeof sql<boolean>>) =>
      sql<number>`sum(case when ${condition} then 1 else 0 end)`;
    const cells = await tx
      .selectFrom('messages')
      .select((eb) => [
        'market_code',
        'template_id',
        count(sql<boolean>`${sql.ref('direction')} = 'inbound'`).as('inbound'),
        count(sql<boolean>`${outbound} and ${eb(status, 'in', [...SENT_STATUSES])}`).as('sent'),
        count(sql<boolean>`${outbound} and ${status} in ('delivered', 'read')`).as('delivered'),
        count(sql<boolean>`${outbound} and ${status} = 'read'`).as('read'),
        count(sql<boolean>`${outbound} and ${status} = 'failed'`).as('failed'),
      ])
      // A message without an HCP is in no report.
      .where('hcp_id', 'is not', null)
      .where('created_at', '>=', day)
      .where('created_at', '<', nextDay(day))
      .groupBy(['market_code', 'template_id'])
      .execute();
    await tx.deleteFrom('message_day_cells').where('day', '=', day).execute();
    const values = cells
      .map((c) => ({
        day,
        market_code: c.market_code,
        template_id: c.template_id,
        inbound: Number(c.inbound),
        sent: Number(c.sent),
        delivered: Number(c.delivered),
        read: Number(c.read),
        failed: Number(c.failed),
      }))
      // A cell of messages none of which a report counts (queued ones, say) is left out.
      .filter((c) => c.inbound > 0 || c.sent > 0);
    for (let i = 0; i < values.length; i += 500)
      await tx
        .insertInto('message_day_cells')
        .values(values.slice(i, i + 500))
        .execute();
    const ids = marks.map((m) => m.id);
    for (let i = 0; i < ids.length; i += 500)
      await tx
        .deleteFrom('stale_message_days')
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
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
  const row = await cells.executeTakeFirstOrThrow();
  return {
    inbound: Number(row.inbound ?? 0),
    sent: Number(row.sent ?? 0),
    delivered: Number(row.delivered ?? 0),
    read: Number(row.read ?? 0),
    failed: Number(row.failed ?? 0),
  };
}

const nothing = sql<boolean>`1 = 0`;
