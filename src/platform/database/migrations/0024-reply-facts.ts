import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Whether an outbound WhatsApp message was answered is a fact about the HCP's conversation, and it was
 * worked out on every request of the `whatsapp` report by ordering every message of the period by HCP and
 * time: 2.5–3 s of the report's 3–4 s for a year of the 10M world. It is now kept per message.
 *
 * - `messages.reply_wait_ms`: on an outbound message that left Parley, the milliseconds until the HCP's
 *   next message in their conversation when that one is inbound (their answer; else null). A wait, not
 *   the answer's time: the report adds waits up and takes their median, and parsing two timestamps per
 *   message cost PostgreSQL a second a year. Kept by a refresher (engagement/conversation-facts.store.ts), and in
 *   the analytics index of messages so that the report reads it with the rest.
 * - `stale_conversations`: the HCPs whose conversation changed since their facts were last worked out.
 *   The database marks them itself, by trigger, whenever a message is written, deleted, moved in time or
 *   to another HCP, or leaves Parley (its status enters the sent set): whichever code writes, none can
 *   forget. The report works out a marked HCP's replies live, so it is exact while the refresher catches
 *   up. On SQLite a trigger skips an HCP already marked (writers are serialised, so a refresher that has
 *   read the mark cannot miss the write). On PostgreSQL every write adds its own mark: a writer that
 *   skipped a mark a concurrent refresher was about to clear, without seeing the writer's row, would
 *   leave the HCP stale and unmarked.
 *
 * Every HCP with messages is marked here: the first refresh works out their facts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // A double, not a bigint: node-postgres reads bigints as strings, and a wait may outgrow an integer
  // (24 days); whole milliseconds stay exact in a double.
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.alterTable('messages').addColumn('reply_wait_ms', 'double precision').execute();
  await db.schema
    .createTable('stale_conversations')
    .addColumn('id', 'integer', (c) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
    .addColumn('hcp_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stale_conversations_hcp')
    .on('stale_conversations')
    .columns(['hcp_id', 'id'])
    .execute();
  for (const statement of pg ? postgres : sqlite) await sql.raw(statement).execute(db);
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
    ])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}

/** The sent set of engagement/analytics-figures.ts: a message in it has left Parley. */
const SENT = `('sent', 'delivered', 'read', 'failed', 'unknown')`;

/** The columns that place a message in its HCP's conversation. */
const PLACE = ['hcp_id', 'direction', 'created_at', 'meta_timestamp'];

const sqliteMark = (row: 'new' | 'old') => `
  insert into stale_conversations (hcp_id)
  select ${row}.hcp_id
  where ${row}.hcp_id is not null
    and not exists (select 1 from stale_conversations where hcp_id = ${row}.hcp_id);`;

const sqliteMoved = PLACE.map((c) => `new.${c} is not old.${c}`).join(' or ');

const sqlite = [
  `create trigger messages_conversation_on_insert after insert on messages
   begin ${sqliteMark('new')} end`,
  `create trigger messages_conversation_on_update after update of ${PLACE.join(', ')}, status on messages
   when ${sqliteMoved} or (old.status in ${SENT}) <> (new.status in ${SENT})
   begin ${sqliteMark('old')} ${sqliteMark('new')} end`,
  `create trigger messages_conversation_on_delete after delete on messages
   begin ${sqliteMark('old')} end`,
];

const pgMark = (rows: string) => `
  insert into stale_conversations (hcp_id)
  select distinct hcp_id from ${rows} where hcp_id is not null;`;

// Transition tables cannot be combined with a column list, so the update trigger compares old and new.
const pgColumns = (alias: string) => PLACE.map((c) => `${alias}.${c}`).join(', ');
const pgChanged = `(${pgColumns('o')}) is distinct from (${pgColumns('n')})
                   or (o.status in ${SENT}) <> (n.status in ${SENT})`;

const postgres = [
  `create function parley_conversation_stale() returns trigger language plpgsql
   set search_path from current as $$
   begin
     if tg_op = 'INSERT' then
       ${pgMark('new_rows')}
     elsif tg_op = 'DELETE' then
       ${pgMark('old_rows')}
     else
       ${pgMark(`(select o.hcp_id from old_rows o join new_rows n on n.id = o.id where ${pgChanged}
                  union all
                  select n.hcp_id from old_rows o join new_rows n on n.id = o.id where ${pgChanged}
                 ) changed_rows`)}
     end if;
     return null;
   end $$`,
  `create trigger messages_conversation_on_insert after insert on messages
   referencing new table as new_rows for each statement execute function parley_conversation_stale()`,
  `create trigger messages_conversation_on_update after update on messages
   referencing old table as old_rows new table as new_rows
   for each statement execute function parley_conversation_stale()`,
  `create trigger messages_conversation_on_delete after delete on messages
   referencing old table as old_rows for each statement execute function parley_conversation_stale()`,
];
