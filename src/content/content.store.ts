import type { ParleyContext } from '../context.js';
import type { Principal } from '../identity/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  decodeCursor,
  isUniqueViolation,
  pageOf,
  preparedQuery,
  type AssetsTable,
  type DbOrTx,
  type Page,
  type TemplatesTable,
} from '../platform/database/index.js';
import { DomainError, notFound } from '../platform/errors/index.js';
import type {
  Asset,
  AssetKind,
  Classification,
  ContentKind,
  ContentStatus,
  LintFlag,
  Replacement,
  Template,
  TemplateParameter,
  TemplateType,
  WhatsappCategory,
} from './content-model.js';
import { effectiveStatus, expiryInstant } from './content-workflow.js';
import { placeholdersOf } from './template-render.js';

/**
 * Templates and assets in the store: versions of a key, the libraries (lists with filters), single reads,
 * and the look-ups messaging and the policy engine make. Every read applies expiry as of `now` (see
 * `effectiveStatus`), so an expired piece never reads `approved`, whether or not the expiry job has run.
 */

type Deps = Pick<ParleyContext, 'clock' | 'audit'>;

/** Roles that author and review content see every state; everyone else sees pieces once approved. */
const SEES_DRAFTS: readonly string[] = ['brand', 'medical', 'compliance'];
const EVER_APPROVED: ContentStatus[] = ['approved', 'superseded', 'expired', 'withdrawn'];

export interface NewTemplate {
  key: string;
  type: TemplateType;
  classification: Classification;
  whatsappCategory: WhatsappCategory;
  whatsappName: string;
  whatsappLanguage: string;
  market: string;
  language: string;
  brand?: string | null;
  products?: string[];
  toneTags?: string[];
  body: string;
  parameters: TemplateParameter[];
  buttons?: string[];
  /** A date (expires at the start of that day in the market's time zone) or an ISO date-time. */
  expiresAt?: string | null;
}

export interface NewAsset {
  key: string;
  title: string;
  kind: AssetKind;
  url: string;
  classification: Classification;
  market: string;
  brand?: string | null;
  products?: string[];
  topics?: string[];
  expiresAt?: string | null;
}

export interface ContentFilter {
  status?: ContentStatus;
  market?: string;
  brand?: string;
  /** Templates: message type; assets: kind. */
  type?: string;
  /** Templates only. */
  language?: string;
  key?: string;
  limit: number;
  cursor?: string;
}

const parse = <T>(json: string): T => JSON.parse(json) as T;

