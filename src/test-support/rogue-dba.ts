import { sql } from 'kysely';
import type { Store } from '../platform/database/index.js';

/**
 * Does what a rogue DBA would before tampering with the audit trail: removes the database's own guards
 * (migration 0002's triggers) on `audit_events` and `audit_head`. Tamper tests call it to show that the
 * verifier still names the first broken row when the database no longer refuses the change. Test-only:
 * nothing in the application can do this.
 */
export async function removeAuditGuards(store: Pick<Store, 'db' | 'dialect'>): Promise<void> {
  if (store.dialect === 'postgres') {
    await sql`alter table audit_events disable trigger user`.execute(store.db);
    await sql`alter table audit_head disable trigger user`.execute(store.db);
    return;
  }
  const triggers = await sql<{ name: string }>`
    select name from sqlite_master
    where type = 'trigger' and tbl_name in ('audit_events', 'audit_head')`.execute(store.db);
  for (const { name } of triggers.rows) await sql`drop trigger ${sql.id(name)}`.execute(store.db);
}
