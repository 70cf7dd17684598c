import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The webhook inbox stops refusing byte-identical deliveries. Its unique index on `body_sha256` cost a
 * random B-tree insert on every acknowledgement (the hash spreads keys over the whole index), for a
 * guarantee that the events already give: each event is unique by its key (`webhook_events.event_key`,
 * built from Meta's ids), so a retried delivery is stored again but changes nothing. The column stays:
 * it names a delivery in logs and tests.
 *
 * SQLite cannot drop the index behind a UNIQUE column constraint, so the table is rebuilt (the documented
 * way to change a constraint); nothing refers to it by a foreign key.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table webhook_inbox drop constraint if exists webhook_inbox_body_sha256_key`.execute(db);
    return;
  }
  await db.schema
    .createTable('webhook_inbox_rebuilt')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('body_sha256', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('processed_at', 'text')
    .addColumn('error', 'text')
    .execute();
  await sql`insert into webhook_inbox_rebuilt (id, body_sha256, body, received_at, state, attempts, processed_at, error)
    select id, body_sha256, body, received_at, state, attempts, processed_at, error from webhook_inbox`.execute(
    db,
  );
  await db.schema.dropTable('webhook_inbox').execute();
  await sql`alter table webhook_inbox_rebuilt rename to webhook_inbox`.execute(db);
  await db.schema
    .createIndex('webhook_inbox_state')
    .on('webhook_inbox')
    .columns(['state', 'received_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