export function toTemplate(row: TemplatesTable, now: Date, replacedBy: Replacement | null = null): Template {
  return {
    id: row.id,
    key: row.key,
    version: Number(row.version),
    status: effectiveStatus(row.status, row.expires_at, now),
    type: row.type,
    classification: row.classification,
    whatsappCategory: row.whatsapp_category,
    whatsappName: row.whatsapp_name,
    whatsappLanguage: row.whatsapp_language,
    whatsappStatus: row.whatsapp_status,
    market: row.market_code,
    language: row.language,
    brand: row.brand,
    products: parse<string[]>(row.products_json),
    toneTags: parse<string[]>(row.tone_tags_json),
    body: row.body,
    parameters: parse<TemplateParameter[]>(row.parameters_json),
    buttons: parse<string[]>(row.buttons_json),
    approvalCode: row.approval_code,
    authorId: row.author_id,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    expiresAt: row.expires_at,
    reviewComment: row.review_comment,
    lint: parse<LintFlag[]>(row.lint_json),
    replacedBy,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toAsset(row: AssetsTable, now: Date, replacedBy: Replacement | null = null): Asset {
  return {
    id: row.id,
    key: row.key,
    version: Number(row.version),
    title: row.title,
    kind: row.kind,
    status: effectiveStatus(row.status, row.expires_at, now),
    url: row.url,
    approvalCode: row.approval_code,
    classification: row.classification,
    market: row.market_code,
    brand: row.brand,
    products: parse<string[]>(row.products_json),
    topics: parse<string[]>(row.topics_json),
    authorId: row.author_id,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    expiresAt: row.expires_at,
    reviewComment: row.review_comment,
    replacedBy,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function marketTimeZone(db: DbOrTx, market: string): Promise<string> {
  const row = await db
    .selectFrom('markets')
    .select('time_zone')
    .where('code', '=', market)
    .executeTakeFirst();
  if (!row)
    throw new DomainError('validation_failed', `There is no market ${market}.`, [
      { path: 'body.market', message: 'unknown market' },
    ]);
  return row.time_zone;
}

async function resolveExpiry(db: DbOrTx, market: string, input: string | null | undefined, now: Date) {
  const timeZone = await marketTimeZone(db, market);
  if (input === undefined || input === null) return null;
  const at = expiryInstant(input, timeZone);
  if (!at)
    throw new DomainError('validation_failed', 'expiresAt must be a date (YYYY-MM-DD) or an ISO date-time.', [
      { path: 'body.expiresAt', message: 'not a date' },
    ]);
  if (at <= now.toISOString())
    throw new DomainError('validation_failed', 'expiresAt is already past.', [
      { path: 'body.expiresAt', message: 'already past' },
    ]);
  return at;
}

/** Body and parameters agree: every placeholder declared, every declaration used, `text` bounded by MLR. */
function checkParameters(body: string, parameters: readonly TemplateParameter[]): void {
  const details: Array<{ path: string; message: string }> = [];
  const used = placeholdersOf(body);
  const declared = parameters.map((p) => p.name);
  for (const name of used)
    if (!declared.includes(name))
      details.push({ path: 'body.body', message: `{{${name}}} is not a declared parameter` });
  parameters.forEach((p, i) => {
    if (!used.includes(p.name))
      details.push({ path: `body.parameters.${i}`, message: `${p.name} does not appear in the body` });
    if (declared.indexOf(p.name) !== i)
      details.push({ path: `body.parameters.${i}`, message: `${p.name} is declared twice` });
    if (p.type === 'text' && p.maxLength === undefined)
      details.push({ path: `body.parameters.${i}`, message: 'a text parameter needs the maxLength MLR set' });
    if (p.assetKind !== undefined && p.type !== 'asset_link')
      details.push({
        path: `body.parameters.${i}`,
        message: 'assetKind applies to asset_link parameters only',
      });
  });
  if (details.length > 0)
    throw new DomainError(
      'validation_failed',
      `The template is not valid: ${details.map((d) => d.message).join('; ')}`,
      details,
    );
}

/**
 * The next version of a key inside a transaction. A key belongs to one market: a new version of it cannot
 * move to another. Two authors racing for the same version number meet the unique (key, version) index;
 * the loser retries with the next number.
 */
async function withNextVersion<T>(
  db: DbOrTx,
  kind: ContentKind,
  key: string,
  market: string,
  write: (tx: DbOrTx, version: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const run = async (tx: DbOrTx) => {
        const table = kind === 'template' ? 'templates' : 'assets';
        const latest = await tx
          .selectFrom(table)
          .select(['version', 'market_code'])
          .where('key', '=', key)
          .orderBy('version', 'desc')
          .executeTakeFirst();
        if (latest && latest.market_code !== market)
          throw new DomainError(
            'conflict',
            `The key ${key} belongs to market ${latest.market_code}; use another key for ${market}.`,
          );
        return write(tx, latest ? Number(latest.version) + 1 : 1);
      };
      return db.isTransaction ? await run(db) : await db.transaction().execute(run);
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= 4 || db.isTransaction) throw error;
    }
  }
}

/** A new draft template: version 1 of a new key, or the next version of an existing one. Audited. */
export async function createTemplate(
  db: DbOrTx,
  deps: Deps,
  author: Principal,
  input: NewTemplate,
): Promise<Template> {
  const now = deps.clock.now();
  checkParameters(input.body, input.parameters);
  const expiresAt = await resolveExpiry(db, input.market, input.expiresAt, now);
  return withNextVersion(db, 'template', input.key, input.market, async (tx, version) => {
    const at = now.toISOString();
    const row: TemplatesTable = {
      id: newId('tpl'),
      key: input.key,
      version,
      status: 'draft',
      type: input.type,
      classification: input.classification,
      whatsapp_category: input.whatsappCategory,
      whatsapp_name: input.whatsappName,
      whatsapp_language: input.whatsappLanguage,
      whatsapp_status: 'pending',
      market_code: input.market,
      language: input.language,
      brand: input.brand ?? null,
      products_json: JSON.stringify(input.products ?? []),
      tone_tags_json: JSON.stringify(input.toneTags ?? []),
      body: input.body,
      parameters_json: JSON.stringify(input.parameters),
      buttons_json: JSON.stringify(input.buttons ?? []),
      approval_code: null,
      author_id: author.id,
      approved_by: null,
      approved_at: null,
      expires_at: expiresAt,
      review_comment: null,
      lint_json: '[]',
      created_at: at,
      updated_at: at,
    };
    await tx.insertInto('templates').values(row).execute();
    await deps.audit.record(tx, {
      actor: author,
      action: 'template.created',
      target: { type: 'template', id: row.id },
      after: {
        key: row.key,
        version,
        status: row.status,
        market: row.market_code,
        language: row.language,
        type: row.type,
        classification: row.classification,
        whatsappCategory: row.whatsapp_category,
        body: row.body,
        parameters: input.parameters,
        buttons: input.buttons ?? [],
        expiresAt,
      },
    });
    return toTemplate(row, now);
  });
}

/** A new draft asset: version 1 of a new key, or the next version of an existing one. Audited. */
export async function createAsset(
  db: DbOrTx,
  deps: Deps,
  author: Principal,
  input: NewAsset,
): Promise<Asset> {
  const now = deps.clock.now();
  const expiresAt = await resolveExpiry(db, input.market, input.expiresAt, now);
  return withNextVersion(db, 'asset', input.key, input.market, async (tx, version) => {
    const at = now.toISOString();
    const row: AssetsTable = {
      id: newId('ast'),
      key: input.key,
      version,
      title: input.title,
      kind: input.kind,
      status: 'draft',
      url: input.url,
      approval_code: null,
      classification: input.classification,
      market_code: input.market,
      brand: input.brand ?? null,
      products_json: JSON.stringify(input.products ?? []),
      topics_json: JSON.stringify(input.topics ?? []),
      author_id: author.id,
      approved_by: null,
      approved_at: null,
      expires_at: expiresAt,
      review_comment: null,
      created_at: at,
      updated_at: at,
    };
    await tx.insertInto('assets').values(row).execute();
    await deps.audit.record(tx, {
      actor: author,
      action: 'asset.created',
      target: { type: 'asset', id: row.id },
      after: {
        key: row.key,
        version,
        status: row.status,
        market: row.market_code,
        title: row.title,
        kind: row.kind,
        url: row.url,
        classification: row.classification,
        expiresAt,
      },
    });
    return toAsset(row, now);
  });
}

/**
 * For each key, its approved version in force at `now` (approved and not expired): what replaces an
 * older, expired, superseded or withdrawn version.
 */
async function currentVersions(
  db: DbOrTx,
  kind: ContentKind,
  keys: string[],
  now: Date,
): Promise<Map<string, Replacement>> {
  const map = new Map<string, Replacement>();
  if (keys.length === 0) return map;
  const rows = await db
    .selectFrom(kind === 'template' ? 'templates' : 'assets')
    .select(['id', 'key', 'version'])
    .where('key', 'in', [...new Set(keys)])
    .where('status', '=', 'approved')
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now.toISOString())]))
    .orderBy('version', 'asc')
    .execute();
  for (const r of rows) map.set(r.key, { id: r.id, version: Number(r.version) });
  return map;
}

