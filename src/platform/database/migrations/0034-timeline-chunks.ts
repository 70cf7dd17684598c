import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * An import's new rows no longer land all over the timeline index. That index, (hcp_seq, occurred_at), is
 * where a CRM file cannot arrive in order: a batch of calls touched a page of it for nearly every row,
 * two thirds of what an imported row cost SQLite to write (docs/benchmarks.md). The index now leads with
 * a chunk number, (timeline_chunk, hcp_seq, occurred_at):
 *
 * - Rows written one at a time (API, WhatsApp, the seed) are in chunk 0, the index's main part, as before.
 * - An import writes its new rows under chunks of its own (`timeline_chunks`, a new one every 50,000
 *   rows), each a small range at the end of the index whose pages stay in cache and are written a few
 *   times a batch rather than once a row.
 * - Readers by HCP (the timeline, the access export, erasure) search chunk 0 and each chunk still listed,
 *   a handful of index seeks (engagement/timeline-chunks.store.ts).
 * - A running Parley folds published chunks into chunk 0 in the background, while no import writes, and
 *   unlists each once it is empty; the deferred cost of the scattered entries, paid off the import's clock
 *   (the same technique as PostgreSQL's GIN pending list).
 *
 * The index is rebuilt (13 s on SQLite for the 10M world). PostgreSQL expands the view's `*` when it is
 * created, so `visible_interactions` is created again to carry the new column.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .alterTable('interactions')
    .addColumn('timeline_chunk', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.dropIndex('interactions_timeline').execute();
  await db.schema
    .createIndex('interactions_timeline')
    .on('interactions')
    .columns(['timeline_chunk', 'hcp_seq', 'occurred_at'])
    .execute();
  await db.schema
    .createTable('timeline_chunks')
    .addColumn('chunk', 'integer', (c) =>
      pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
    )
    .addColumn('import_id', 'text', (c) => c.notNull().references('import_runs.id'))
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .execute();
  if (pg) {
    await db.schema.dropView('visible_interactions').execute();
    await db.schema
      .createView('visible_interactions')
      .as(
        sql`select * from interactions
            where not exists (select 1 from unpublished_imports)
               or import_id is null
               or import_id not in (select import_id from unpublished_imports)`,
      )
      .execute();
  }
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
