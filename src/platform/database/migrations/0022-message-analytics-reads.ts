import type { Kysely } from 'kysely';

/**
 * The message and decision reports count in the database (engagement/message-analytics.store.ts): a year
 * of a large world is over a million messages and as many policy decisions. These two indexes hold every
 * column those counts read, in period order, so each count walks one index range and never a table row:
 *
 * - messages by direction and creation time, with status, HCP, rep, template, Meta's timestamp and id
 *   (the reply figures order each HCP's messages by time, then id);
 * - policy decisions by time, with kind, outcome, rep and HCP.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('messages_analytics')
    .on('messages')
    .columns(['direction', 'created_at', 'status', 'hcp_id', 'rep_id', 'template_id', 'meta_timestamp', 'id'])
    .execute();
  await db.schema
    .createIndex('policy_decisions_analytics')
    .on('policy_decisions')
    .columns(['decided_at', 'kind', 'outcome', 'requested_by', 'hcp_id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
