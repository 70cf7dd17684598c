import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { AuditActor } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { ROLES, type Principal } from '../identity/index.js';
import { logSecurityEvent } from '../audit/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  decodeCursor,
  ilike,
  isUniqueViolation,
  nextIdentityValues,
  pageOf,
  preparedQuery,
  type DbOrTx,
  type HcpsTable,
  type Page,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { hcpVisibility } from './hcp-scope.js';

/** An HCP as the API shows it (CONTRACT.md), with personal values opened. */
export interface Hcp {
  id: string;
  crmId: string;
  name: string;
  specialty: string | null;
  institution: string | null;
  market: string;
  language: string;
  timeZone: string;
  whatsappNumber: string | null;
  whatsappStatus: HcpsTable['whatsapp_status'];
  marketingStopped: boolean;
  email: string | null;
  segment: string | null;
  territoryIds: string[];
  erased: boolean;
}

export interface NewHcp {
  crmId?: string;
  name: string;
  specialty?: string | null;
  institution?: string | null;
  market: string;
  language: string;
  timeZone: string;
  whatsappNumber?: string | null;
  email?: string | null;
  segment?: string | null;
  territoryIds: string[];
}

type Deps = Pick<ParleyContext, 'cipher' | 'clock' | 'audit' | 'dialect'>;

/** E.164 form of a number, or undefined when it is not a valid phone number. */
export function normaliseNumber(raw: string): string | undefined {
  const withPlus = raw.trim().startsWith('+') ? raw.trim() : `+${raw.replace(/\D/g, '')}`;
  const parsed = parsePhoneNumberFromString(withPlus);
  return parsed?.isValid() ? parsed.number : undefined;
}

export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** The blind index of a number as stored: look-ups by inbound `wa_id` or `?q=` use the same function. */
export function numberIndex(deps: Pick<ParleyContext, 'cipher'>, e164: string): string {
  return deps.cipher.blindIndex(`tel:${e164}`);
}

function emailIndex(deps: Pick<ParleyContext, 'cipher'>, email: string): string {
  return deps.cipher.blindIndex(`email:${normaliseEmail(email)}`);
}

/**
 * The `seq` of each of `count` HCPs about to be inserted, in the caller's transaction: the one place HCP
 * seqs are handed out (createHcp, the HCP import, the demo seed). Ascending; consecutive on SQLite.
 */
export function nextHcpSeqs(tx: DbOrTx, count: number): Promise<number[]> {
  return nextIdentityValues(tx, 'hcps', 'seq', count);
}

/** Creates an HCP (admin, import, seed); audited, personal values sealed. */
export async function createHcp(
  db: DbOrTx,
  deps: Deps,
  actor: AuditActor | null,
  input: NewHcp,
): Promise<Hcp> {
  const now = deps.clock.now().toISOString();
  const id = newId('hcp');
  const e164 = input.whatsappNumber ? normaliseNumber(input.whatsappNumber) : undefined;
  if (input.whatsappNumber && !e164) {
    throw new DomainError('validation_failed', 'whatsappNumber is not a valid phone number', [
      { path: 'body.whatsappNumber', message: 'not a valid E.164 number' },
    ]);
  }
  await checkPlacement(db, input);
  const fields = {
    id,
    crm_id: input.crmId ?? `PARLEY-${id.slice(-12).toUpperCase()}`,
    name: input.name,
    specialty: input.specialty ?? null,
    institution: input.institution ?? null,
    market_code: input.market,
    language: input.language,
    time_zone: input.timeZone,
    whatsapp_number_enc: e164 ? deps.cipher.seal(e164) : null,
    whatsapp_number_bidx: e164 ? numberIndex(deps, e164) : null,
    wa_id_bidx: e164 ? deps.cipher.blindIndex(`wa:${e164.slice(1)}`) : null,
    bsuid: null,
    whatsapp_status: 'active' as const,
    marketing_stopped: 0 as const,
    email_enc: input.email ? deps.cipher.seal(normaliseEmail(input.email)) : null,
    email_bidx: input.email ? emailIndex(deps, input.email) : null,
    segment: input.segment ?? null,
    legal_hold: 0 as const,
    erased_at: null,
    created_at: now,
    updated_at: now,
  };
  const write = async (tx: DbOrTx) => {
    const [seq] = await nextHcpSeqs(tx, 1);
    if (seq === undefined) throw new Error('no seq for a new HCP');
    await tx
      .insertInto('hcps')
      .values({ ...fields, seq })
      .execute();
    if (input.territoryIds.length > 0) {
      await tx
        .insertInto('hcp_territories')
        .values(input.territoryIds.map((t) => ({ hcp_id: id, territory_id: t })))
        .execute();
    }
    await deps.audit.record(tx, {
      actor,
      action: 'hcp.created',
      target: { type: 'hcp', id },
      subjectId: id,
      after: {
        crmId: fields.crm_id,
        market: fields.market_code,
        language: fields.language,
        timeZone: fields.time_zone,
        territoryIds: input.territoryIds,
      },
      personal: { name: fields.name, whatsappNumber: e164 ?? null, email: input.email ?? null },
    });
  };
  try {
    if (db.isTransaction) await write(db);
    else await db.transaction().execute(write);
  } catch (error) {
    if (isUniqueViolation(error))
      throw new DomainError('conflict', 'An HCP with this CRM id already exists', [
        { path: 'body.crmId', message: 'already in use' },
      ]);
    throw error;
  }
  return toHcp(deps, fields, input.territoryIds);
}