function replacementFor(
  current: Map<string, Replacement>,
  row: { key: string; version: number; status: ContentStatus; expires_at: string | null },
  now: Date,
): Replacement | null {
  if (effectiveStatus(row.status, row.expires_at, now) === 'approved') return null;
  const replacement = current.get(row.key);
  return replacement && replacement.version > Number(row.version) ? replacement : null;
}

/**
 * The keys whose rows are not in force now: only those can have a replacement to name, so a decision on
 * an approved template (the usual case) reads no other version.
 */
function keysWithoutApprovedVersion(
  rows: readonly { key: string; status: ContentStatus; expires_at: string | null }[],
  now: Date,
): string[] {
  return rows.filter((r) => effectiveStatus(r.status, r.expires_at, now) !== 'approved').map((r) => r.key);
}

/** Templates with their replacements as of `now`. */
export async function templatesWithReplacements(
  db: DbOrTx,
  rows: TemplatesTable[],
  now: Date,
): Promise<Template[]> {
  const current = await currentVersions(db, 'template', keysWithoutApprovedVersion(rows, now), now);
  return rows.map((r) => toTemplate(r, now, replacementFor(current, r, now)));
}

export async function assetsWithReplacements(db: DbOrTx, rows: AssetsTable[], now: Date): Promise<Asset[]> {
  const current = await currentVersions(db, 'asset', keysWithoutApprovedVersion(rows, now), now);
  return rows.map((r) => toAsset(r, now, replacementFor(current, r, now)));
}

