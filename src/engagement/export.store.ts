import { sql } from 'kysely';
import { readInChunks, type DbOrTx, type Store } from '../platform/database/index.js';
import {
  INTERACTION_ROW_COLUMNS,
  ListMemo,
  csvLine,
  interactionRecordOf,
  type InteractionNames,
  type InteractionRow,
} from './export-lines.js';
import { abandonedBefore } from './import-interactions.store.js';

/** Later than any change: the bound of a feed when no import is being written. */
const NO_IMPORT_WRITING = '9999-12-31T23:59:59.999Z';

export const EXPORT_KINDS = ['interactions', 'consents', 'messages'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

/** CONTRACT.md "Export record", plus `updatedAt` (the change feed's clock). */
export interface InteractionExportRecord {
  id: string;
  hcpId: string;
  hcpCrmId: string;
  channel: string;
  kind: string;
  direction: string;
  occurredAt: string;
  repEmail: string | null;
  summary: string | null;
  topics: string[];
  products: string[];
  source: string;
  externalId: string;
  templateKey: string | null;
  templateVersion: number | null;
  approvalCode: string | null;
  assetCodes: string[];
  status: string | null;
  updatedAt: string;
}

export interface ConsentExportRecord {
  id: string;
  hcpId: string;
  hcpCrmId: string;
  channel: string;
  purpose: string;
  status: string;
  source: string;
  capturedByEmail: string | null;
  capturedAt: string;
  evidence: string | null;
  wordingVersion: string | null;
  messageId: string | null;
  expiresAt: string | null;
  recordedAt: string;
}

/** A WhatsApp message's record for the CRM: what was sent, when, its status; never its body. */
export interface MessageExportRecord {
  id: string;
  hcpId: string | null;
  hcpCrmId: string | null;
  repEmail: string | null;
  direction: string;
  type: string;
  wamid: string | null;
  status: string;
  statusAt: string;
  templateKey: string | null;
  templateVersion: number | null;
  approvalCode: string | null;
  assetCodes: string[];
  errorCode: number | null;
  createdAt: string;
}

export type ExportRecord = InteractionExportRecord | ConsentExportRecord | MessageExportRecord;

/** The columns of each kind, in order: the CSV header and the JSON key order. */
export const EXPORT_COLUMNS: Record<ExportKind, readonly string[]> = {
  interactions: [
    'id',
    'hcpId',
    'hcpCrmId',
    'channel',
    'kind',
    'direction',
    'occurredAt',
    'repEmail',
    'summary',
    'topics',
    'products',
    'source',
    'externalId',
    'templateKey',
    'templateVersion',
    'approvalCode',
    'assetCodes',
    'status',
    'updatedAt',
  ],
  consents: [
    'id',
    'hcpId',
    'hcpCrmId',
    'channel',
    'purpose',
    'status',
    'source',
    'capturedByEmail',
    'capturedAt',
    'evidence',
    'wordingVersion',
    'messageId',
    'expiresAt',
    'recordedAt',
  ],
  messages: [
    'id',
    'hcpId',
    'hcpCrmId',
    'repEmail',
    'direction',
    'type',
    'wamid',
    'status',
    'statusAt',
    'templateKey',
    'templateVersion',
    'approvalCode',
    'assetCodes',
    'errorCode',
    'createdAt',
  ],
};

/** Where a change feed stands: the `(time, id)` of the last record read. */
export type FeedPosition = readonly [string, string];

export interface FeedPage<R> {
  records: R[];
  /** The position after the last record (unchanged when the page is empty). */
  position: FeedPosition | null;
  /** Rows read, when some may have been left out of `records` (a page this short is the last). */
  read?: number;
}

function assetCodesFor(ids: string[], codes: Map<string, string | null>): string[] {
  if (ids.length === 0) return [];
  return ids.flatMap((id) => (codes.get(id) ? [codes.get(id)!] : []));
}

async function assetCodesOf(db: DbOrTx, lists: string[][]): Promise<Map<string, string | null>> {
  const ids = [...new Set(lists.flat())];
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('assets')
    .select(['id', 'approval_code', 'key', 'version'])
    .where('id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.id, r.approval_code ?? `${r.key}@${r.version}`]));
}

const after = (position: FeedPosition | null | undefined) => position ?? null;

const NO_ITEMS: readonly string[] = Object.freeze([]);
/**
 * A JSON list column as an array. Most rows hold `[]` (no topics, no assets): those skip the parser and
 * share one frozen empty array, which matters at hundreds of thousands of rows a second.
 */
const listOf = (json: string): string[] =>
  json === '[]' ? (NO_ITEMS as string[]) : (JSON.parse(json) as string[]);

/**
 * What an interaction's export record names beside its own columns (the HCP's CRM id, the rep's e-mail,
 * the template's key and version), looked up once per id and kept for the length of an export rather
 * than joined into every row: an HCP has hundreds of interactions, a rep thousands, a template more, so a
 * 10M-row export does a few hundred thousand look-ups instead of ten million joins. A snapshot: an HCP's
 * CRM id changed during the export shows its older value in the rows read before that point of the read.
 */
export interface FeedLookups {
  crmIds: Map<string, string>;
  emails: Map<string, string | null>;
  templates: Map<string, { key: string; version: number; approval_code: string | null }>;
}

export const newFeedLookups = (): FeedLookups => ({
  crmIds: new Map(),
  emails: new Map(),
  templates: new Map(),
});

/** Kept ids past which a lookup map is started afresh (bounded memory for any size of world). */
const LOOKUP_LIMIT = 500_000;

async function lookUpMissing<V>(
  cache: Map<string, V>,
  ids: Iterable<string | null>,
  read: (ids: string[]) => Promise<[string, V][]>,
): Promise<void> {
  if (cache.size > LOOKUP_LIMIT) cache.clear();
  const missing = new Set<string>();
  for (const id of ids) if (id !== null && !cache.has(id)) missing.add(id);
  if (missing.size === 0) return;
  for (const [id, value] of await readInChunks([...missing], read)) cache.set(id, value);
}

/** Reads into `lookups` the HCPs' CRM ids, reps' e-mails and templates not yet in it. */
async function lookUpNames(
  db: DbOrTx,
  lookups: FeedLookups,
  hcpIds: Iterable<string>,
  repIds: Iterable<string | null>,
  templateIds: Iterable<string | null>,
): Promise<void> {
  await lookUpMissing(lookups.crmIds, hcpIds, async (ids) =>
    (await db.selectFrom('hcps').select(['id', 'crm_id']).where('id', 'in', ids).execute()).map((h) => [
      h.id,
      h.crm_id,
    ]),
  );
  await lookUpMissing(lookups.emails, repIds, async (ids) => {
    const found = new Map(
      (await db.selectFrom('users').select(['id', 'email']).where('id', 'in', ids).execute()).map((u) => [
        u.id,
        u.email,
      ]),
    );
    // A rep id with no user (as a left join gives): no e-mail, and not asked for again.
    return ids.map((id) => [id, found.get(id) ?? null]);
  });
  await lookUpMissing(lookups.templates, templateIds, async (ids) =>
    (
      await db
        .selectFrom('templates')
        .select(['id', 'key', 'version', 'approval_code'])
        .where('id', 'in', ids)
        .execute()
    ).map((t) => [t.id, { key: t.key, version: t.version, approval_code: t.approval_code }]),
  );
}

/**
 * One page of interactions changed after `position` (by `(updated_at, id)`) and no later than `until`.
 * Reading in that order with the last key as the next start gives every change once: a row updated
 * again later comes again, as the newer version. The position is compared as a row value, which both
 * stores read as one range of the `(updated_at, id)` index. `lookups` carries names already read from one
 * page to the next (see FeedLookups).
 */
export async function readInteractionFeed(
  db: DbOrTx,
  options: {
    position?: FeedPosition | null;
    since?: string;
    until?: string;
    limit: number;
    lookups?: FeedLookups;
    /**
     * `id`: by id instead of by change (ids are time-ordered, so creation order), for a whole export: a
     * table read front to back, where change order visits rows all over it (a 10M-row export spent most
     * of its time fetching one scattered row after another). The position's time is then not compared.
     */
    order?: 'change' | 'id';
  },
): Promise<FeedPage<InteractionExportRecord>> {
  let qb = db
    .selectFrom('visible_interactions as i')
    .select([
      'i.id',
      'i.hcp_id',
      'i.channel',
      'i.kind',
      'i.direction',
      'i.occurred_at',
      'i.rep_id',
      'i.summary',
      'i.topics_json',
      'i.products_json',
      'i.source',
      'i.external_id',
      'i.template_id',
      'i.asset_ids_json',
      'i.status',
      'i.updated_at',
    ]);
  const pos = after(options.position);
  const byId = options.order === 'id';
  if (pos) {
    const [at, id] = pos;
    qb = byId
      ? qb.where('i.id', '>', id)
      : qb.where((eb) => eb(eb.refTuple('i.updated_at', 'i.id'), '>', eb.tuple(at, id)));
  }
  if (options.since) qb = qb.where('i.updated_at', '>=', options.since);
  if (options.until) qb = qb.where('i.updated_at', '<=', options.until);
  if (!byId) {
    // A feed read by change must not move past an import still being written: its rows carry the times
    // they were written at and become visible only when it publishes, so a position beyond them would
    // never see them. Changes from the import's start on wait for it (abandoned imports, whose rows are
    // never published, are not waited for).
    const live = abandonedBefore(options.until ?? new Date().toISOString());
    qb = qb.where(
      sql<boolean>`${sql.ref('i.updated_at')} < coalesce((select min(started_at) from unpublished_imports
        where state = 'writing' and heartbeat_at >= ${live}), ${NO_IMPORT_WRITING})`,
    );
  }
  const rows = await (byId ? qb.orderBy('i.id') : qb.orderBy('i.updated_at').orderBy('i.id'))
    .limit(options.limit)
    .execute();
  const lookups = options.lookups ?? newFeedLookups();
  await lookUpNames(
    db,
    lookups,
    rows.map((r) => r.hcp_id),
    rows.map((r) => r.rep_id),
    rows.map((r) => r.template_id),
  );
  const assetLists = rows.map((r) => listOf(r.asset_ids_json));
  const codes = await assetCodesOf(db, assetLists);
  const records: InteractionExportRecord[] = [];
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n]!;
    const crmId = lookups.crmIds.get(r.hcp_id);
    // Every interaction has its HCP (a foreign key); one deleted meanwhile is left out, as a join would.
    if (crmId === undefined) continue;
    const template = r.template_id ? lookups.templates.get(r.template_id) : undefined;
    records.push({
      id: r.id,
      hcpId: r.hcp_id,
      hcpCrmId: crmId,
      channel: r.channel,
      kind: r.kind,
      direction: r.direction,
      occurredAt: r.occurred_at,
      repEmail: r.rep_id ? (lookups.emails.get(r.rep_id) ?? null) : null,
      summary: r.summary,
      topics: listOf(r.topics_json),
      products: listOf(r.products_json),
      source: r.source,
      externalId: r.external_id,
      templateKey: template?.key ?? null,
      templateVersion: template?.version ?? null,
      approvalCode: template?.approval_code ?? null,
      assetCodes: assetCodesFor(assetLists[n]!, codes),
      status: r.status,
      updatedAt: r.updated_at,
    });
  }
  const last = rows[rows.length - 1];
  return {
    records,
    position: last ? [last.updated_at, last.id] : (options.position ?? null),
    read: rows.length,
  };
}

