import type { Kysely } from 'kysely';

/**
 * Indexes the webhook path found missing under load: the processor reads a delivery's pending events
 * (by inbox id) once per delivery, which scanned every event ever stored; erasure and access requests
 * find an unknown sender's messages by the number's blind index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('webhook_events_inbox')
    .on('webhook_events')
    .columns(['inbox_id', 'state'])
    .execute();
  await db.schema.createIndex('unknown_contacts_wa_id').on('unknown_contacts').column('wa_id_bidx').execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
