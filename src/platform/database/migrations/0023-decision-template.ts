import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Each policy decision names the template its request named (`template_id`, also inside `request_json`),
 * and the analytics index of decisions (0022) holds it: the reports filter decisions by brand through
 * their template, and reading it out of each row's JSON made a year of the 10M world's decisions, filtered
 * by brand, cost 34 s on SQLite (every row fetched from the table, in index order).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.alterTable('policy_decisions').addColumn('template_id', 'text').execute();
  await sql`update policy_decisions
            set template_id = ${pg ? sql`request_json::jsonb ->> 'templateId'` : sql`json_extract(request_json, '$.templateId')`}
            where request_json like '%"templateId"%'`.execute(db);
  await db.schema.dropIndex('policy_decisions_analytics').execute();
  await db.schema
    .createIndex('policy_decisions_analytics')
    .on('policy_decisions')
    .columns(['decided_at', 'kind', 'outcome', 'requested_by', 'hcp_id', 'template_id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
