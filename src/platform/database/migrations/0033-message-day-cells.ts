import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The `whatsapp` report (and `overview`, which shows its summary) counted the statuses of every message of
 * its period on each request: for a year of the 10M world a pass over 684,687 sent messages, 0.5–0.8 s on
 * either store, and on PostgreSQL the slowest part of `overview`. It now reads figures kept per UTC day,
 * as the volume report does (0019), and reads replies from an index of their own.
 *
 * - `message_day_cells`: one row per day, HCP market and template of messages to or from a known HCP, with
 *   the inbound messages and the outbound ones that left Parley, by status. Counts add up across cells,
 *   so any period of whole days, any market and any template list (a brand) is a sum. Rebuilt a whole
 *   day at a time (engagement/message-day-cells.store.ts).
 * - `stale_message_days`: the days whose cells no longer match their messages. The database marks them
 *   itself, by trigger, on every insert and delete of a message and every update of a column the cells
 *   count by (time, direction, status, template, HCP, market: a delivery receipt is a status update),
 *   whichever code writes. A report reads stale days from the messages, so it is exact while the cells
 *   catch up. As for the interactions (0030): on SQLite a trigger skips a day already marked (writers and
 *   refresher are serialised); on PostgreSQL every statement adds its own mark, so that no write made
 *   during a refresh goes unmarked.
 * - `messages_replies`: a partial index of the outbound messages that were answered (a kept
 *   `reply_wait_ms`, 0024), with what the reply figures read: a rate and a median over the answered
 *   messages, no longer picked out of every message of the period.
 *
 * Existing days are all marked here: the first refresh builds their cells.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('message_day_cells')
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('market_code', 'text')
    .addColumn('template_id', 'text')
    .addColumn('inbound', 'integer', (c) => c.notNull())
    .addColumn('sent', 'integer', (c) => c.notNull())
    .addColumn('delivered', 'integer', (c) => c.notNull())
    .addColumn('read', 'integer', (c) => c.notNull())
    .addColumn('failed', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('message_day_cells_day').on('message_day_cells').column('day').execute();
  await db.schema
    .createTable('stale_message_days')
    .addColumn('id', 'integer', (c) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
    .addColumn('day', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stale_message_days_day')
    .on('stale_message_days')
    .columns(['day', 'id'])
    .execute();
  for (const statement of pg ? postgres : sqlite) await sql.raw(statement).execute(db);
  await sql`insert into stale_message_days (day)
            select distinct substr(created_at, 1, 10) from messages`.execute(db);
  await db.schema
    .createIndex('messages_replies')
    .on('messages')
    .columns(['created_at', 'status', 'reply_wait_ms', 'hcp_id', 'market_code', 'rep_id', 'template_id'])
    // Literals, as the reports say them: a planner uses a partial index only where it finds its condition.
    .where(() => sql<boolean>`direction = 'outbound' and reply_wait_ms is not null`)
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}

/** The columns a day's cells count by: anything else (a wamid, an error, kept facts) leaves the day alone. */
const CELL_COLUMNS = ['created_at', 'direction', 'status', 'template_id', 'hcp_id', 'market_code'];

const sqliteMark = (row: 'new' | 'old') => `
  insert into stale_message_days (day)
  select substr(${row}.created_at, 1, 10)
  where not exists (select 1 from stale_message_days where day = substr(${row}.created_at, 1, 10));`;

const sqliteChanged = CELL_COLUMNS.map((c) => `new.${c} is not old.${c}`).join(' or ');

const sqlite = [
  `create trigger messages_day_stale_on_insert after insert on messages
   begin ${sqliteMark('new')} end`,
  `create trigger messages_day_stale_on_update after update of ${CELL_COLUMNS.join(', ')} on messages
   when ${sqliteChanged}
   begin ${sqliteMark('old')} ${sqliteMark('new')} end`,
  `create trigger messages_day_stale_on_delete after delete on messages
   begin ${sqliteMark('old')} end`,
];

const pgMark = (rows: string) => `
  insert into stale_message_days (day)
  select distinct substr(created_at, 1, 10) from ${rows};`;

// Transition tables cannot be combined with a column list, so the update trigger compares old and new.
const pgColumns = (alias: string) => CELL_COLUMNS.map((c) => `${alias}.${c}`).join(', ');
const pgChanged = `(${pgColumns('o')}) is distinct from (${pgColumns('n')})`;

const postgres = [
  `create function parley_message_days_stale() returns trigger language plpgsql
   set search_path from current as $$
   begin
     if tg_op = 'INSERT' then
       ${pgMark('new_rows')}
     elsif tg_op = 'DELETE' then
       ${pgMark('old_rows')}
     else
       ${pgMark(`(select o.created_at from old_rows o join new_rows n on n.id = o.id where ${pgChanged}
                  union all
                  select n.created_at from old_rows o join new_rows n on n.id = o.id where ${pgChanged}
                 ) changed_rows`)}
     end if;
     return null;
   end $$`,
  `create trigger messages_day_stale_on_insert after insert on messages
   referencing new table as new_rows for each statement execute function parley_message_days_stale()`,
  `create trigger messages_day_stale_on_update after update on messages
   referencing old table as old_rows new table as new_rows
   for each statement execute function parley_message_days_stale()`,
  `create trigger messages_day_stale_on_delete after delete on messages
   referencing old table as old_rows for each statement execute function parley_message_days_stale()`,
];
