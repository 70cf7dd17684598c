import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The volume report counted and de-duplicated every interaction of its period on each request: about
 * 10M rows for a year of the large world, 125 s on SQLite and 35 s on PostgreSQL. It now reads figures
 * kept per UTC day instead (engagement/volume.store.ts).
 *
 * - `interaction_day_cells`: one row per day and combination of everything the report filters or groups
 *   by (the HCP's market, channel, rep, template, products), with the number of interactions and the set
 *   of HCPs (their `seq`s) they reached. Counts add up across cells; reach is the size of the union of
 *   their sets, so it stays exact for any filter and period.
 * - `stale_interaction_days`: the days whose cells no longer match the interactions. The database marks
 *   them itself, by trigger, on every insert, delete and relevant update of an interaction, and when an
 *   HCP moves market: whichever code writes (API, WhatsApp, import, erasure, retention), none can forget.
 *   A row written by an import is marked with its import: that day only goes stale once the import is
 *   published (its rows are invisible until then). A report reads stale days from the interactions
 *   themselves, so it is exact while the cells catch up; a refresher recomputes them.
 *
 * Marks are not unique: on PostgreSQL a unique mark would make concurrent writers of the same day wait
 * on each other's commits. A trigger skips a mark that already exists; a duplicate is harmless.
 * Existing days are all marked here: the first refresh builds their cells.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('interaction_day_cells')
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('market_code', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('rep_id', 'text')
    .addColumn('template_id', 'text')
    .addColumn('products_json', 'text', (c) => c.notNull())
    .addColumn('interactions', 'integer', (c) => c.notNull())
    .addColumn('hcp_seqs', pg ? 'bytea' : 'blob', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('interaction_day_cells_day')
    .on('interaction_day_cells')
    .column('day')
    .execute();
  await db.schema
    .createTable('stale_interaction_days')
    .addColumn('id', 'integer', (c) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('import_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stale_interaction_days_day')
    .on('stale_interaction_days')
    .columns(['day', 'import_id'])
    .execute();
  for (const statement of pg ? postgres : sqlite) await sql.raw(statement).execute(db);
  await sql`insert into stale_interaction_days (day, import_id)
            select distinct substr(occurred_at, 1, 10), '' from interactions`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}

/** Marks the day of `row` (new or old) stale, unless it already is. */
const sqliteMark = (row: 'new' | 'old') => `
  insert into stale_interaction_days (day, import_id)
  select substr(${row}.occurred_at, 1, 10), coalesce(${row}.import_id, '')
  where not exists (select 1 from stale_interaction_days
                    where day = substr(${row}.occurred_at, 1, 10) and import_id = coalesce(${row}.import_id, ''));`;

// Only columns a cell depends on: a status update (every WhatsApp delivery receipt) leaves the day alone.
const CELL_COLUMNS = 'occurred_at, hcp_id, hcp_seq, channel, rep_id, template_id, products_json, import_id';

const sqlite = [
  `create trigger interactions_stale_on_insert after insert on interactions
   begin ${sqliteMark('new')} end`,
  `create trigger interactions_stale_on_update after update of ${CELL_COLUMNS} on interactions
   begin ${sqliteMark('old')} ${sqliteMark('new')} end`,
  `create trigger interactions_stale_on_delete after delete on interactions
   begin ${sqliteMark('old')} end`,
  `create trigger hcps_market_stale after update of market_code on hcps
   when new.market_code is not old.market_code
   begin
     insert into stale_interaction_days (day, import_id)
     select distinct substr(occurred_at, 1, 10), '' from interactions where hcp_seq = new.seq;
   end`,
];

/** Marks the days of a transition table's rows stale, once per statement, unless they already are. */
const pgMark = (rows: string) => `
  insert into stale_interaction_days (day, import_id)
  select d.day, d.import_id
  from (select distinct substr(occurred_at, 1, 10) as day, coalesce(import_id, '') as import_id
        from ${rows}) d
  where not exists (select 1 from stale_interaction_days s where s.day = d.day and s.import_id = d.import_id);`;

// Transition tables cannot be combined with a column list, so the update trigger compares old and new.
const columnsOf = (alias: string) =>
  CELL_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');
const changed = `(${columnsOf('o')}) is distinct from (${columnsOf('n')})`;
const postgres = [
  `create function parley_interactions_stale() returns trigger language plpgsql
   set search_path from current as $$
   begin
     if tg_op = 'INSERT' then
       ${pgMark('new_rows')}
     elsif tg_op = 'DELETE' then
       ${pgMark('old_rows')}
     else
       ${pgMark(`(select o.occurred_at, o.import_id from old_rows o join new_rows n on n.id = o.id where ${changed}
                  union all
                  select n.occurred_at, n.import_id from old_rows o join new_rows n on n.id = o.id where ${changed}
                 ) changed_rows`)}
     end if;
     return null;
   end $$`,
  `create trigger interactions_stale_on_insert after insert on interactions
   referencing new table as new_rows for each statement execute function parley_interactions_stale()`,
  `create trigger interactions_stale_on_update after update on interactions
   referencing old table as old_rows new table as new_rows
   for each statement execute function parley_interactions_stale()`,
  `create trigger interactions_stale_on_delete after delete on interactions
   referencing old table as old_rows for each statement execute function parley_interactions_stale()`,
  `create function parley_hcps_market_stale() returns trigger language plpgsql
   set search_path from current as $$
   begin
     insert into stale_interaction_days (day, import_id)
     select distinct substr(occurred_at, 1, 10), '' from interactions where hcp_seq = new.seq;
     return null;
   end $$`,
  `create trigger hcps_market_stale after update of market_code on hcps
   for each row when (new.market_code is distinct from old.market_code)
   execute function parley_hcps_market_stale()`,
];