/** One page of consent ledger entries recorded after `position` (by `(recorded_at, id)`). */
export async function readConsentFeed(
  db: DbOrTx,
  options: { position?: FeedPosition | null; since?: string; until?: string; limit: number },
): Promise<FeedPage<ConsentExportRecord>> {
  let qb = db
    .selectFrom('consent_entries as c')
    .innerJoin('hcps as h', 'h.id', 'c.hcp_id')
    .leftJoin('users as u', 'u.id', 'c.captured_by')
    .select([
      'c.id',
      'c.hcp_id',
      'h.crm_id',
      'c.channel',
      'c.purpose',
      'c.status',
      'c.source',
      'u.email',
      'c.captured_at',
      'c.evidence',
      'c.wording_version',
      'c.message_id',
      'c.expires_at',
      'c.recorded_at',
    ]);
  const pos = after(options.position);
  if (pos) {
    const [at, id] = pos;
    qb = qb.where((eb) => eb(eb.refTuple('c.recorded_at', 'c.id'), '>', eb.tuple(at, id)));
  }
  if (options.since) qb = qb.where('c.recorded_at', '>=', options.since);
  if (options.until) qb = qb.where('c.recorded_at', '<=', options.until);
  const rows = await qb.orderBy('c.recorded_at').orderBy('c.id').limit(options.limit).execute();
  const records = rows.map((r) => ({
    id: r.id,
    hcpId: r.hcp_id,
    hcpCrmId: r.crm_id,
    channel: r.channel,
    purpose: r.purpose,
    status: r.status,
    source: r.source,
    capturedByEmail: r.email,
    capturedAt: r.captured_at,
    evidence: r.evidence,
    wordingVersion: r.wording_version,
    messageId: r.message_id,
    expiresAt: r.expires_at,
    recordedAt: r.recorded_at,
  }));
  const last = rows[rows.length - 1];
  return { records, position: last ? [last.recorded_at, last.id] : (options.position ?? null) };
}

