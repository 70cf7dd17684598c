import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * SQLite: one trigger on an insert into interactions instead of two. A trigger runs as a program of its
 * own for every row it may concern, its WHEN condition inside it, so each trigger costs every row
 * written, even one it then leaves alone: for an import's rows (a day's marks are the import's own,
 * 0035; a `hcp_seq` is always given) the two cost a fifth of what writing the row cost (measured on the
 * 10M world, about 2 of 10 µs a row; docs/benchmarks.md). The one trigger does both jobs:
 *
 * - `hcp_seq` is not null (0016: SQLite cannot add NOT NULL to a column it adds to a table), checked after
 *   the insert rather than before it: the statement fails, with the same message, and writes nothing;
 * - a row outside any import marks its day stale (0035).
 *
 * PostgreSQL declares the column NOT NULL and marks days once per statement (0030): nothing to do there.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) return;
  await sql`drop trigger interactions_hcp_seq_not_null`.execute(db);
  await sql`drop trigger interactions_stale_on_insert`.execute(db);
  await sql`create trigger interactions_on_insert after insert on interactions
            when new.hcp_seq is null or new.import_id is null
            begin
              select raise(abort, 'NOT NULL constraint failed: interactions.hcp_seq')
               where new.hcp_seq is null;
              insert into stale_interaction_days (day, import_id)
              select substr(new.occurred_at, 1, 10), ''
              where new.import_id is null
                and not exists (select 1 from stale_interaction_days
                                where day = substr(new.occurred_at, 1, 10) and import_id = '');
            end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
