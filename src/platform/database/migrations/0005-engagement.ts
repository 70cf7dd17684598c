import type { Kysely } from 'kysely';

/**
 * Engagement's own bookkeeping (see tables.ts): import runs and their staging rows, so a large import is
 * written in short batches and made visible in one step; and the CRM sink's stored cursors, so delivery
 * resumes after a restart without gaps or duplicates.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const s = db.schema;

  await s
    .createTable('import_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('total_rows', 'integer', (c) => c.notNull())
    .addColumn('invalid_rows', 'integer', (c) => c.notNull())
    .addColumn('inserted_rows', 'integer', (c) => c.notNull())
    .addColumn('updated_rows', 'integer', (c) => c.notNull())
    .addColumn('unchanged_rows', 'integer', (c) => c.notNull())
    .addColumn('started_by', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();

  await s
    .createTable('import_staging')
    .addColumn('import_id', 'text', (c) => c.notNull())
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('payload_json', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('import_staging_pk', ['import_id', 'line'])
    .execute();

  await s
    .createTable('sink_cursors')
    .addColumn('stream', 'text', (c) => c.primaryKey())
    .addColumn('position_json', 'text', (c) => c.notNull())
    .addColumn('delivered', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  // The sink and `export --since` read changes in (updated_at, id) order.
  await s.createIndex('interactions_updated').on('interactions').columns(['updated_at', 'id']).execute();
  await s
    .createIndex('consent_entries_recorded')
    .on('consent_entries')
    .columns(['recorded_at', 'id'])
    .execute();
  await s.createIndex('hcps_crm_id').on('hcps').column('crm_id').execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only: restore a backup to go back.');
}
