import { PostgresAdapter, sql, type Kysely } from 'kysely';

/** The message of a refused delete: what to do instead. */
export const HCP_DELETE_REFUSED =
  'an HCP is never deleted: erase one (privacy) to clear their data in place, which keeps their references';

/**
 * An HCP row is never deleted. Erasure (privacy) clears one in place, so that what refers to it (the
 * audit chain, cases, consent proof) keeps a valid reference; no code path deletes one. The bulk import
 * relies on it: it resolves every row's HCP from this table and then writes the rows without checking
 * the foreign key again, row by row (import-interactions.store.ts). This makes the rule the database's.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`create function parley_hcps_kept() returns trigger language plpgsql as $$
      begin
        raise exception '${sql.raw(HCP_DELETE_REFUSED)}' using errcode = 'restrict_violation';
      end $$`.execute(db);
    await sql`create trigger hcps_kept before delete on hcps
              for each statement execute function parley_hcps_kept()`.execute(db);
    // TRUNCATE skips DELETE triggers.
    await sql`create trigger hcps_kept_truncate before truncate on hcps
              for each statement execute function parley_hcps_kept()`.execute(db);
    return;
  }
  await sql`create trigger hcps_kept before delete on hcps
            begin
              select raise(abort, '${sql.raw(HCP_DELETE_REFUSED)}');
            end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
