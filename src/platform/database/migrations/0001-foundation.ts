import type { Kysely } from 'kysely';

/**
 * The whole domain of DESIGN.md in one first migration. Types are limited to text and integer so the
 * same schema means the same thing on SQLite and PostgreSQL (see tables.ts for the conventions).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const s = db.schema;

  await s
    .createTable('markets')
    .addColumn('code', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('languages_json', 'text', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('weekend_days_json', 'text', (c) => c.notNull())
    .addColumn('holidays_json', 'text', (c) => c.notNull())
    .addColumn('legal_regime', 'text', (c) => c.notNull())
    .addColumn('data_residency', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('sending_numbers')
    .addColumn('phone_number_id', 'text', (c) => c.primaryKey())
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .addColumn('display_phone_number', 'text', (c) => c.notNull())
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('messaging_limit', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('paused_reason', 'text')
    .execute();

  await s
    .createTable('products')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .addColumn('brand', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('generic_name', 'text', (c) => c.notNull())
    .addColumn('approved_indications_json', 'text', (c) => c.notNull())
    .addColumn('pi_asset_key', 'text')
    .execute();

  await s
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('manager_id', 'text', (c) => c.references('users.id'))
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('users_manager').on('users').column('manager_id').execute();

  await s
    .createTable('user_markets')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .addPrimaryKeyConstraint('user_markets_pk', ['user_id', 'market_code'])
    .execute();

  await s
    .createTable('territories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .execute();

  await s
    .createTable('user_territories')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('territory_id', 'text', (c) => c.notNull().references('territories.id'))
    .addPrimaryKeyConstraint('user_territories_pk', ['user_id', 'territory_id'])
    .execute();
  await s.createIndex('user_territories_territory').on('user_territories').column('territory_id').execute();

  await s
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();

  await s
    .createTable('hcps')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('crm_id', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('specialty', 'text')
    .addColumn('institution', 'text')
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('whatsapp_number_enc', 'text')
    .addColumn('whatsapp_number_bidx', 'text')
    .addColumn('wa_id_bidx', 'text')
    .addColumn('bsuid', 'text')
    .addColumn('whatsapp_status', 'text', (c) => c.notNull())
    .addColumn('marketing_stopped', 'integer', (c) => c.notNull())
    .addColumn('email_enc', 'text')
    .addColumn('email_bidx', 'text')
    .addColumn('segment', 'text')
    .addColumn('legal_hold', 'integer', (c) => c.notNull())
    .addColumn('erased_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('hcps_whatsapp_bidx').on('hcps').column('whatsapp_number_bidx').execute();
  await s.createIndex('hcps_wa_id_bidx').on('hcps').column('wa_id_bidx').execute();
  await s.createIndex('hcps_email_bidx').on('hcps').column('email_bidx').execute();
  await s.createIndex('hcps_market').on('hcps').columns(['market_code', 'id']).execute();
  await s.createIndex('hcps_name').on('hcps').column('name').execute();

  await s
    .createTable('hcp_territories')
    .addColumn('hcp_id', 'text', (c) => c.notNull().references('hcps.id'))
    .addColumn('territory_id', 'text', (c) => c.notNull().references('territories.id'))
    .addPrimaryKeyConstraint('hcp_territories_pk', ['hcp_id', 'territory_id'])
    .execute();
  await s
    .createIndex('hcp_territories_territory')
    .on('hcp_territories')
    .columns(['territory_id', 'hcp_id'])
    .execute();

  await s
    .createTable('consent_entries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hcp_id', 'text', (c) => c.notNull().references('hcps.id'))
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('captured_by', 'text')
    .addColumn('captured_at', 'text', (c) => c.notNull())
    .addColumn('evidence', 'text')
    .addColumn('wording_version', 'text')
    .addColumn('message_id', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .execute();
  await s
    .createIndex('consent_entries_hcp')
    .on('consent_entries')
    .columns(['hcp_id', 'recorded_at'])
    .execute();

  await s
    .createTable('preferences')
    .addColumn('hcp_id', 'text', (c) => c.primaryKey().references('hcps.id'))
    .addColumn('preferences_json', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('templates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('classification', 'text', (c) => c.notNull())
    .addColumn('whatsapp_category', 'text', (c) => c.notNull())
    .addColumn('whatsapp_name', 'text', (c) => c.notNull())
    .addColumn('whatsapp_language', 'text', (c) => c.notNull())
    .addColumn('whatsapp_status', 'text', (c) => c.notNull())
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('brand', 'text')
    .addColumn('products_json', 'text', (c) => c.notNull())
    .addColumn('tone_tags_json', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('parameters_json', 'text', (c) => c.notNull())
    .addColumn('buttons_json', 'text', (c) => c.notNull())
    .addColumn('approval_code', 'text')
    .addColumn('author_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('approved_by', 'text')
    .addColumn('approved_at', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('review_comment', 'text')
    .addColumn('lint_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('templates_key_version', ['key', 'version'])
    .execute();
  await s.createIndex('templates_status').on('templates').columns(['status', 'market_code']).execute();
  await s
    .createIndex('templates_whatsapp_name')
    .on('templates')
    .columns(['whatsapp_name', 'whatsapp_language'])
    .execute();

  await s
    .createTable('assets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('approval_code', 'text')
    .addColumn('classification', 'text', (c) => c.notNull())
    .addColumn('market_code', 'text', (c) => c.notNull().references('markets.code'))
    .addColumn('brand', 'text')
    .addColumn('products_json', 'text', (c) => c.notNull())
    .addColumn('topics_json', 'text', (c) => c.notNull())
    .addColumn('author_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('approved_by', 'text')
    .addColumn('approved_at', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('review_comment', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('assets_key_version', ['key', 'version'])
    .execute();
  await s.createIndex('assets_status').on('assets').columns(['status', 'market_code']).execute();

  await s
    .createTable('content_signatures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('content_kind', 'text', (c) => c.notNull())
    .addColumn('content_id', 'text', (c) => c.notNull())
    .addColumn('signer_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('signer_name', 'text', (c) => c.notNull())
    .addColumn('meaning', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'text', (c) => c.notNull())
    .execute();
  await s
    .createIndex('content_signatures_content')
    .on('content_signatures')
    .columns(['content_kind', 'content_id'])
    .execute();

  await s
    .createTable('interactions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hcp_id', 'text', (c) => c.notNull().references('hcps.id'))
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('rep_id', 'text')
    .addColumn('summary', 'text')
    .addColumn('topics_json', 'text', (c) => c.notNull())
    .addColumn('products_json', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('template_id', 'text')
    .addColumn('asset_ids_json', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('status', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('interactions_source_external', ['source', 'external_id'])
    .execute();
  // The timeline: newest first per HCP, with id as the tie-breaker of a stable cursor.
  await s
    .createIndex('interactions_timeline')
    .on('interactions')
    .columns(['hcp_id', 'occurred_at', 'id'])
    .execute();
  await s
    .createIndex('interactions_occurred')
    .on('interactions')
    .columns(['occurred_at', 'channel'])
    .execute();
  await s.createIndex('interactions_message').on('interactions').column('message_id').execute();

  await s
    .createTable('messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hcp_id', 'text', (c) => c.references('hcps.id'))
    .addColumn('rep_id', 'text')
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('wamid', 'text', (c) => c.unique())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('template_id', 'text')
    .addColumn('parameters_enc', 'text')
    .addColumn('body_enc', 'text')
    .addColumn('asset_ids_json', 'text', (c) => c.notNull())
    .addColumn('provenance_json', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_at', 'text', (c) => c.notNull())
    .addColumn('error_code', 'integer')
    .addColumn('error_title', 'text')
    .addColumn('error_detail', 'text')
    .addColumn('decision_id', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('context_wamid', 'text')
    .addColumn('send_at', 'text')
    .addColumn('meta_timestamp', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // Caps count an HCP's recent outbound messages through this index: a short range, never a history scan.
  await s
    .createIndex('messages_hcp_created')
    .on('messages')
    .columns(['hcp_id', 'direction', 'created_at'])
    .execute();
  await s.createIndex('messages_rep_created').on('messages').columns(['rep_id', 'created_at']).execute();
  await s.createIndex('messages_template').on('messages').column('template_id').execute();

  await s
    .createTable('message_status_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('message_id', 'text')
    .addColumn('wamid', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('error_code', 'integer')
    .addColumn('error_title', 'text')
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('message_status_events_once', ['wamid', 'status'])
    .execute();
  await s
    .createIndex('message_status_events_message')
    .on('message_status_events')
    .column('message_id')
    .execute();

  await s
    .createTable('policy_decisions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('hcp_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('request_json', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text')
    .addColumn('reasons_json', 'text', (c) => c.notNull())
    .addColumn('rulebook_version', 'integer', (c) => c.notNull())
    .addColumn('snapshot_json', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('decided_at', 'text', (c) => c.notNull())
    .execute();
  await s
    .createIndex('policy_decisions_outcome')
    .on('policy_decisions')
    .columns(['outcome', 'decided_at'])
    .execute();
  await s
    .createIndex('policy_decisions_hcp')
    .on('policy_decisions')
    .columns(['hcp_id', 'decided_at'])
    .execute();

  await s
    .createTable('rulebooks')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('yaml', 'text', (c) => c.notNull())
    .addColumn('comment', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('message_id', 'text', (c) => c.notNull().unique().references('messages.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('available_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('outbox_ready').on('outbox').columns(['state', 'available_at']).execute();

  await s
    .createTable('idempotency_keys')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('response_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'key'])
    .execute();

  await s
    .createTable('tracked_links')
    .addColumn('code', 'text', (c) => c.primaryKey())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'text', (c) => c.notNull())
    .addColumn('hcp_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('cases')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('hcp_id', 'text')
    .addColumn('message_id', 'text')
    .addColumn('interaction_id', 'text')
    .addColumn('verbatim_enc', 'text', (c) => c.notNull())
    .addColumn('product', 'text')
    .addColumn('market_code', 'text')
    .addColumn('aware_at', 'text', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('owner_team', 'text', (c) => c.notNull())
    .addColumn('triage_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('cases_hcp').on('cases').column('hcp_id').execute();
  await s.createIndex('cases_kind_status').on('cases').columns(['kind', 'status', 'due_at']).execute();

  await s
    .createTable('webhook_inbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('body_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('processed_at', 'text')
    .addColumn('error', 'text')
    .execute();
  await s.createIndex('webhook_inbox_state').on('webhook_inbox').columns(['state', 'received_at']).execute();

  await s
    .createTable('webhook_events')
    .addColumn('event_key', 'text', (c) => c.primaryKey())
    .addColumn('inbox_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('processed_at', 'text')
    .execute();

  await s
    .createTable('service_windows')
    .addColumn('hcp_id', 'text', (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('last_inbound_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_windows_pk', ['hcp_id', 'phone_number_id'])
    .execute();

  await s
    .createTable('unknown_contacts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('wa_id_bidx', 'text', (c) => c.notNull())
    .addColumn('wa_id_enc', 'text', (c) => c.notNull())
    .addColumn('profile_name_enc', 'text')
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('audit_events')
    .addColumn('seq', 'integer', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_role', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text')
    .addColumn('reason', 'text')
    .addColumn('changes_json', 'text', (c) => c.notNull())
    .addColumn('personal_ref', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await s
    .createIndex('audit_events_target')
    .on('audit_events')
    .columns(['target_type', 'target_id'])
    .execute();
  await s.createIndex('audit_events_subject').on('audit_events').column('subject_id').execute();

  await s
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('audit_personal')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('payload_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('audit_personal_subject').on('audit_personal').column('subject_id').execute();

  await s
    .createTable('security_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('method', 'text')
    .addColumn('route', 'text')
    .addColumn('target', 'text')
    .addColumn('detail_json', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('security_log_at').on('security_log').columns(['kind', 'at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('Parley migrations are forward-only: restore a backup to go back.');
}
