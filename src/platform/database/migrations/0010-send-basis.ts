import type { Kysely } from 'kysely';

/**
 * The send path's proof of basis and its own idempotency:
 * - `message_send_bases`: what the worker found when it claimed a message for sending — the consent entry
 *   in force at that moment (RELIABILITY 24: every sent message joins to a consent entry valid at send
 *   time), the purpose and the rulebook version it decided with. One row per message, written in the same
 *   transaction that marks it `sending`.
 * - a unique index on `messages.idempotency_key`, so a message Parley queues itself (the confirmation of
 *   an opt-out, keyed by the inbound message that opted out) is queued at most once, however often the
 *   webhook is replayed. NULLs are distinct in a unique index on both dialects: ordinary messages keep null.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('message_send_bases')
    .addColumn('message_id', 'text', (c) => c.primaryKey())
    .addColumn('consent_entry_id', 'text')
    .addColumn('purpose', 'text')
    .addColumn('rulebook_version', 'integer', (c) => c.notNull())
    .addColumn('decided_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('messages_idempotency_key')
    .unique()
    .on('messages')
    .column('idempotency_key')
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
