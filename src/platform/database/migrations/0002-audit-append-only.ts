import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The audit trail append-only by construction (RELIABILITY 21): the database itself refuses to update,
 * delete or truncate audit events, whatever code (or person with the application's credentials) asks.
 * The chain head is created here and may only move forward, one event at a time, to the hash of the
 * event just appended; a new event must extend the current head. Together these mean no code path can
 * fork, rewrite or shorten the chain; someone who drops these triggers can, and the verifier then names
 * the first broken row. `audit_personal` stays deletable: erasure removes personal values there.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const genesis = '0'.repeat(64);
  // The head exists from the start, so the first appends lock a row like every later one (two first
  // appends on PostgreSQL would otherwise both insert it). A trail that already has events keeps its head.
  await sql`insert into audit_head (id, seq, hash) select 1, 0, ${genesis}
            where not exists (select 1 from audit_head where id = 1)`.execute(db);
  const statements = db.getExecutor().adapter instanceof PostgresAdapter ? postgres : sqlite;
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only: restore a backup to go back.');
}

const sqlite = [
  `create trigger audit_events_no_update before update on audit_events
   begin select raise(abort, 'audit_events is append-only: an event cannot be updated'); end`,
  `create trigger audit_events_no_delete before delete on audit_events
   begin select raise(abort, 'audit_events is append-only: an event cannot be deleted'); end`,
  `create trigger audit_events_extend_head before insert on audit_events
   when new.seq is not (select seq + 1 from audit_head where id = 1)
     or new.prev_hash is not (select hash from audit_head where id = 1)
   begin select raise(abort, 'audit_events: a new event must extend the chain head'); end`,
  `create trigger audit_head_advance before update on audit_head
   when new.id is not old.id
     or new.seq is not old.seq + 1
     or new.hash is not (select hash from audit_events where seq = new.seq)
   begin select raise(abort, 'audit_head may only advance to the event just appended'); end`,
  `create trigger audit_head_no_delete before delete on audit_head
   begin select raise(abort, 'audit_head cannot be deleted'); end`,
  `create trigger audit_head_no_insert before insert on audit_head
   begin select raise(abort, 'audit_head has exactly one row'); end`,
];

// `set search_path from current` pins the schema the functions were created in, so the triggers read
// this schema's tables whatever search path a later session uses.
const postgres = [
  `create function parley_audit_refuse() returns trigger language plpgsql set search_path from current as $$
   begin
     raise exception 'the audit trail is append-only: % on % refused', tg_op, tg_table_name
       using errcode = 'insufficient_privilege';
   end $$`,
  `create trigger audit_events_no_change before update or delete on audit_events
   for each row execute function parley_audit_refuse()`,
  `create trigger audit_events_no_truncate before truncate on audit_events
   for each statement execute function parley_audit_refuse()`,
  `create trigger audit_head_no_change before insert or delete on audit_head
   for each row execute function parley_audit_refuse()`,
  `create trigger audit_head_no_truncate before truncate on audit_head
   for each statement execute function parley_audit_refuse()`,
  `create function parley_audit_extend_head() returns trigger language plpgsql set search_path from current as $$
   declare
     head record;
   begin
     select seq, hash into head from audit_head where id = 1;
     if not found or new.seq <> head.seq + 1 or new.prev_hash <> head.hash then
       raise exception 'audit_events: a new event must extend the chain head'
         using errcode = 'integrity_constraint_violation';
     end if;
     return new;
   end $$`,
  `create trigger audit_events_extend_head before insert on audit_events
   for each row execute function parley_audit_extend_head()`,
  `create function parley_audit_advance_head() returns trigger language plpgsql set search_path from current as $$
   begin
     if new.id <> old.id or new.seq <> old.seq + 1
        or new.hash is distinct from (select hash from audit_events where seq = new.seq) then
       raise exception 'audit_head may only advance to the event just appended'
         using errcode = 'integrity_constraint_violation';
     end if;
     return new;
   end $$`,
  `create trigger audit_head_advance before update on audit_head
   for each row execute function parley_audit_advance_head()`,
];