/**
 * The market must exist and every territory must exist and belong to it: an HCP assigned across markets
 * would be seen by reps working under another market's rules. Details name each bad field.
 */
async function checkPlacement(db: DbOrTx, input: Pick<NewHcp, 'market' | 'territoryIds'>): Promise<void> {
  const details: Array<{ path: string; message: string }> = [];
  const market = await db
    .selectFrom('markets')
    .select('code')
    .where('code', '=', input.market)
    .executeTakeFirst();
  if (!market) details.push({ path: 'body.market', message: `no market ${input.market}` });
  const known =
    input.territoryIds.length === 0
      ? []
      : await db
          .selectFrom('territories')
          .select(['id', 'market_code'])
          .where('id', 'in', input.territoryIds)
          .execute();
  const byId = new Map(known.map((t) => [t.id, t.market_code]));
  input.territoryIds.forEach((territoryId, i) => {
    const territoryMarket = byId.get(territoryId);
    if (territoryMarket === undefined)
      details.push({ path: `body.territoryIds.${i}`, message: `no territory ${territoryId}` });
    else if (market && territoryMarket !== input.market)
      details.push({
        path: `body.territoryIds.${i}`,
        message: `territory ${territoryId} belongs to market ${territoryMarket}, not ${input.market}`,
      });
  });
  if (new Set(input.territoryIds).size !== input.territoryIds.length)
    details.push({ path: 'body.territoryIds', message: 'names a territory twice' });
  if (details.length > 0)
    throw new DomainError(
      'validation_failed',
      `The body is not valid: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
      details,
    );
}

function toHcp(
  deps: Pick<ParleyContext, 'cipher'>,
  row: Omit<HcpsTable, 'seq'>,
  territoryIds: string[],
): Hcp {
  return {
    id: row.id,
    crmId: row.crm_id,
    name: row.name,
    specialty: row.specialty,
    institution: row.institution,
    market: row.market_code,
    language: row.language,
    timeZone: row.time_zone,
    whatsappNumber: row.whatsapp_number_enc ? deps.cipher.open(row.whatsapp_number_enc) : null,
    whatsappStatus: row.whatsapp_status,
    marketingStopped: row.marketing_stopped === 1,
    email: row.email_enc ? deps.cipher.open(row.email_enc) : null,
    segment: row.segment,
    territoryIds,
    erased: row.erased_at !== null,
  };
}

async function territoriesOf(db: DbOrTx, hcpIds: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  if (hcpIds.length === 0) return map;
  // One HCP (every read of a single HCP) is a prepared query; a page of them is built as it comes.
  const rows =
    hcpIds.length === 1
      ? await territoriesOfOne.all(db, { hcpId: hcpIds[0]! })
      : await db
          .selectFrom('hcp_territories')
          .select(['hcp_id', 'territory_id'])
          .where('hcp_id', 'in', hcpIds)
          .orderBy('territory_id')
          .execute();
  for (const r of rows) map.set(r.hcp_id, [...(map.get(r.hcp_id) ?? []), r.territory_id]);
  return map;
}

const territoriesOfOne = preparedQuery((db, $: { hcpId: string }) =>
  db
    .selectFrom('hcp_territories')
    .select(['hcp_id', 'territory_id'])
    .where('hcp_id', '=', $.hcpId)
    .orderBy('territory_id'),
);

/**
 * The one door to a single HCP for a principal: out of scope and missing look the same (404), and an
 * out-of-scope attempt is written to the security log, so existence never leaks.
 */
export async function findVisibleHcp(
  db: DbOrTx,
  deps: Pick<ParleyContext, 'cipher' | 'clock'>,
  principal: Principal,
  hcpId: string,
  request?: { ip?: string; method?: string; route?: string },
): Promise<Hcp> {
  const row = await visibleHcpQueries.get(principal.role)!.first(db, {
    hcpId,
    principalId: principal.id,
    marketCodes: principal.marketCodes,
  });
  if (!row) {
    await logSecurityEvent(db, deps.clock.now(), {
      kind: 'out_of_scope',
      actorId: principal.id,
      ip: request?.ip ?? null,
      method: request?.method ?? null,
      route: request?.route ?? null,
      target: hcpId,
    });
    throw new DomainError('not_found', 'HCP not found');
  }
  const territories = await territoriesOf(db, [row.id]);
  return toHcp(deps, row, territories.get(row.id) ?? []);
}

/**
 * The scoped read of one HCP, a prepared query per role (the scoping condition's shape is the role's; the
 * caller's id and markets are its values). Every check and send starts with it.
 */
const visibleHcpQueries = new Map(
  ROLES.map((role) => [
    role,
    preparedQuery((db, $: { hcpId: string; principalId: string; marketCodes: readonly string[] }) =>
      db
        .selectFrom('hcps')
        .selectAll()
        .where('id', '=', $.hcpId)
        .where(
          hcpVisibility({
            role,
            // Read only by the roles whose condition uses them (preparedQuery refuses a value read but
            // not bound, and accepts one never read).
            get id() {
              return $.principalId;
            },
            get marketCodes() {
              return $.marketCodes;
            },
          }),
        ),
    ),
  ]),
);

/** Unscoped read, for Parley's own processes (webhooks, workers); never behind a user's route. */
export async function findHcpById(
  db: DbOrTx,
  deps: Pick<ParleyContext, 'cipher'>,
  hcpId: string,
): Promise<Hcp | undefined> {
  const row = await db.selectFrom('hcps').selectAll().where('id', '=', hcpId).executeTakeFirst();
  if (!row) return undefined;
  const territories = await territoriesOf(db, [row.id]);
  return toHcp(deps, row, territories.get(row.id) ?? []);
}

/** The HCP behind an inbound WhatsApp sender: by E.164 number (blind index) or Meta's `wa_id`. */
export async function findHcpByWhatsappNumber(
  db: DbOrTx,
  deps: Pick<ParleyContext, 'cipher'>,
  waIdOrNumber: string,
): Promise<Hcp | undefined> {
  const e164 = normaliseNumber(waIdOrNumber);
  const digits = waIdOrNumber.replace(/\D/g, '');
  const row = await db
    .selectFrom('hcps')
    .selectAll()
    .where('erased_at', 'is', null)
    .where((eb) =>
      eb.or([
        ...(e164 ? [eb('whatsapp_number_bidx', '=', numberIndex(deps, e164))] : []),
        eb('wa_id_bidx', '=', deps.cipher.blindIndex(`wa:${digits}`)),
      ]),
    )
    .orderBy('id')
    .executeTakeFirst();
  if (!row) return undefined;
  const territories = await territoriesOf(db, [row.id]);
  return toHcp(deps, row, territories.get(row.id) ?? []);
}

export interface HcpQuery {
  q?: string;
  market?: string;
  limit: number;
  cursor?: string;
}

/**
 * HCPs a principal may see, by name order with id as the tie-breaker. `q` matches a name (contains,
 * case-insensitive) or a CRM id (exact) or, when it reads as a phone number, the exact number via its
 * blind index. A `q` shaped like a CRM id (one word with a digit in it) that is the exact CRM id of an HCP
 * the caller sees finds those HCPs through the CRM-id index alone: OR-ed with the name's `LIKE '%q%'` it
 * made every such search read the whole table, and a person's name holding a CRM id is not a real case.
 */
export async function listVisibleHcps(
  db: DbOrTx,
  deps: Pick<ParleyContext, 'cipher' | 'dialect'>,
  principal: Principal,
  query: HcpQuery,
): Promise<Page<Hcp>> {
  const visible = () => {
    const base = db.selectFrom('hcps').selectAll().where(hcpVisibility(principal));
    return query.market ? base.where('market_code', '=', query.market) : base;
  };
  let qb = visible();
  const q = query.q?.trim();
  if (q) {
    const e164 = /^\+?[\d\s().-]{8,}$/.test(q) ? normaliseNumber(q) : undefined;
    const crmShaped = /^\S+$/.test(q) && /\d/.test(q);
    const crmHit =
      !e164 && crmShaped
        ? await visible().where('crm_id', '=', q).select('hcps.id as hit').limit(1).executeTakeFirst()
        : undefined;
    if (e164) qb = qb.where('whatsapp_number_bidx', '=', numberIndex(deps, e164));
    else if (crmHit) qb = qb.where('crm_id', '=', q);
    // No HCP the caller sees has this CRM id, so the name alone decides (the same answer as with the OR).
    else if (crmShaped) qb = qb.where(ilike(deps.dialect, 'hcps.name', q));
    else qb = qb.where((eb) => eb.or([ilike(deps.dialect, 'hcps.name', q), eb('crm_id', '=', q)]));
  }
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || key.length !== 2)
      throw new DomainError('bad_request', 'cursor is not valid; start again without it');
    const [name, id] = key as [string, string];
    qb = qb.where((eb) => eb.or([eb('name', '>', name), eb.and([eb('name', '=', name), eb('id', '>', id)])]));
  }
  const rows = await qb
    .orderBy('name')
    .orderBy('id')
    .limit(query.limit + 1)
    .execute();
  const territories = await territoriesOf(
    db,
    rows.slice(0, query.limit).map((r) => r.id),
  );
  return pageOf(
    rows,
    query.limit,
    (r) => [r.name, r.id],
    (r) => toHcp(deps, r, territories.get(r.id) ?? []),
  );
}