/** One page of WhatsApp messages created after `position` (by `(created_at, id)`); bodies never leave. */
export async function readMessageFeed(
  db: DbOrTx,
  options: { position?: FeedPosition | null; since?: string; until?: string; limit: number },
): Promise<FeedPage<MessageExportRecord>> {
  let qb = db
    .selectFrom('messages as m')
    .leftJoin('hcps as h', 'h.id', 'm.hcp_id')
    .leftJoin('users as u', 'u.id', 'm.rep_id')
    .leftJoin('templates as t', 't.id', 'm.template_id')
    .select([
      'm.id',
      'm.hcp_id',
      'h.crm_id',
      'u.email',
      'm.direction',
      'm.type',
      'm.wamid',
      'm.status',
      'm.status_at',
      't.key as template_key',
      't.version as template_version',
      't.approval_code',
      'm.asset_ids_json',
      'm.error_code',
      'm.created_at',
    ]);
  const pos = after(options.position);
  if (pos) {
    const [at, id] = pos;
    qb = qb.where((eb) => eb(eb.refTuple('m.created_at', 'm.id'), '>', eb.tuple(at, id)));
  }
  if (options.since) qb = qb.where('m.created_at', '>=', options.since);
  if (options.until) qb = qb.where('m.created_at', '<=', options.until);
  const rows = await qb.orderBy('m.created_at').orderBy('m.id').limit(options.limit).execute();
  const assetLists = rows.map((r) => listOf(r.asset_ids_json));
  const codes = await assetCodesOf(db, assetLists);
  const records = rows.map((r, n) => ({
    id: r.id,
    hcpId: r.hcp_id,
    hcpCrmId: r.crm_id,
    repEmail: r.email,
    direction: r.direction,
    type: r.type,
    wamid: r.wamid,
    status: r.status,
    statusAt: r.status_at,
    templateKey: r.template_key,
    templateVersion: r.template_version,
    approvalCode: r.approval_code,
    assetCodes: assetCodesFor(assetLists[n]!, codes),
    errorCode: r.error_code,
    createdAt: r.created_at,
  }));
  const last = rows[rows.length - 1];
  return { records, position: last ? [last.created_at, last.id] : (options.position ?? null) };
}

