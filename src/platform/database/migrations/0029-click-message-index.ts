import { sql, type Kysely } from 'kysely';

/**
 * The assets report joins the period's tracked links to the clicks on them, by message. The only index by
 * message, interactions_message, holds every interaction of a WhatsApp message (sends, statuses, replies:
 * about a million on the 10M world), and PostgreSQL walked all of it, reading each row to keep the clicks
 * (0.73 s of the report's 0.93 s for a year). The clicks on a message's links alone (18,000 there; the
 * 680,000 clicks of the web have no message) are a small index both stores join through (PostgreSQL 0.93
 * → 0.32 s, SQLite 0.45 → 0.34 s); imports of calls never touch it. It names the message in its condition
 * so that no other query of clicks can take it for a list of all clicks (PostgreSQL did, for the clicks on
 * expired content of a period: 1.1 s against 0.17 s through interactions_clicks).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('interactions_click_message')
    .on('interactions')
    .column('message_id')
    .where((eb) =>
      eb.and([eb(sql.ref('kind'), '=', sql.lit('click')), eb(sql.ref('message_id'), 'is not', null)]),
    )
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
