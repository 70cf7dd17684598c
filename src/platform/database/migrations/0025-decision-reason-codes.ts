import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Each policy decision names its reason codes in a column of their own (`reason_codes`, comma-separated,
 * also inside `reasons_json`), and the analytics index of decisions (0022, 0023) holds it: the blocked,
 * over-messaging and content-usage reports count denials by code, and reading the codes out of each
 * denied decision's JSON fetched every such row from the table (about 100,000 for a year of the 10M
 * world: half a second of the `blocked` report on SQLite).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .alterTable('policy_decisions')
    .addColumn('reason_codes', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  const codes = pg
    ? sql`(select coalesce(string_agg(r.value ->> 'code', ',' order by r.n), '')
           from jsonb_array_elements(reasons_json::jsonb) with ordinality as r(value, n))`
    : sql`(select coalesce(group_concat(json_extract(r.value, '$.code'), ','), '')
           from json_each(reasons_json) as r)`;
  await sql`update policy_decisions set reason_codes = ${codes} where reasons_json <> '[]'`.execute(db);
  await db.schema.dropIndex('policy_decisions_analytics').execute();
  await db.schema
    .createIndex('policy_decisions_analytics')
    .on('policy_decisions')
    .columns(['decided_at', 'kind', 'outcome', 'requested_by', 'hcp_id', 'template_id', 'reason_codes'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