export const FEEDS = {
  interactions: readInteractionFeed,
  consents: readConsentFeed,
  messages: readMessageFeed,
} as const;

/**
 * Every record of a kind (changed since `since`), a page at a time: with `since`, in feed (change) order;
 * without, interactions in id (creation) order, the others in feed order. Keyset pages rather
 * than one long cursor: each page is one short indexed read (no read transaction held open for the
 * length of a 10M-row export, and no driver cursor needed on PostgreSQL), and the caller can write a
 * whole page in one go.
 */
export async function* exportRecordPages(
  db: DbOrTx,
  kind: ExportKind,
  options: { since?: string; pageSize?: number } = {},
): AsyncGenerator<ExportRecord[]> {
  let position: FeedPosition | null = null;
  const limit = options.pageSize ?? EXPORT_PAGE;
  const lookups = newFeedLookups();
  for (;;) {
    const page: FeedPage<ExportRecord> = await FEEDS[kind](db, {
      position,
      since: options.since,
      limit,
      lookups,
      // Everything: read by id, front to back; changes since a time: by change, from the index on it.
      order: options.since ? 'change' : 'id',
    });
    if (page.records.length > 0) yield page.records;
    if ((page.read ?? page.records.length) < limit) return;
    position = page.position;
  }
}

/**
 * Rows per export page: large enough that per-query costs vanish, small enough to stay a few MB. 2,000
 * was tried on the 10M world (less garbage collection in 1M-row samples) but whole exports were no faster
 * on SQLite and slower on PostgreSQL (docs/benchmarks.md, "Import and export on the large world").
 */
const EXPORT_PAGE = 10_000;

/** Every record of a kind (changed since `since`), in feed order. */
export async function* exportRecords(
  db: DbOrTx,
  kind: ExportKind,
  options: { since?: string; pageSize?: number } = {},
): AsyncGenerator<ExportRecord> {
  for await (const page of exportRecordPages(db, kind, options)) yield* page;
}

