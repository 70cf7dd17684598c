import type { Kysely } from 'kysely';

/**
 * Content control (issue 3):
 * - `content_signatures.signer_role`: the role an approver signed for, so a market that requires several
 *   sign-offs (compliance, medical) knows which are on a version; the meaning text stays the record's words;
 * - `tracked_links`: one link per message × asset (unique), and look-ups by asset for the recall list.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('content_signatures').addColumn('signer_role', 'text').execute();
  await db.schema
    .createIndex('tracked_links_message_asset')
    .on('tracked_links')
    .columns(['message_id', 'asset_id'])
    .unique()
    .execute();
  await db.schema.createIndex('tracked_links_asset').on('tracked_links').column('asset_id').execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only: restore a backup to go back.');
}
