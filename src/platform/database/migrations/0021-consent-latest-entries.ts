import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The consent report counts the HCPs holding a WhatsApp grant in force at the end of its period. Folding
 * every ledger for that (a window function over each HCP's entries) took 0.6–1 s on the 10M world, most
 * of the report. `consent_latest_entries` keeps the entry that wins each HCP, channel and purpose's ledger
 * (the latest by capture time, the more restrictive at an equal instant, then the larger id: the order
 * of `purposesGrantedAt`), written by trigger as the ledger is appended to (it is only ever appended to).
 *
 * It answers "in force at T" whenever the winner was captured and recorded by T: the winner of the
 * entries known at T is then the winner of all. The report checks that and folds the ledger otherwise.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('consent_latest_entries')
    .addColumn('hcp_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('entry_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('captured_at', 'text', (c) => c.notNull())
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addPrimaryKeyConstraint('consent_latest_entries_pk', ['hcp_id', 'channel', 'purpose'])
    // SQLite: the key is the table, so a look-up by HCP reads the row itself.
    .$call((t) => (pg ? t : t.modifyEnd(sql`without rowid`)))
    .execute();
  const collate = pg ? ' collate "C"' : '';
  const rank = (row: string) =>
    `case ${row}.status when 'pending' then 0 when 'granted' then 1 when 'refused' then 2 else 3 end`;
  const upsert = `
    insert into consent_latest_entries
      (hcp_id, channel, purpose, entry_id, status, captured_at, recorded_at, expires_at)
    values (new.hcp_id, new.channel, new.purpose, new.id, new.status, new.captured_at, new.recorded_at,
            new.expires_at)
    on conflict (hcp_id, channel, purpose) do update
      set entry_id = excluded.entry_id, status = excluded.status, captured_at = excluded.captured_at,
          recorded_at = excluded.recorded_at, expires_at = excluded.expires_at
      where (excluded.captured_at, ${rank('excluded')}, excluded.entry_id${collate})
          > (consent_latest_entries.captured_at, ${rank('consent_latest_entries')},
             consent_latest_entries.entry_id${collate});`;
  if (pg) {
    await sql
      .raw(
        `create function parley_consent_latest() returns trigger language plpgsql
         set search_path from current as $$ begin ${upsert} return null; end $$`,
      )
      .execute(db);
    await sql`create trigger consent_entries_latest after insert on consent_entries
              for each row execute function parley_consent_latest()`.execute(db);
  } else {
    await sql
      .raw(`create trigger consent_entries_latest after insert on consent_entries begin ${upsert} end`)
      .execute(db);
  }
  await sql
    .raw(
      `insert into consent_latest_entries
         (hcp_id, channel, purpose, entry_id, status, captured_at, recorded_at, expires_at)
       select hcp_id, channel, purpose, id, status, captured_at, recorded_at, expires_at
       from (select e.*, row_number() over (partition by hcp_id, channel, purpose
                     order by captured_at desc, ${rank('e')} desc, id${collate} desc) as nth
             from consent_entries e) ranked
       where nth = 1`,
    )
    .execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