function mayRead(principal: Principal, status: ContentStatus): boolean {
  return SEES_DRAFTS.includes(principal.role) || EVER_APPROVED.includes(status);
}

/** One template as a principal may see it: drafts and reviews are the authors' and reviewers' only. */
export async function getTemplate(
  db: DbOrTx,
  principal: Principal,
  id: string,
  now: Date,
): Promise<Template> {
  const row = await db.selectFrom('templates').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !mayRead(principal, row.status)) throw notFound('Template');
  const [template] = await templatesWithReplacements(db, [row], now);
  return template!;
}

export async function getAsset(db: DbOrTx, principal: Principal, id: string, now: Date): Promise<Asset> {
  const row = await db.selectFrom('assets').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !mayRead(principal, row.status)) throw notFound('Asset');
  const [asset] = await assetsWithReplacements(db, [row], now);
  return asset!;
}

function keyCursor(cursor: string | undefined): [string, number] | undefined {
  if (cursor === undefined) return undefined;
  const key = decodeCursor(cursor);
  if (!key || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'number')
    throw new DomainError('bad_request', 'cursor is not valid; start again without it');
  return [key[0], key[1]];
}

/**
 * The template library, by key then newest version first. `status` filters on the status as of `now`
 * (`approved` leaves out what has expired; `expired` includes what expired without the job having run).
 */
export async function listTemplates(
  db: DbOrTx,
  principal: Principal,
  filter: ContentFilter,
  now: Date,
): Promise<Page<Template>> {
  const nowIso = now.toISOString();
  let qb = db.selectFrom('templates').selectAll();
  if (!SEES_DRAFTS.includes(principal.role)) qb = qb.where('status', 'in', EVER_APPROVED);
  if (filter.status === 'approved')
    qb = qb
      .where('status', '=', 'approved')
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]));
  else if (filter.status === 'expired')
    qb = qb.where((eb) =>
      eb.or([
        eb('status', '=', 'expired'),
        eb.and([eb('status', '=', 'approved'), eb('expires_at', '<=', nowIso)]),
      ]),
    );
  else if (filter.status) qb = qb.where('status', '=', filter.status);
  if (filter.market) qb = qb.where('market_code', '=', filter.market);
  if (filter.brand) qb = qb.where('brand', '=', filter.brand);
  if (filter.type) qb = qb.where('type', '=', filter.type as TemplateType);
  if (filter.language) qb = qb.where('language', '=', filter.language);
  if (filter.key) qb = qb.where('key', '=', filter.key);
  const after = keyCursor(filter.cursor);
  if (after) {
    const [key, version] = after;
    qb = qb.where((eb) =>
      eb.or([eb('key', '>', key), eb.and([eb('key', '=', key), eb('version', '<', version)])]),
    );
  }
  const rows = await qb
    .orderBy('key')
    .orderBy('version', 'desc')
    .limit(filter.limit + 1)
    .execute();
  const items = await templatesWithReplacements(db, rows.slice(0, filter.limit), now);
  const page = pageOf(
    rows,
    filter.limit,
    (r) => [r.key, Number(r.version)],
    (r) => r.id,
  );
  return { items, nextCursor: page.nextCursor };
}

