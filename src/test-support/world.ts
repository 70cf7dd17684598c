import type { ParleyContext } from '../context.js';
import { createHcp, type Hcp } from '../hcps/index.js';
import type { Principal, Role } from '../identity/index.js';
import { createSession, loadPrincipal } from '../identity/index.js';
import { hashPassword } from '../platform/crypto/index.js';
import {
  NEW_MESSAGE_FACTS,
  type AssetsTable,
  type HcpsTable,
  type MessagesTable,
  type TemplatesTable,
} from '../platform/database/index.js';

export const TEST_PASSWORD = 'correct horse battery';

/**
 * An HCP row as a test writes it straight into the table (no territories, nothing personal), for tests of
 * what the store itself does with such a row; everything else creates HCPs through `createHcp`.
 */
export function bareHcpRow(row: { id: string; crmId: string; at: string }): Omit<HcpsTable, 'seq'> {
  return {
    id: row.id,
    crm_id: row.crmId,
    name: 'Dr. Bare Row',
    specialty: null,
    institution: null,
    market_code: 'BR',
    language: 'pt-BR',
    time_zone: 'America/Sao_Paulo',
    whatsapp_number_enc: null,
    whatsapp_number_bidx: null,
    wa_id_bidx: null,
    bsuid: null,
    whatsapp_status: 'active',
    marketing_stopped: 0,
    email_enc: null,
    email_bidx: null,
    segment: null,
    legal_hold: 0,
    erased_at: null,
    created_at: row.at,
    updated_at: row.at,
  };
}

/**
 * A small, fixed world for tests: three markets, three territories, one user per role (two reps in
 * different BR territories, led by one manager; an MSL for BR), and HCPs in each territory. Tests build
 * on it rather than on the demo seed, so they state what they rely on.
 */
export interface TestWorld {
  users: Record<
    | 'rep1'
    | 'rep2'
    | 'repEs'
    | 'manager'
    | 'msl'
    | 'pv'
    | 'compliance'
    | 'brand'
    | 'medical'
    | 'digital'
    | 'admin',
    { id: string; email: string; role: Role }
  >;
  territories: { br1: string; br2: string; es1: string };
  hcps: { br1a: Hcp; br1b: Hcp; br2a: Hcp; es1a: Hcp };
  /** A bearer token for a user of the world. */
  tokenFor(user: keyof TestWorld['users']): Promise<string>;
  /** A user of the world as a request's principal, scope read from the store as a session's is. */
  principalFor(user: keyof TestWorld['users']): Promise<Principal>;
}

/**
 * A messages row as a test writes it straight into the table: what `fields` names, and for the rest a
 * message as Parley first writes one (no parameters, text, error, decision or key; no facts kept yet;
 * the market left to the database, which takes the HCP's). Its status changed when it was created.
 */
export function bareMessageRow(
  fields: Pick<MessagesTable, 'id' | 'hcp_id' | 'direction' | 'phone_number_id' | 'status' | 'created_at'> &
    Partial<MessagesTable>,
): MessagesTable {
  return {
    rep_id: null,
    wamid: null,
    type: 'template',
    template_id: null,
    parameters_enc: null,
    body_enc: null,
    asset_ids_json: '[]',
    provenance_json: '{}',
    send_kind: null,
    status_at: fields.created_at,
    error_code: null,
    error_title: null,
    error_detail: null,
    decision_id: null,
    idempotency_key: null,
    context_wamid: null,
    send_at: null,
    meta_timestamp: null,
    ...NEW_MESSAGE_FACTS,
    market_code: null,
    ...fields,
  };
}

/**
 * An assets row as a test writes it straight into the table: what `fields` names, and for the rest an
 * approved, non-promotional leaflet, version 1, of no brand or product, with no approval details, expiry
 * or review comment, last changed when it was created.
 */
export function bareAssetRow(
  fields: Pick<AssetsTable, 'id' | 'key' | 'market_code' | 'author_id' | 'created_at'> & Partial<AssetsTable>,
): AssetsTable {
  return {
    version: 1,
    title: fields.key,
    kind: 'leaflet',
    status: 'approved',
    url: `https://assets.test/${fields.key}`,
    approval_code: null,
    classification: 'non_promotional',
    brand: null,
    products_json: '[]',
    topics_json: '[]',
    approved_by: null,
    approved_at: null,
    expires_at: null,
    review_comment: null,
    updated_at: fields.created_at,
    ...fields,
  };
}

/**
 * A templates row as a test writes it straight into the table: what `fields` names, and for the rest an
 * approved, non-promotional follow-up of no brand or product, version 1, in Brazilian Portuguese, whose
 * WhatsApp name is its key and which Meta approved as a utility template, with no parameters, buttons,
 * approval details, expiry or review comment, last changed when it was created.
 */
export function bareTemplateRow(
  fields: Pick<TemplatesTable, 'id' | 'key' | 'author_id' | 'created_at'> & Partial<TemplatesTable>,
): TemplatesTable {
  return {
    version: 1,
    status: 'approved',
    type: 'follow_up',
    classification: 'non_promotional',
    whatsapp_category: 'utility',
    whatsapp_name: fields.key,
    whatsapp_language: 'pt_BR',
    whatsapp_status: 'approved',
    market_code: 'BR',
    language: 'pt-BR',
    brand: null,
    products_json: '[]',
    tone_tags_json: '[]',
    body: 'Olá',
    parameters_json: '[]',
    buttons_json: '[]',
    approval_code: null,
    approved_by: null,
    approved_at: null,
    expires_at: null,
    review_comment: null,
    lint_json: '[]',
    updated_at: fields.created_at,
    ...fields,
  };
}

let passwordHash: string | undefined;

