import type { Kysely } from 'kysely';

/**
 * The consent report counts the HCPs who opted in, and who opted out, in a period: over the period's
 * WhatsApp ledger entries of one status, one count per HCP. No index held them (SQLite read each HCP's
 * entries through consent_entries_hcp, then sorted the distinct HCPs: 0.22 s for a year of the 10M world).
 * By channel, status, HCP and time, the entries of one status come in HCP order with their time beside
 * them, and the HCPs of the period are counted by grouping as they come (0.04 s).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('consent_entries_status')
    .on('consent_entries')
    .columns(['channel', 'status', 'hcp_id', 'captured_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only.');
}
