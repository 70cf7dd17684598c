import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The volume report by month read a year of day cells: about 40,000 rows and 9M HCP seqs on the 10M
 * world, 36 MB that PostgreSQL sends as 72 MB of hex. Month cells hold the same figures per calendar
 * month (UTC), per market, channel and rep only: a year is about a thousand rows and the sets shrink to
 * the distinct HCPs of each month (3.7M seqs). They carry no template or product, so a report filtered by
 * brand, or bucketed by day, still reads day cells.
 *
 * A month's cells are built from its day cells. `stale_interaction_months` marks a month whose day cells
 * changed since; the day refresh writes the mark in the same transaction as the day's cells.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('interaction_month_cells')
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('market_code', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('rep_id', 'text')
    .addColumn('interactions', 'integer', (c) => c.notNull())
    .addColumn('hcp_seqs', pg ? 'bytea' : 'blob', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('interaction_month_cells_month')
    .on('interaction_month_cells')
    .column('month')
    .execute();
  await db.schema
    .createTable('stale_interaction_months')
    .addColumn('id', 'integer', (c) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
    .addColumn('month', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stale_interaction_months_month')
    .on('stale_interaction_months')
    .column('month')
    .execute();
  // Every month that has day cells already: the first refresh builds its month cells.
  await sql`insert into stale_interaction_months (month)
            select distinct substr(day, 1, 7) from interaction_day_cells`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