export async function buildTestWorld(ctx: ParleyContext): Promise<TestWorld> {
  const { db } = ctx;
  const now = ctx.clock.now().toISOString();
  passwordHash ??= await hashPassword(TEST_PASSWORD);
  await db
    .insertInto('markets')
    .values([
      {
        code: 'BR',
        name: 'Brazil',
        languages_json: '["pt-BR"]',
        time_zone: 'America/Sao_Paulo',
        weekend_days_json: '[6,7]',
        holidays_json: '["2026-04-21","2026-09-07"]',
        legal_regime: 'LGPD',
        data_residency: 'BR',
        created_at: now,
      },
      {
        code: 'ES',
        name: 'Spain',
        languages_json: '["es-ES"]',
        time_zone: 'Europe/Madrid',
        weekend_days_json: '[6,7]',
        holidays_json: '["2026-10-12"]',
        legal_regime: 'GDPR',
        data_residency: 'EU',
        created_at: now,
      },
      {
        code: 'IN',
        name: 'India',
        languages_json: '["en-IN","hi-IN"]',
        time_zone: 'Asia/Kolkata',
        weekend_days_json: '[7]',
        holidays_json: '["2026-01-26"]',
        legal_regime: 'DPDP',
        data_residency: 'IN',
        created_at: now,
      },
    ])
    .execute();
  await db
    .insertInto('sending_numbers')
    .values([
      {
        phone_number_id: ctx.config.whatsapp.phoneNumberId,
        market_code: 'BR',
        display_phone_number: '15550783881',
        waba_id: '102290129340398',
        messaging_limit: 1000,
        status: 'active',
        paused_reason: null,
      },
    ])
    .execute();
  await db
    .insertInto('territories')
    .values([
      { id: 'ter_br1', name: 'São Paulo Centro', market_code: 'BR' },
      { id: 'ter_br2', name: 'Rio Sul', market_code: 'BR' },
      { id: 'ter_es1', name: 'Madrid Norte', market_code: 'ES' },
    ])
    .execute();
  const specs: Array<[keyof TestWorld['users'], Role, string[], string[]]> = [
    ['manager', 'manager', ['BR'], []],
    ['rep1', 'rep', ['BR'], ['ter_br1']],
    ['rep2', 'rep', ['BR'], ['ter_br2']],
    ['repEs', 'rep', ['ES'], ['ter_es1']],
    ['msl', 'msl', ['BR'], []],
    ['pv', 'pv', ['BR', 'ES', 'IN'], []],
    ['compliance', 'compliance', ['BR', 'ES', 'IN'], []],
    ['brand', 'brand', ['BR'], []],
    ['medical', 'medical', ['BR'], []],
    ['digital', 'digital', ['BR'], []],
    ['admin', 'admin', ['BR', 'ES', 'IN'], []],
  ];
  const users = {} as TestWorld['users'];
  for (const [key, role, markets, territories] of specs) {
    const id = `usr_${key}`;
    const email = `${key.toLowerCase()}@test.parley`;
    await db
      .insertInto('users')
      .values({
        id,
        email,
        name: `Test ${key}`,
        role,
        password_hash: passwordHash,
        manager_id: key === 'rep1' || key === 'rep2' ? 'usr_manager' : null,
        active: 1,
        created_at: now,
      })
      .execute();
    if (markets.length)
      await db
        .insertInto('user_markets')
        .values(markets.map((m) => ({ user_id: id, market_code: m })))
        .execute();
    if (territories.length)
      await db
        .insertInto('user_territories')
        .values(territories.map((t) => ({ user_id: id, territory_id: t })))
        .execute();
    users[key] = { id, email, role };
  }
  const br1a = await createHcp(db, ctx, null, {
    crmId: 'CRM-BR1A',
    name: 'Dra. Ana Souza',
    specialty: 'Cardiology',
    market: 'BR',
    language: 'pt-BR',
    timeZone: 'America/Sao_Paulo',
    whatsappNumber: '+5511987654321',
    email: 'ana.souza@example.com.br',
    territoryIds: ['ter_br1'],
  });
  const br1b = await createHcp(db, ctx, null, {
    crmId: 'CRM-BR1B',
    name: 'Dr. Bruno Lima',
    specialty: 'Endocrinology',
    market: 'BR',
    language: 'pt-BR',
    timeZone: 'America/Sao_Paulo',
    whatsappNumber: '+5511912345678',
    territoryIds: ['ter_br1'],
  });
  const br2a = await createHcp(db, ctx, null, {
    crmId: 'CRM-BR2A',
    name: 'Dra. Carla Mendes',
    specialty: 'Cardiology',
    market: 'BR',
    language: 'pt-BR',
    timeZone: 'America/Sao_Paulo',
    whatsappNumber: '+5521998765432',
    territoryIds: ['ter_br2'],
  });
  const es1a = await createHcp(db, ctx, null, {
    crmId: 'CRM-ES1A',
    name: 'Dr. Diego Ruiz',
    specialty: 'Oncology',
    market: 'ES',
    language: 'es-ES',
    timeZone: 'Europe/Madrid',
    whatsappNumber: '+34612345678',
    territoryIds: ['ter_es1'],
  });

  return {
    users,
    territories: { br1: 'ter_br1', br2: 'ter_br2', es1: 'ter_es1' },
    hcps: { br1a, br1b, br2a, es1a },
    async tokenFor(user) {
      const { token } = await createSession(db, users[user].id, ctx.clock.now(), 12);
      return token;
    },
    principalFor(user) {
      const { id, email, role } = users[user];
      return loadPrincipal(db, { id, email, role, name: `Test ${user}`, sessionId: 'test' });
    },
  };
}