/** The asset library; `type` filters on the asset's kind. Same rules as `listTemplates`. */
export async function listAssets(
  db: DbOrTx,
  principal: Principal,
  filter: ContentFilter,
  now: Date,
): Promise<Page<Asset>> {
  const nowIso = now.toISOString();
  let qb = db.selectFrom('assets').selectAll();
  if (!SEES_DRAFTS.includes(principal.role)) qb = qb.where('status', 'in', EVER_APPROVED);
  if (filter.status === 'approved')
    qb = qb
      .where('status', '=', 'approved')
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]));
  else if (filter.status === 'expired')
    qb = qb.where((eb) =>
      eb.or([
        eb('status', '=', 'expired'),
        eb.and([eb('status', '=', 'approved'), eb('expires_at', '<=', nowIso)]),
      ]),
    );
  else if (filter.status) qb = qb.where('status', '=', filter.status);
  if (filter.market) qb = qb.where('market_code', '=', filter.market);
  if (filter.brand) qb = qb.where('brand', '=', filter.brand);
  if (filter.type) qb = qb.where('kind', '=', filter.type as AssetKind);
  if (filter.key) qb = qb.where('key', '=', filter.key);
  const after = keyCursor(filter.cursor);
  if (after) {
    const [key, version] = after;
    qb = qb.where((eb) =>
      eb.or([eb('key', '>', key), eb.and([eb('key', '=', key), eb('version', '<', version)])]),
    );
  }
  const rows = await qb
    .orderBy('key')
    .orderBy('version', 'desc')
    .limit(filter.limit + 1)
    .execute();
  const items = await assetsWithReplacements(db, rows.slice(0, filter.limit), now);
  const page = pageOf(
    rows,
    filter.limit,
    (r) => [r.key, Number(r.version)],
    (r) => r.id,
  );
  return { items, nextCursor: page.nextCursor };
}

/**
 * A template as the policy engine and messaging need it, unscoped (Parley's own processes): status as of
 * `now`, with its replacement. One query (two when it is no longer in force). Undefined when unknown.
 */
export async function templateForDecision(
  db: DbOrTx,
  templateId: string,
  now: Date,
): Promise<Template | undefined> {
  const row = await templateById.first(db, { id: templateId });
  if (!row) return undefined;
  const [template] = await templatesWithReplacements(db, [row], now);
  return template;
}
// Every check and send reads its template: built and compiled once (preparedQuery).
const templateById = preparedQuery((db, $: { id: string }) =>
  db.selectFrom('templates').selectAll().where('id', '=', $.id),
);

/** Assets by id for a decision, in the order asked; unknown ids are left out (the caller names them). */
export async function assetsForDecision(
  db: DbOrTx,
  assetIds: readonly string[],
  now: Date,
): Promise<Asset[]> {
  if (assetIds.length === 0) return [];
  const rows = await db
    .selectFrom('assets')
    .selectAll()
    .where('id', 'in', [...new Set(assetIds)])
    .execute();
  const assets = await assetsWithReplacements(db, rows, now);
  const byId = new Map(assets.map((a) => [a.id, a]));
  return assetIds.flatMap((id) => byId.get(id) ?? []);
}

/** Both look-ups at once, for a send: the template and its assets in two parallel queries. */
export async function contentForMessage(
  db: DbOrTx,
  request: { templateId?: string | null; assetIds?: readonly string[] },
  now: Date,
): Promise<{ template: Template | undefined; assets: Asset[] }> {
  const [template, assets] = await Promise.all([
    request.templateId ? templateForDecision(db, request.templateId, now) : Promise.resolve(undefined),
    assetsForDecision(db, request.assetIds ?? [], now),
  ]);
  return { template, assets };
}
