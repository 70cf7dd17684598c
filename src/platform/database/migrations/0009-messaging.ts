import type { Kysely } from 'kysely';

/**
 * The send path's own records: each status a message passes through on Parley's side (queued, sending,
 * cancelled … — Meta's statuses are in message_status_events), and the send controls that pause a number
 * or halt every send when Meta says so (131048, 368, 190).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('message_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema
    .createIndex('message_history_message')
    .on('message_history')
    .columns(['message_id', 'at'])
    .execute();

  await db.schema
    .createTable('send_controls')
    .addColumn('scope', 'text', (c) => c.primaryKey()) // 'all' or a phone-number id
    .addColumn('halted_at', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('error_code', 'integer')
    .execute();

  // Meta's messaging-limit tier counts unique recipients per sending number over 24 h.
  await db.schema
    .createIndex('messages_number_status_at')
    .on('messages')
    .columns(['phone_number_id', 'direction', 'status_at'])
    .execute();
  await db.schema.createIndex('messages_status').on('messages').columns(['status', 'created_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
