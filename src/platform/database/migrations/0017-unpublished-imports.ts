import { sql, type Kysely } from 'kysely';

/**
 * A large interactions import is written in short transactions as it is read, and published in one small
 * step at the end, instead of applied in one transaction that held SQLite's single writer (and delayed
 * webhook acknowledgements) for minutes at a time.
 *
 * - `interactions.import_id`: the import that wrote the row (null for rows from the API, WhatsApp and the
 *   seed). It stays after publishing: which import brought a row is provenance.
 * - `unpublished_imports`: the imports whose rows nobody may see yet: written, being written, or being
 *   taken out again (`discarding`: a rejected or abandoned import). Publishing is deleting its row here.
 *   `heartbeat_at` is renewed with every batch, so an import whose process died is told apart from one
 *   still running and can be cleared away.
 * - `visible_interactions`: what every reader of interactions reads (timeline, analytics, export, CRM
 *   sink). PostgreSQL expands the view's `*` when it is created: a migration that adds a column to
 *   `interactions` must create the view again.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('interactions').addColumn('import_id', 'text').execute();
  // Only rows that came by import have one, and only their import's rows are ever looked up by it (to
  // take a rejected import's rows out again): a partial index, empty on a world without imports.
  await db.schema
    .createIndex('interactions_import')
    .on('interactions')
    .column('import_id')
    .where(sql.ref('import_id'), 'is not', null)
    .execute();
  await db.schema
    .createTable('unpublished_imports')
    .addColumn('import_id', 'text', (c) => c.primaryKey().references('import_runs.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createView('visible_interactions')
    .as(
      sql`select * from interactions
          where import_id is null or import_id not in (select import_id from unpublished_imports)`,
    )
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
