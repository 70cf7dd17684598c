import type { Kysely } from 'kysely';

/**
 * Consent holds: an HCP reply that may or may not be an opt-out ("cancelar" right after an appointment
 * confirmation) holds further sends to that HCP until a person reads it. A hold is not a consent entry —
 * the HCP has not clearly said anything about consent — so it lives beside the ledger, not in it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('consent_holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hcp_id', 'text', (c) => c.notNull().references('hcps.id'))
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('matched', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .addColumn('resolved_by', 'text')
    .addColumn('resolution', 'text')
    .addUniqueConstraint('consent_holds_message', ['message_id'])
    .execute();
  await db.schema
    .createIndex('consent_holds_hcp')
    .on('consent_holds')
    .columns(['hcp_id', 'status'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only: restore a backup to go back.');
}
