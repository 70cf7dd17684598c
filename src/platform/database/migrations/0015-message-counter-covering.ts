import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * A policy check reads the rep's outbound messages of the last 48 hours (the rep cap), the HCP's of the
 * look-back (caps, duplicates) and the HCP's opt-in requests. A busy rep has hundreds, and each one was a
 * look-up of its table row (with its sealed body and provenance) only to learn its time, status and kind:
 * on the large world the largest part of a check's SQL. This copies the provenance's `kind` (rep, or a
 * cap-exempt kind such as the opt-out confirmation) into a column of its own, and gives both counters an
 * index that holds everything they read, so they never touch the table. The HCP's index replaces
 * messages(hcp_id, direction, created_at), of which it is an extension.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('send_kind', 'text').execute();
  const kindOfProvenance =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? sql`(provenance_json::jsonb ->> 'kind')`
      : sql`json_extract(provenance_json, '$.kind')`;
  await sql`update messages set send_kind = coalesce(${kindOfProvenance}, 'rep') where direction = 'outbound'`.execute(
    db,
  );
  await db.schema
    .createIndex('messages_rep_counter')
    .on('messages')
    .columns(['rep_id', 'direction', 'created_at', 'status', 'send_at', 'send_kind', 'id'])
    .execute();
  await db.schema
    .createIndex('messages_hcp_counter')
    .on('messages')
    .columns([
      'hcp_id',
      'direction',
      'created_at',
      'status',
      'send_at',
      'send_kind',
      'template_id',
      'rep_id',
      'id',
    ])
    .execute();
  await db.schema.dropIndex('messages_hcp_created').execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
