import { sql, type Kysely } from 'kysely';

/**
 * The over-messaging, content-usage and consent reports grouped a year of messages by HCP-week, by HCP
 * and by template and HCP to count distinct HCPs and loaded weeks: a sort of 700,000 rows for a year of
 * the 10M world, over a second on SQLite. Three facts about each sent message's place among the HCP's
 * sent messages (engagement/analytics-figures.ts `sendingFacts`) let them count in one pass instead:
 *
 * - `week_rank`: its position among the HCP's sent messages of the same Monday-to-Sunday UTC week;
 * - `prev_sent_at`: when the HCP's previous sent message was created;
 * - `prev_template_sent_at`: when the HCP's previous sent message of the same template was created.
 *
 * They are kept like the reply waits of 0024, by the same refresher from the same marks (a message
 * written, moved, deleted or leaving Parley marks its HCP), and in the analytics index of messages. Every
 * HCP with messages is marked here: the first refresh works out their facts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('week_rank', 'integer').execute();
  await db.schema.alterTable('messages').addColumn('prev_sent_at', 'text').execute();
  await db.schema.alterTable('messages').addColumn('prev_template_sent_at', 'text').execute();
  await sql`insert into stale_conversations (hcp_id)
            select distinct hcp_id from messages where hcp_id is not null`.execute(db);
  await db.schema.dropIndex('messages_analytics').execute();
  await db.schema
    .createIndex('messages_analytics')
    .on('messages')
    .columns([
      'direction',
      'created_at',
      'status',
      'hcp_id',
      'rep_id',
      'template_id',
      'meta_timestamp',
      'id',
      'reply_wait_ms',
      'week_rank',
      'prev_sent_at',
      'prev_template_sent_at',
    ])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
