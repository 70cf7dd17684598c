import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * What an imported row costs to write, after 0034 moved the timeline index's entries into chunks: the index
 * by time, interactions_occurred (occurred_at, channel), was the one left where a CRM file's rows land all
 * over (times spread over a year, so a page of it for nearly every row), and two smaller per-row costs
 * came with every import (docs/benchmarks.md, "Import and export on the large world"):
 *
 * - interactions_occurred now leads with the same chunk as the timeline index: (timeline_chunk,
 *   occurred_at, channel). An import's rows go under its chunks, a small range of the index each; readers
 *   of a period (the day refresh, live days of the volume report, retention) search chunk 0 and each
 *   listed chunk (engagement/timeline-chunks.store.ts), and the fold that moves a published chunk into
 *   chunk 0 moves both indexes' entries.
 * - interactions_message holds only rows with a message (a WhatsApp send, status, reply, click): no
 *   imported call or e-mail has one, and every query through it names a message (`message_id = ?`).
 * - An import's new rows no longer mark their days stale one row at a time (a look-up of the day's marks
 *   for each row on SQLite): the import marks each day once, with the batch that first writes to it, as
 *   the trigger did (with the import's id, so the day goes stale when the import is published). The
 *   triggers still mark every other insert, and every update and delete, whatever code writes.
 *
 * The two indexes are rebuilt (on the 10M world, about a minute on either store).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.dropIndex('interactions_occurred').ifExists().execute();
  await db.schema
    .createIndex('interactions_occurred')
    .on('interactions')
    .columns(INTERACTIONS_OCCURRED_COLUMNS)
    .execute();
  await db.schema.dropIndex('interactions_message').execute();
  await db.schema
    .createIndex('interactions_message')
    .on('interactions')
    .column('message_id')
    .where(sql.ref('message_id'), 'is not', null)
    .execute();
  if (pg) {
    await sql.raw(PG_FUNCTION).execute(db);
    return;
  }
  await sql`drop trigger interactions_stale_on_insert`.execute(db);
  await sql`create trigger interactions_stale_on_insert after insert on interactions
            when new.import_id is null
            begin
              insert into stale_interaction_days (day, import_id)
              select substr(new.occurred_at, 1, 10), ''
              where not exists (select 1 from stale_interaction_days
                                where day = substr(new.occurred_at, 1, 10) and import_id = '');
            end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}

/**
 * The columns of interactions_occurred since this migration; the seed, which drops the index while it
 * loads a world and builds it at the end, builds it from this.
 */
export const INTERACTIONS_OCCURRED_COLUMNS = ['timeline_chunk', 'occurred_at', 'channel'];

/** Marks the days of a transition table's rows stale, once per statement (0030). */
const mark = (rows: string, where = '') => `
  insert into stale_interaction_days (day, import_id)
  select distinct substr(occurred_at, 1, 10), coalesce(import_id, '') from ${rows}${where};`;

// The columns a day's cells depend on (0019): a status update alone leaves the day alone.
const CELL_COLUMNS = [
  'occurred_at',
  'hcp_id',
  'hcp_seq',
  'channel',
  'rep_id',
  'template_id',
  'products_json',
  'import_id',
];
const columnsOf = (alias: string) => CELL_COLUMNS.map((c) => `${alias}.${c}`).join(', ');
const changed = `(${columnsOf('o')}) is distinct from (${columnsOf('n')})`;

/** 0030's function, but an insert's rows of an import are left to the import. */
const PG_FUNCTION = `create or replace function parley_interactions_stale() returns trigger language plpgsql
  set search_path from current as $$
  begin
    if tg_op = 'INSERT' then
      ${mark('new_rows', ' where import_id is null')}
    elsif tg_op = 'DELETE' then
      ${mark('old_rows')}
    else
      ${mark(`(select o.occurred_at, o.import_id from old_rows o join new_rows n on n.id = o.id where ${changed}
               union all
               select n.occurred_at, n.import_id from old_rows o join new_rows n on n.id = o.id where ${changed}
              ) changed_rows`)}
    end if;
    return null;
  end $$`;
