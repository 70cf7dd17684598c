import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * A report for one market (a country manager's, or any report filtered by market) tested each message and
 * each policy decision of the period for membership in that market's HCPs: a list of 40,000 ids the
 * database built, then one search of it per row. For a year of Brazil on the 10M world that was about half
 * a second of each message and decision report, which read the period's rows from their analytics index
 * in a few hundred milliseconds without the market.
 *
 * `messages.market_code` and `policy_decisions.market_code` now hold the market of the row's HCP, and the
 * analytics indexes hold them: a market is a comparison within the index entry. The database keeps them
 * equal to the HCP's market, so a report by market reads what it read before:
 *
 * - a row written (or moved to another HCP) takes its HCP's market. Writers that know it set it; on
 *   SQLite a trigger corrects a row written without it (a test's fixture, say), and costs the writers that
 *   set it one look-up of the HCP by key; on PostgreSQL a row trigger sets it before the row is written;
 * - an HCP that moves to another market (a CRM import) moves their messages and decisions with them.
 *
 * A message from an unknown number has no HCP and no market, as before (no market's report counted it).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  for (const table of TABLES) {
    await db.schema.alterTable(table).addColumn('market_code', 'text').execute();
    await sql`update ${sql.table(table)} set market_code = (select h.market_code from hcps h
              where h.id = ${sql.ref(`${table}.hcp_id`)}) where hcp_id is not null`.execute(db);
  }
  for (const statement of pg ? postgres : sqlite) await sql.raw(statement).execute(db);

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
      'market_code',
    ])
    .execute();
  await db.schema.dropIndex('policy_decisions_analytics').execute();
  await db.schema
    .createIndex('policy_decisions_analytics')
    .on('policy_decisions')
    .columns([
      'decided_at',
      'kind',
      'outcome',
      'requested_by',
      'hcp_id',
      'template_id',
      'reason_codes',
      'market_code',
    ])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}

const TABLES = ['messages', 'policy_decisions'] as const;

const marketOf = (hcpId: string) => `(select market_code from hcps where id = ${hcpId})`;

const sqlite = TABLES.flatMap((table) => [
  // After the row is written: SQLite's triggers cannot change the row being inserted.
  `create trigger ${table}_market_on_write after insert on ${table}
   when new.hcp_id is not null and new.market_code is not ${marketOf('new.hcp_id')}
   begin update ${table} set market_code = ${marketOf('new.hcp_id')} where rowid = new.rowid; end`,
  `create trigger ${table}_market_on_move after update of hcp_id, market_code on ${table}
   when new.market_code is not ${marketOf('new.hcp_id')}
   begin update ${table} set market_code = ${marketOf('new.hcp_id')} where rowid = new.rowid; end`,
]).concat(
  `create trigger hcps_market_moves_messages after update of market_code on hcps
   when new.market_code is not old.market_code
   begin
     update messages set market_code = new.market_code where hcp_id = new.id;
     update policy_decisions set market_code = new.market_code where hcp_id = new.id;
   end`,
);

const postgres = [
  `create function parley_market_of_hcp() returns trigger language plpgsql
   set search_path from current as $$
   begin
     new.market_code := ${marketOf('new.hcp_id')};
     return new;
   end $$`,
  ...TABLES.map(
    (table) => `create trigger ${table}_market_on_write before insert or update of hcp_id, market_code
                on ${table} for each row execute function parley_market_of_hcp()`,
  ),
  `create function parley_hcp_market_moves() returns trigger language plpgsql
   set search_path from current as $$
   begin
     update messages set market_code = new.market_code where hcp_id = new.id;
     update policy_decisions set market_code = new.market_code where hcp_id = new.id;
     return null;
   end $$`,
  `create trigger hcps_market_moves_messages after update of market_code on hcps
   for each row when (new.market_code is distinct from old.market_code)
   execute function parley_hcp_market_moves()`,
];
