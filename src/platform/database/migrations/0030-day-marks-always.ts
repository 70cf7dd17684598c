import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * On PostgreSQL, a write to the interactions now always marks its days stale, as writes to messages mark
 * their HCPs (0024). The triggers of 0019 skipped a day already marked, and that could lose a write: a
 * refresher reads a day's marks and then its interactions; a writer committing in between saw the marks
 * (committed, not yet deleted) and added none; the refresher, whose snapshot missed the writer's row,
 * then deleted the marks it had read, and left the day's cells without that row and unmarked. With a mark
 * of its own, a write made during a refresh is what the next refresh finds. Marks are not unique, so this
 * costs only more of them for the refresher to delete (at most one per statement and day).
 *
 * SQLite keeps skipping: its writers and its refresher are serialised on one connection, so no write can
 * fall between a refresh's reads and its deletes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql.raw(FUNCTION).execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}

/** Marks the days of a transition table's rows stale, once per statement. */
const mark = (rows: string) => `
  insert into stale_interaction_days (day, import_id)
  select distinct substr(occurred_at, 1, 10), coalesce(import_id, '') from ${rows};`;

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

const FUNCTION = `create or replace function parley_interactions_stale() returns trigger language plpgsql
  set search_path from current as $$
  begin
    if tg_op = 'INSERT' then
      ${mark('new_rows')}
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
