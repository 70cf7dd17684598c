import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL: `parley_audit_append(events jsonb)` appends a run of audit events in one round trip. The
 * chain's triggers (0002) let the head advance one event at a time, each event inserted and then the head
 * moved to it, so a run of n events was 2n statements from the client, each a round trip, all while the
 * caller's transaction held the head's lock and every audited write in the system queued behind it: an
 * import that publishes 2,000 cases from its call notes held it 1.5 s (docs/benchmarks.md). The function
 * makes the same statements server-side, in order; every trigger still checks every event. The events'
 * values (their hashes made by Parley: audit.store.ts) come as a JSON array of rows named as the table's
 * columns. SQLite runs in-process, where a statement costs microseconds: it keeps the statements.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  // `set search_path from current` pins the schema it was created in, as the chain's own triggers do.
  await sql`create function parley_audit_append(events jsonb) returns void language plpgsql
            set search_path from current as $$
      declare
        e audit_events;
      begin
        for e in select * from jsonb_populate_recordset(null::audit_events, events) loop
          insert into audit_events select e.*;
          update audit_head set seq = e.seq, hash = e.hash where id = 1;
        end loop;
      end $$`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
