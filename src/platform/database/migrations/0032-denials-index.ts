import { sql, type Kysely } from 'kysely';

/**
 * The `blocked` and `over-messaging` reports read the period's denials (reasons per code, the HCPs each
 * code stopped, attempts a cap stopped). Through policy_decisions_analytics (0027) they read every attempt
 * of the period to keep the denials, about one in eight: on the 10M world a year's 780,000 index entries for
 * 97,000 denials, three times for `blocked` (0.16–0.42 s each on SQLite). This partial index holds the
 * denials alone, with every column those reads use. Its condition says the outcome and kind as literals,
 * and the reports' queries say them the same way: a planner can only use a partial index whose condition it
 * finds in the query. A check is a question, not an attempt: its denials are not in it, so the check's own
 * write does not grow.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('policy_decisions_denials')
    .on('policy_decisions')
    .columns([
      'decided_at',
      'hcp_id',
      'reason_codes',
      'requested_by',
      'template_id',
      'market_code',
      'outcome',
      'kind',
    ])
    .where(() => sql<boolean>`outcome = 'deny' and kind <> 'check'`)
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
