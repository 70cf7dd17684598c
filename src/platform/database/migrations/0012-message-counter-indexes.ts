import type { Kysely } from 'kysely';

/**
 * The decision inputs count scheduled and held-for-review messages created before the look-back too (they
 * count at their send time). With only messages(hcp_id, direction, created_at) and
 * messages(rep_id, created_at), that query walked the HCP's or the rep's whole history older than the
 * look-back (bench/message-check.bench.ts: ~50 ms per check with 200k stored messages). These put the
 * status right after the key, so it is a short range per status; `direction` comes before `created_at` so
 * the look-back query (no status) keeps choosing the existing indexes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('messages_hcp_status_created')
    .on('messages')
    .columns(['hcp_id', 'status', 'direction', 'created_at'])
    .execute();
  await db.schema
    .createIndex('messages_rep_status_created')
    .on('messages')
    .columns(['rep_id', 'status', 'direction', 'created_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