/** A record as a CSV row of its kind's columns: lists `;`-separated, absent values empty. */
export function toCsvRow(kind: ExportKind, record: ExportRecord): string[] {
  const r = record as unknown as Record<string, unknown>;
  return EXPORT_COLUMNS[kind].map((c) => {
    const v = r[c];
    if (v === null || v === undefined) return '';
    if (Array.isArray(v)) return v.join(';');
    return String(v);
  });
}

/**
 * Rows per page of the fast path. Smaller than EXPORT_PAGE because the rows, records and text of a page
 * now cost so little that garbage collection decides: 10,000 rows of them outgrow V8's young generation,
 * are copied and promoted, and cost 8 µs of CPU a row; 1,000 rows die young, 5 µs a row (500,000-row
 * samples of the 10M world on SQLite, docs/benchmarks.md). Reading the next page ahead hides PostgreSQL's
 * round trips.
 */
const FAST_EXPORT_PAGE = 1_000;

/** The store as a whole export reads it: queries through Kysely, bulk pages as arrays. */
export type ExportSource = Pick<Store, 'db' | 'readArrays'>;

/**
 * Every interaction's record, in id order, a page at a time: the fast path of a whole export. The same
 * keyset pages and look-ups as `exportRecordPages`, but rows come from the driver as arrays and become
 * records in export-lines.ts (no row objects, lists parsed once per distinct text), and the next page is
 * asked for before this one is turned into records, so that PostgreSQL reads it while Node works.
 */
async function* interactionRecordPagesById(
  store: ExportSource,
  limit: number,
): AsyncGenerator<InteractionExportRecord[]> {
  const names = {
    ...newFeedLookups(),
    assetCodes: new Map<string, string | null>(),
  } satisfies InteractionNames;
  const lists = new ListMemo();
  const pageAfter = (id: string | null): Promise<InteractionRow[]> => {
    let qb = store.db.selectFrom('visible_interactions').select(INTERACTION_ROW_COLUMNS);
    if (id !== null) qb = qb.where('id', '>', id);
    const page = store.readArrays(qb.orderBy('id').limit(limit).compile()) as Promise<InteractionRow[]>;
    // Read ahead: a page not awaited (the caller stopped early) must not become an unhandled rejection.
    page.catch(() => {});
    return page;
  };
  let next = pageAfter(null);
  for (;;) {
    const rows = await next;
    const full = rows.length === limit;
    if (full) next = pageAfter(rows[rows.length - 1]![0]);
    await lookUpNames(
      store.db,
      names,
      rows.map((r) => r[1]),
      rows.map((r) => r[6]),
      rows.map((r) => r[12]),
    );
    await lookUpMissing(
      names.assetCodes,
      rows.flatMap((r) => (r[13] === '[]' ? [] : lists.listOf(r[13]))),
      async (ids) =>
        (
          await store.db
            .selectFrom('assets')
            .select(['id', 'approval_code', 'key', 'version'])
            .where('id', 'in', ids)
            .execute()
        ).map((a) => [a.id, a.approval_code ?? `${a.key}@${a.version}`]),
    );
    const records: InteractionExportRecord[] = [];
    for (const row of rows) {
      const record = interactionRecordOf(row, names, lists);
      if (record) records.push(record);
    }
    if (records.length > 0) yield records;
    if (!full) return;
  }
}

/**
 * A whole export as text, a page of lines at a time (one string per page, for one write each): JSON
 * Lines, or CSV with a header of the kind's columns. The bytes of `JSON.stringify` of each record of
 * `exportRecords` / csv-stringify of its `toCsvRow`; every interaction (no `since`) takes the fast path.
 */
export async function* exportText(
  store: ExportSource,
  kind: ExportKind,
  options: { since?: string; format: 'jsonl' | 'csv'; pageSize?: number },
): AsyncGenerator<string> {
  const { format } = options;
  if (format === 'csv') yield csvLine(EXPORT_COLUMNS[kind]);
  const pages: AsyncGenerator<ExportRecord[]> =
    kind === 'interactions' && options.since === undefined
      ? interactionRecordPagesById(store, options.pageSize ?? FAST_EXPORT_PAGE)
      : exportRecordPages(store.db, kind, options);
  for await (const page of pages) {
    let text = '';
    if (format === 'jsonl') for (const record of page) text += `${JSON.stringify(record)}\n`;
    else for (const record of page) text += csvLine(toCsvRow(kind, record));
    yield text;
  }
}
