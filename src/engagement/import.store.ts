import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { setImmediate as turnOfTheEventLoop } from 'node:timers/promises';
import { parse } from 'csv-parse';
import type { AuditActor, AuditEntry } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { nextHcpSeqs, normaliseEmail, normaliseNumber, numberIndex } from '../hcps/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  isPostgres,
  readInChunks,
  type Db,
  type DbOrTx,
  type HcpsTable,
  type InteractionsTable,
  type Tx,
} from '../platform/database/index.js';
import {
  openInteractionStaging,
  reapAbandonedImports,
  withImportConnection,
  type InteractionStaging,
  type ResolvedInteraction,
} from './import-interactions.store.js';
import { SeenKeys } from './import-seen-keys.js';
import {
  applyMapping,
  checkImportRecord,
  importKeyOf,
  type ConsentRecord,
  type HcpRecord,
  type ImportKind,
  type ImportMapping,
  type ImportRecord,
  type RawRecord,
  type TerritoryRecord,
} from './import-records.js';

export type ImportFormat = 'csv' | 'jsonl';

export interface ImportReject {
  /** The line of the file (a CSV's header is line 1). */
  line: number;
  reasons: string[];
  /** The record as read (for a rejects file the operator fixes and re-imports). */
  record: RawRecord | null;
}

export interface ImportOptions {
  kind: ImportKind;
  format: ImportFormat;
  input: Readable;
  fileName: string;
  actor: AuditActor | null;
  /** Apply the good rows and report the bad ones; by default one bad row means nothing is applied. */
  skipInvalid?: boolean;
  mapping?: ImportMapping;
  /** Rows per staging batch (one short write each). */
  batchSize?: number;
  /** Interactions: new rows written under one timeline chunk (TIMELINE_CHUNK_ROWS); for tests. */
  timelineChunkRows?: number;
  onProgress?: (progress: { rows: number; invalid: number }) => void;
}

export interface ImportSummary {
  importId: string;
  kind: ImportKind;
  status: 'applied' | 'rejected';
  total: number;
  valid: number;
  invalid: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejects: ImportReject[];
  /** How long the one-step apply held its transaction (ms): what other writers may have waited. */
  applyMs: number;
}

type Deps = Pick<ParleyContext, 'db' | 'clock' | 'cipher' | 'audit' | 'openWriterThread' | 'logger'> & {
  /**
   * PostgreSQL, for an interactions import: the store's pool, `db` being then the one connection the
   * import's batches are queued on (`runImport`). A batch's HCPs and reps are looked up there (committed
   * rows any connection reads alike): on `db` each look-up waited for the batches written ahead of it.
   */
  pool?: Db;
};

/**
 * Batch sizes, chosen from profiles of `parley import interactions` (most of the time is SQLite's own
 * insert work, the rest per-statement overhead, so fewer and larger statements pay where nothing waits
 * on them). Rows per staging batch: each batch is one short write of its own with a turn of the event
 * loop after it, so webhooks keep flowing; larger batches measured no faster and left fewer turns.
 */
const STAGING_BATCH = 2000;
/**
 * Rows per batch of an interactions import: each batch's HCPs and stored rows are looked up at once, and
 * its new rows written, hidden (on SQLite in INSERTs of 2,000 rows that are each a transaction, so
 * SQLite's single writer is held for one of them at a time). Measured on the 10M world when a batch was
 * one transaction (1M lines beside a server taking a webhook every 50 ms; docs/benchmarks.md): 2,000 rows
 * gave 10,200 lines/s with the slowest acknowledgement at 0.8 s; 5,000, 13,700 lines/s and 0.8 s; 10,000,
 * 13,900 lines/s and 1.2 s.
 */
const INTERACTION_BATCH = 5000;
/**
 * The same on PostgreSQL, where a batch's transaction takes row locks only (webhooks never wait on it).
 * Before the timeline chunks (0034), larger batches kept the index's pages in the small shared buffers
 * (7,400 lines/s in batches of 5,000, 10,200 in batches of 50,000). Since, the rows of a chunk land at
 * the index's end whatever the batch, and a smaller batch fills the pipeline sooner and keeps the client
 * and the server busier together: 1M lines into the 10M world (grown to 14–24M over the runs),
 * 2026-11-29, batches alternated: 2,000 rows 48,656 lines/s; 5,000, 48,733 and 46,559; 10,000, 49,927,
 * 50,223 and 50,159; 20,000, 47,389, 49,683 and 48,653; 50,000, 42,578 (docs/benchmarks.md).
 */
const INTERACTION_BATCH_POSTGRES = 10_000;
/** Staging rows per INSERT (3 parameters each). */
const STAGING_CHUNK = 5000;
/** Lines read and checked between two turns of the event loop. */
const ROWS_PER_TURN = 250;
/** Staged rows read back per step of the apply. */
const APPLY_PAGE = 5000;

type Read = { line: number; raw: RawRecord } | { line: number; error: string; fatal?: boolean };

/** A JSON Lines line as a record, or the reason it is not one. */
function jsonLine(line: number, text: string): Read {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return { line, raw: value as RawRecord };
    return { line, error: 'record: a JSON object is expected on each line' };
  } catch {
    return { line, error: 'record: not valid JSON' };
  }
}

/** Records read per step of the CSV reader: one hand-over per this many, not one per record. */
const CSV_READ_STEP = 500;

/**
 * Records of a CSV (header = line 1) or JSON Lines stream, with their line numbers, read as they arrive,
 * handed over a chunk of the file at a time: one await per chunk rather than per record, which at a
 * million lines is most of what the reading loop costs.
 */
async function* readRecords(input: Readable, format: ImportFormat): AsyncGenerator<Read[]> {
  if (format === 'jsonl') {
    const decoder = new StringDecoder('utf8');
    let line = 0;
    let rest = '';
    const linesOf = (text: string, last: boolean): Read[] => {
      const parts = text.split('\n');
      rest = last ? '' : parts.pop()!;
      const reads: Read[] = [];
      for (const part of parts) {
        line++;
        // `\r\n` ends a line as `\n` does; a blank line is counted, not read.
        const clean = part.endsWith('\r') ? part.slice(0, -1) : part;
        if (clean.trim() !== '') reads.push(jsonLine(line, clean));
      }
      return reads;
    };
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      const reads = linesOf(rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk)), false);
      if (reads.length > 0) yield reads;
    }
    const tail = rest + decoder.end();
    if (tail !== '') yield linesOf(tail, true);
    return;
  }
  const parser = input.pipe(
    parse({
      columns: true,
      info: true,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
    }),
  );
  let reads: Read[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      // Empty cells are "not given", as in a JSON Lines record without the key.
      const raw: RawRecord = {};
      for (const [k, v] of Object.entries(record)) if (v !== '') raw[k] = v;
      reads.push({ line: info.lines, raw });
      if (reads.length >= CSV_READ_STEP) {
        yield reads;
        reads = [];
      }
    }
  } catch (error) {
    const e = error as { lines?: number; message?: string };
    reads.push({ line: e.lines ?? 0, error: `file: ${e.message ?? 'not valid CSV'}`, fatal: true });
  }
  if (reads.length > 0) yield reads;
}

/** Resolved, normalised rows as staged (personal values already sealed, never in clear). */
interface StagedHcp {
  crmId: string;
  name: string;
  specialty: string | null;
  institution: string | null;
  market: string;
  language: string;
  timeZone: string;
  numberEnc: string | null;
  numberBidx: string | null;
  waIdBidx: string | null;
  emailEnc: string | null;
  emailBidx: string | null;
  segment: string | null;
  territoryIds: string[] | null;
}
type StagedConsent = Omit<ConsentRecord, 'hcpCrmId' | 'hcpId'> & { hcpId: string; hcpSeq: number };
/** Interactions are staged typed, in a table of their own (import-interactions.store.ts); the rest as JSON. */
type Staged = ResolvedInteraction | StagedHcp | TerritoryRecord | StagedConsent;

type HcpRef = { id: string; seq: number; crm_id: string; erased_at: string | null; market_code: string };

/**
 * HCPs and reps already looked up in this import, found or not (null): a CRM file names the same few
 * hundred thousand HCPs and a handful of reps over and over, and one query per batch for the ones not yet
 * seen costs a fraction of asking again for all of them. Kept for one import only, and bounded.
 */
interface Lookups {
  hcpById: Map<string, HcpRef | null>;
  hcpByCrm: Map<string, HcpRef | null>;
  userByEmail: Map<string, string | null>;
}
const MAX_REMEMBERED = 1_000_000;
const newLookups = (): Lookups => ({ hcpById: new Map(), hcpByCrm: new Map(), userByEmail: new Map() });

async function lookUpMissing(deps: Deps, known: Lookups, ids: string[], crmIds: string[], emails: string[]) {
  const db = deps.pool ?? deps.db;
  for (const map of [known.hcpById, known.hcpByCrm, known.userByEmail])
    if (map.size > MAX_REMEMBERED) map.clear();
  const newIds = [...new Set(ids.filter((id) => !known.hcpById.has(id)))];
  const newCrmIds = [...new Set(crmIds.filter((c) => !known.hcpByCrm.has(c)))];
  const newEmails = [...new Set(emails.filter((e) => !known.userByEmail.has(e)))];
  const remember = (h: HcpRef) => {
    known.hcpById.set(h.id, h);
    known.hcpByCrm.set(h.crm_id, h);
  };
  const select = () => db.selectFrom('hcps').select(['id', 'seq', 'crm_id', 'erased_at', 'market_code']);
  for (const h of await readInChunks(newIds, (chunk) => select().where('id', 'in', chunk).execute()))
    remember(h);
  for (const h of await readInChunks(newCrmIds, (chunk) => select().where('crm_id', 'in', chunk).execute()))
    remember(h);
  for (const id of newIds) if (!known.hcpById.has(id)) known.hcpById.set(id, null);
  for (const c of newCrmIds) if (!known.hcpByCrm.has(c)) known.hcpByCrm.set(c, null);
  if (newEmails.length) {
    for (const u of await readInChunks(newEmails, (chunk) =>
      db.selectFrom('users').select(['id', 'email']).where('email', 'in', chunk).execute(),
    ))
      known.userByEmail.set(u.email, u.id);
    for (const e of newEmails) if (!known.userByEmail.has(e)) known.userByEmail.set(e, null);
  }
}

/**
 * Checks references of a batch against the store (HCPs by id or CRM id, reps by e-mail, markets,
 * territories) and turns good records into staged rows. Returns per-line rejects for the rest.
 */
async function resolveBatch(
  deps: Deps,
  batch: { line: number; record: ImportRecord; raw: RawRecord }[],
  markets: ReadonlySet<string>,
  known: Lookups,
): Promise<{ staged: { line: number; row: Staged }[]; rejects: ImportReject[] }> {
  const { db } = deps;
  const staged: { line: number; row: Staged }[] = [];
  const rejects: ImportReject[] = [];
  const ids: string[] = [];
  const crmIds: string[] = [];
  const emails: string[] = [];
  const territoryIds = new Set<string>();
  for (const { record: r } of batch) {
    if (r.kind === 'interactions' || r.kind === 'consents') {
      if (r.value.hcpId) ids.push(r.value.hcpId);
      else if (r.value.hcpCrmId) crmIds.push(r.value.hcpCrmId);
      if (r.kind === 'interactions' && r.value.repEmail) emails.push(r.value.repEmail.toLowerCase());
    } else if (r.kind === 'hcps') {
      crmIds.push(r.value.crmId);
      for (const t of r.value.territoryIds ?? []) territoryIds.add(t);
    }
  }
  await lookUpMissing(deps, known, ids, crmIds, emails);
  const territories = new Set(
    territoryIds.size
      ? (
          await db
            .selectFrom('territories')
            .select('id')
            .where('id', 'in', [...territoryIds])
            .execute()
        ).map((t) => t.id)
      : [],
  );
  const byId = { get: (id: string) => known.hcpById.get(id) ?? undefined };
  const byCrm = { get: (crmId: string) => known.hcpByCrm.get(crmId) ?? undefined };
  const userByEmail = { get: (email: string) => known.userByEmail.get(email) ?? undefined };

  const hcpOf = (ref: { hcpId?: string; hcpCrmId?: string }, reasons: string[]) => {
    const found = ref.hcpId ? byId.get(ref.hcpId) : byCrm.get(ref.hcpCrmId ?? '');
    if (!found)
      reasons.push(ref.hcpId ? `hcpId: no HCP ${ref.hcpId}` : `hcpCrmId: no HCP with CRM id ${ref.hcpCrmId}`);
    else if (found.erased_at) reasons.push('hcp: this HCP was erased; nothing is recorded about them');
    return found;
  };

  for (const { line, record, raw } of batch) {
    const reasons: string[] = [];
    let row: Staged | undefined;
    switch (record.kind) {
      case 'interactions': {
        const v = record.value;
        const hcp = hcpOf(v, reasons);
        const repId = v.repEmail ? userByEmail.get(v.repEmail.toLowerCase()) : null;
        if (repId === undefined) reasons.push(`repEmail: no user ${v.repEmail}`);
        if (hcp && repId !== undefined) {
          row = {
            source: v.source,
            externalId: v.externalId,
            hcpId: hcp.id,
            hcpSeq: hcp.seq,
            market: hcp.market_code,
            channel: v.channel,
            kind: v.kind,
            direction: v.direction,
            occurredAt: new Date(v.occurredAt).toISOString(),
            repId,
            summary: v.summary,
            topics: v.topics,
            products: v.products,
          };
        }
        break;
      }
      case 'consents': {
        const v = record.value;
        const hcp = hcpOf(v, reasons);
        if (hcp) {
          row = {
            hcpId: hcp.id,
            hcpSeq: hcp.seq,
            channel: v.channel,
            purpose: v.purpose,
            status: v.status,
            capturedAt: new Date(v.capturedAt).toISOString(),
            evidence: v.evidence,
            wordingVersion: v.wordingVersion,
            expiresAt: v.expiresAt ? new Date(v.expiresAt).toISOString() : undefined,
          };
        }
        break;
      }
      case 'hcps': {
        const v = record.value;
        if (!markets.has(v.market)) reasons.push(`market: no market ${v.market}`);
        for (const t of v.territoryIds ?? [])
          if (!territories.has(t)) reasons.push(`territoryIds: no territory ${t}`);
        if (byCrm.get(v.crmId)?.erased_at) reasons.push('crmId: this HCP was erased; it is not re-imported');
        const e164 = v.whatsappNumber ? normaliseNumber(v.whatsappNumber) : undefined;
        if (v.whatsappNumber && !e164) reasons.push('whatsappNumber: not a valid phone number');
        if (reasons.length === 0) row = stageHcp(deps, v, e164);
        break;
      }
      case 'territories': {
        const v = record.value;
        if (!markets.has(v.market)) reasons.push(`market: no market ${v.market}`);
        else row = v;
        break;
      }
    }
    if (row && reasons.length === 0) staged.push({ line, row });
    else rejects.push({ line, reasons, record: raw });
  }
  return { staged, rejects };
}

/** Seals and indexes an HCP's personal values exactly as `createHcp` does, so look-ups find imported HCPs. */
function stageHcp(deps: Pick<ParleyContext, 'cipher'>, v: HcpRecord, e164: string | undefined): StagedHcp {
  const email = v.email ? normaliseEmail(v.email) : undefined;
  return {
    crmId: v.crmId,
    name: v.name,
    specialty: v.specialty ?? null,
    institution: v.institution ?? null,
    market: v.market,
    language: v.language,
    timeZone: v.timeZone,
    numberEnc: e164 ? deps.cipher.seal(e164) : null,
    numberBidx: e164 ? numberIndex(deps, e164) : null,
    waIdBidx: e164 ? deps.cipher.blindIndex(`wa:${e164.slice(1)}`) : null,
    emailEnc: email ? deps.cipher.seal(email) : null,
    emailBidx: email ? deps.cipher.blindIndex(`email:${email}`) : null,
    segment: v.segment ?? null,
    territoryIds: v.territoryIds ?? null,
  };
}

/**
 * Imports a file of one kind. Records are read as a stream, checked, resolved and written to a staging
 * area in short batches (each its own small write, so webhooks and sends keep flowing), then applied in
 * one transaction: readers see all of an import or none of it. By default any bad line means nothing is
 * applied; every bad line is reported with its number and reasons. Re-importing a row updates it;
 * re-importing the same file changes nothing (rows equal to what is stored are not written).
 */
export async function runImport(deps: Deps, options: ImportOptions): Promise<ImportSummary> {
  if (options.kind !== 'interactions') return importWith(deps, options);
  return withImportConnection(deps.db, (db) => importWith({ ...deps, db, pool: deps.db }, options));
}

type JsonKind = Exclude<ImportKind, 'interactions'>;

/** Where an import's resolved rows wait until the apply: one interface, two layouts (see each). */
interface Staging {
  stage(rows: { line: number; row: Staged }[]): Promise<void>;
  /** Settles once every staged batch is written: `apply` comes after it. */
  written(): Promise<void>;
  apply(tx: Tx): Promise<Omit<Applied, 'audits'> & { audits: RowAudit[] }>;
  discard(): Promise<void>;
}

/** Interactions: typed rows in the import's own temp table, applied by set-based SQL. */
function interactionStaging(deps: Deps, staging: InteractionStaging): Staging {
  return {
    stage: (rows) => staging.stage(rows as { line: number; row: ResolvedInteraction }[]),
    written: () => staging.written(),
    apply: async (tx) => ({ ...(await staging.apply(tx, deps)), audits: [] }),
    discard: () => staging.discard(),
  };
}

/** HCPs, territories and consents (thousands of rows, not millions): JSON rows in `import_staging`. */
function jsonStaging(deps: Deps, kind: JsonKind, importId: string): Staging {
  const { db } = deps;
  return {
    async stage(rows) {
      // Three parameters a row: one statement per batch stays well under either dialect's limit.
      await insertInChunks(
        rows.map((s) => ({ import_id: importId, line: s.line, payload_json: JSON.stringify(s.row) })),
        STAGING_CHUNK,
        (chunk) => db.insertInto('import_staging').values(chunk).execute(),
      );
    },
    written: async () => {},
    async apply(tx) {
      const c: Applied = { inserted: 0, updated: 0, unchanged: 0, audits: [] };
      const readPage = (after: number) => {
        const read = tx
          .selectFrom('import_staging')
          .select(['line', 'payload_json'])
          .where('import_id', '=', importId)
          .where('line', '>', after)
          .orderBy('line')
          .limit(APPLY_PAGE)
          .execute();
        // Awaited in the loop; if applying a page fails first, the transaction is rolled back anyway.
        read.catch(() => {});
        return read;
      };
      let next = readPage(0);
      for (;;) {
        const page = await next;
        if (page.length === 0) break;
        // The next page is asked for before this one is applied, so its read overlaps our work on this one.
        next = readPage(page[page.length - 1]!.line);
        const rows = page.map((p) => JSON.parse(p.payload_json) as Staged);
        const r = await APPLY[kind](tx, deps, rows as never[]);
        c.audits.push(...r.audits);
        c.inserted += r.inserted;
        c.updated += r.updated;
        c.unchanged += r.unchanged;
      }
      return c;
    },
    discard: () => discardStaging(db, importId),
  };
}

async function importWith(deps: Deps & { db: Db }, options: ImportOptions): Promise<ImportSummary> {
  const { db, clock } = deps;
  const batchSize =
    options.batchSize ??
    (options.kind !== 'interactions'
      ? STAGING_BATCH
      : isPostgres(db)
        ? INTERACTION_BATCH_POSTGRES
        : INTERACTION_BATCH);
  const importId = newId('imp');
  // Markets are few and change by hand: read once per import rather than once per batch.
  const markets = new Set((await db.selectFrom('markets').select('code').execute()).map((m) => m.code));
  await db
    .insertInto('import_runs')
    .values({
      id: importId,
      kind: options.kind,
      file_name: options.fileName.slice(0, 500),
      status: 'staging',
      total_rows: 0,
      invalid_rows: 0,
      inserted_rows: 0,
      updated_rows: 0,
      unchanged_rows: 0,
      started_by: options.actor?.id ?? null,
      started_at: clock.now().toISOString(),
      finished_at: null,
    })
    .execute();
  // Rows an import left behind when its process died are taken out first: they hold their keys.
  if (options.kind === 'interactions') await reapAbandonedImports(db, deps);
  const staging =
    options.kind === 'interactions'
      ? interactionStaging(deps, await openInteractionStaging(db, deps, importId, options))
      : jsonStaging(deps, options.kind, importId);

  const rejects: ImportReject[] = [];
  const known = newLookups();
  const seen = new SeenKeys();
  let total = 0;
  let valid = 0;
  let fatal = false;
  let sinceTurn = 0;
  let batch: { line: number; record: ImportRecord; raw: RawRecord }[] = [];
  const stage = async (rows: typeof batch) => {
    const { staged, rejects: bad } = await resolveBatch(deps, rows, markets, known);
    rejects.push(...bad);
    valid += staged.length;
    // All or nothing: once a line is bad, nothing will be applied, so nothing more is written (the file is
    // still read to the end, to list every bad line).
    if (staged.length > 0 && (options.skipInvalid || rejects.length === 0)) await staging.stage(staged);
    // Let the rest of the process breathe between batches: with SQLite every query completes at once, so
    // without a turn of the event loop an in-process upload would hold up webhook acknowledgements.
    await turnOfTheEventLoop();
  };
  // One batch is resolved and staged while the next is read and checked: with PostgreSQL the server's
  // work and ours overlap (with SQLite, whose calls complete at once, it changes nothing). At most one
  // batch is in flight, and it is always awaited before the next starts and before staging is discarded.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    await inFlight;
    inFlight = stage(rows);
    // Awaited later; this only keeps a failure that comes before then from counting as unhandled.
    inFlight.catch(() => {});
  };
  const giveUp = async (status: { total_rows?: number; invalid_rows?: number }) => {
    await staging.discard();
    await db
      .updateTable('import_runs')
      .set({ status: 'rejected', ...status, finished_at: clock.now().toISOString() })
      .where('id', '=', importId)
      .execute();
  };
  try {
    reading: for await (const reads of readRecords(options.input, options.format)) {
      for (const read of reads) {
        // A turn of the event loop every few hundred lines, so an in-process upload shares the process:
        // reading a buffered file never waits on anything, and would otherwise hold other requests.
        if (++sinceTurn >= ROWS_PER_TURN) {
          sinceTurn = 0;
          await turnOfTheEventLoop();
        }
        if ('error' in read) {
          rejects.push({ line: read.line, reasons: [read.error], record: null });
          if (read.fatal) {
            fatal = true;
            break reading;
          }
          total++;
          continue;
        }
        total++;
        const raw = applyMapping(options.mapping, read.raw);
        const checked = checkImportRecord(options.kind, raw);
        if (!checked.ok) {
          rejects.push({ line: read.line, reasons: checked.reasons, record: read.raw });
        } else {
          const first = seen.firstLineOf(importKeyOf(checked.record), read.line);
          if (first !== undefined) {
            rejects.push({
              line: read.line,
              reasons: [`record: the same record as line ${first}`],
              record: read.raw,
            });
          } else {
            batch.push({ line: read.line, record: checked.record, raw: read.raw });
            if (batch.length >= batchSize) await flush();
          }
        }
        if (total % batchSize === 0) options.onProgress?.({ rows: total, invalid: rejects.length });
      }
    }
    await flush();
    await inFlight;
    await staging.written();
    options.onProgress?.({ rows: total, invalid: rejects.length });
  } catch (error) {
    await inFlight.catch(() => {});
    await giveUp({});
    throw error;
  }
  rejects.sort((a, b) => a.line - b.line);

  const summary: ImportSummary = {
    importId,
    kind: options.kind,
    status: 'rejected',
    total,
    valid,
    invalid: rejects.length,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    rejects,
    applyMs: 0,
  };
  if (fatal || (rejects.length > 0 && !options.skipInvalid)) {
    await giveUp({ total_rows: total, invalid_rows: rejects.length });
    return summary;
  }

  let counts;
  const applying = performance.now();
  try {
    counts = await db.transaction().execute(async (tx) => {
      const { audits, ...c } = await staging.apply(tx);
      const finishedAt = clock.now().toISOString();
      await tx
        .updateTable('import_runs')
        .set({
          status: 'applied',
          total_rows: total,
          invalid_rows: rejects.length,
          inserted_rows: c.inserted,
          updated_rows: c.updated,
          unchanged_rows: c.unchanged,
          finished_at: finishedAt,
        })
        .where('id', '=', importId)
        .execute();
      // HCPs, territories and consent entries are regulated records: one event per row changed, as when
      // they are changed one at a time. Interactions get only the import's own event.
      for (const entry of audits) await deps.audit.record(tx, { ...entry, actor: options.actor });
      // One event for the import as a whole: what, from which file, how many rows changed (no row contents).
      const changed = { inserted: c.inserted, updated: c.updated, unchanged: c.unchanged };
      if (c.inserted + c.updated > 0) {
        await deps.audit.record(tx, {
          actor: options.actor,
          action: 'import.applied',
          target: { type: 'import', id: importId },
          after: {
            kind: options.kind,
            fileName: options.fileName,
            ...changed,
            invalid: rejects.length,
            skipInvalid: Boolean(options.skipInvalid),
          },
        });
      }
      return changed;
    });
  } catch (error) {
    await giveUp({ total_rows: total, invalid_rows: rejects.length });
    throw error;
  }
  const applyMs = Math.round(performance.now() - applying);
  await staging.discard();
  return { ...summary, status: 'applied', ...counts, applyMs };
}

async function discardStaging(db: DbOrTx, importId: string): Promise<void> {
  await db.deleteFrom('import_staging').where('import_id', '=', importId).execute();
}

/** A row-level audit event, written after all rows (the audit head stays locked only at the end). */
type RowAudit = Omit<AuditEntry, 'actor'>;

interface Applied {
  inserted: number;
  updated: number;
  unchanged: number;
  audits: RowAudit[];
}

async function insertInChunks<T>(
  rows: T[],
  size: number,
  insert: (chunk: T[]) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

async function applyHcps(tx: Tx, deps: Deps, rows: StagedHcp[]): Promise<Applied> {
  const now = deps.clock.now().toISOString();
  const existing = await readInChunks(
    rows.map((r) => r.crmId),
    (crmIds) => tx.selectFrom('hcps').selectAll().where('crm_id', 'in', crmIds).execute(),
  );
  const byCrm = new Map(existing.map((e) => [e.crm_id, e]));
  const assigned = await readInChunks(
    existing.map((e) => e.id),
    (hcpIds) => tx.selectFrom('hcp_territories').selectAll().where('hcp_id', 'in', hcpIds).execute(),
  );
  const territoriesOf = new Map<string, string[]>();
  for (const a of assigned)
    territoriesOf.set(a.hcp_id, [...(territoriesOf.get(a.hcp_id) ?? []), a.territory_id]);
  const inserts: Omit<HcpsTable, 'seq'>[] = [];
  const links: { hcp_id: string; territory_id: string }[] = [];
  const result: Applied = { inserted: 0, updated: 0, unchanged: 0, audits: [] };
  for (const r of rows) {
    const plain = {
      name: r.name,
      specialty: r.specialty,
      institution: r.institution,
      market_code: r.market,
      language: r.language,
      time_zone: r.timeZone,
      segment: r.segment,
    };
    const old = byCrm.get(r.crmId);
    if (!old) {
      const id = newId('hcp');
      inserts.push({
        id,
        crm_id: r.crmId,
        ...plain,
        whatsapp_number_enc: r.numberEnc,
        whatsapp_number_bidx: r.numberBidx,
        wa_id_bidx: r.waIdBidx,
        bsuid: null,
        whatsapp_status: 'active',
        marketing_stopped: 0,
        email_enc: r.emailEnc,
        email_bidx: r.emailBidx,
        legal_hold: 0,
        erased_at: null,
        created_at: now,
        updated_at: now,
      });
      for (const t of r.territoryIds ?? []) links.push({ hcp_id: id, territory_id: t });
      result.inserted++;
      result.audits.push({
        action: 'hcp.created',
        target: { type: 'hcp', id },
        subjectId: id,
        after: {
          crmId: r.crmId,
          market: r.market,
          language: r.language,
          timeZone: r.timeZone,
          territoryIds: r.territoryIds ?? [],
        },
        personal: {
          name: r.name,
          whatsappNumber: r.numberEnc ? deps.cipher.open(r.numberEnc) : null,
          email: r.emailEnc ? deps.cipher.open(r.emailEnc) : null,
        },
      });
      continue;
    }
    // Sealed values differ on every seal (random IV): compare blind indexes, re-seal only on a real change.
    const changes: Partial<HcpsTable> = {};
    for (const [k, v] of Object.entries(plain))
      if (old[k as keyof typeof plain] !== v) Object.assign(changes, { [k]: v });
    if (old.whatsapp_number_bidx !== r.numberBidx)
      Object.assign(changes, {
        whatsapp_number_enc: r.numberEnc,
        whatsapp_number_bidx: r.numberBidx,
        wa_id_bidx: r.waIdBidx,
      });
    if (old.email_bidx !== r.emailBidx)
      Object.assign(changes, { email_enc: r.emailEnc, email_bidx: r.emailBidx });
    const territoriesChanged =
      r.territoryIds !== null &&
      !sameJson([...(territoriesOf.get(old.id) ?? [])].sort(), [...r.territoryIds].sort());
    if (Object.keys(changes).length === 0 && !territoriesChanged) {
      result.unchanged++;
      continue;
    }
    if (Object.keys(changes).length)
      await tx
        .updateTable('hcps')
        .set({ ...changes, updated_at: now })
        .where('id', '=', old.id)
        .execute();
    if (territoriesChanged) {
      await tx.deleteFrom('hcp_territories').where('hcp_id', '=', old.id).execute();
      for (const t of r.territoryIds ?? []) links.push({ hcp_id: old.id, territory_id: t });
    }
    result.updated++;
    // Non-personal fields in the chain; name, number and e-mail only in the sealed personal part.
    const open = (v: string | null) => (v ? deps.cipher.open(v) : null);
    const visible = (
      ['specialty', 'institution', 'market_code', 'language', 'time_zone', 'segment'] as const
    ).filter((k) => k in changes);
    result.audits.push({
      action: 'hcp.updated',
      target: { type: 'hcp', id: old.id },
      subjectId: old.id,
      before: {
        ...Object.fromEntries(visible.map((k) => [k, old[k]])),
        ...(territoriesChanged ? { territoryIds: territoriesOf.get(old.id) ?? [] } : {}),
      },
      after: {
        ...Object.fromEntries(visible.map((k) => [k, changes[k]])),
        ...(territoriesChanged ? { territoryIds: r.territoryIds } : {}),
      },
      personal: {
        ...('name' in changes ? { nameBefore: old.name, name: r.name } : {}),
        ...('whatsapp_number_bidx' in changes
          ? { whatsappNumberBefore: open(old.whatsapp_number_enc), whatsappNumber: open(r.numberEnc) }
          : {}),
        ...('email_bidx' in changes ? { emailBefore: open(old.email_enc), email: open(r.emailEnc) } : {}),
      },
    });
  }
  const seqs = await nextHcpSeqs(tx, inserts.length);
  await insertInChunks(
    inserts.map((h, i) => {
      const seq = seqs[i];
      if (seq === undefined) throw new Error('fewer seqs than new HCPs');
      return { ...h, seq };
    }),
    400,
    (chunk) => tx.insertInto('hcps').values(chunk).execute(),
  );
  await insertInChunks(links, 1000, (chunk) => tx.insertInto('hcp_territories').values(chunk).execute());
  return result;
}

async function applyTerritories(tx: Tx, _deps: Deps, rows: TerritoryRecord[]): Promise<Applied> {
  const existing = await readInChunks(
    rows.map((r) => r.id),
    (ids) => tx.selectFrom('territories').selectAll().where('id', 'in', ids).execute(),
  );
  const byId = new Map(existing.map((e) => [e.id, e]));
  const result: Applied = { inserted: 0, updated: 0, unchanged: 0, audits: [] };
  const inserts: { id: string; name: string; market_code: string }[] = [];
  for (const r of rows) {
    const old = byId.get(r.id);
    if (!old) {
      inserts.push({ id: r.id, name: r.name, market_code: r.market });
      result.inserted++;
      result.audits.push({
        action: 'territory.created',
        target: { type: 'territory', id: r.id },
        after: { name: r.name, market: r.market },
      });
    } else if (old.name !== r.name || old.market_code !== r.market) {
      await tx
        .updateTable('territories')
        .set({ name: r.name, market_code: r.market })
        .where('id', '=', r.id)
        .execute();
      result.updated++;
      result.audits.push({
        action: 'territory.updated',
        target: { type: 'territory', id: r.id },
        before: { name: old.name, market: old.market_code },
        after: { name: r.name, market: r.market },
      });
    } else result.unchanged++;
  }
  await insertInChunks(inserts, 1000, (chunk) => tx.insertInto('territories').values(chunk).execute());
  return result;
}

/**
 * Consent from the CRM is appended to the ledger (source `crm_import`), never edited: the same entry
 * imported again (HCP, channel, purpose, status, moment) is recognised and not appended twice.
 */
async function applyConsents(tx: Tx, deps: Deps, rows: StagedConsent[]): Promise<Applied> {
  const now = deps.clock.now().toISOString();
  const existing = await readInChunks([...new Set(rows.map((r) => r.hcpId))], (hcpIds) =>
    tx
      .selectFrom('consent_entries')
      .select(['hcp_id', 'channel', 'purpose', 'status', 'captured_at'])
      .where('source', '=', 'crm_import')
      .where('hcp_id', 'in', hcpIds)
      .execute(),
  );
  const key = (r: {
    hcp_id: string;
    channel: string;
    purpose: string;
    status: string;
    captured_at: string;
  }) => [r.hcp_id, r.channel, r.purpose, r.status, r.captured_at].join('\u0000');
  const known = new Set(existing.map(key));
  const result: Applied = { inserted: 0, updated: 0, unchanged: 0, audits: [] };
  const inserts = [];
  for (const r of rows) {
    const row = {
      id: newId('con'),
      hcp_id: r.hcpId,
      channel: r.channel,
      purpose: r.purpose,
      status: r.status,
      source: 'crm_import' as const,
      captured_by: null,
      captured_at: r.capturedAt,
      evidence: r.evidence ?? null,
      wording_version: r.wordingVersion ?? null,
      message_id: null,
      expires_at: r.expiresAt ?? null,
      recorded_at: now,
    };
    if (known.has(key(row))) {
      result.unchanged++;
      continue;
    }
    known.add(key(row));
    inserts.push(row);
    result.inserted++;
  }
  await insertInChunks(inserts, 500, (chunk) => tx.insertInto('consent_entries').values(chunk).execute());
  // Each entry sits on the HCP's timeline, as consent recorded in Parley does.
  const seqOf = new Map(rows.map((r) => [r.hcpId, r.hcpSeq]));
  const timeline: InteractionsTable[] = inserts.map((e) => ({
    id: newId('int'),
    hcp_id: e.hcp_id,
    hcp_seq: seqOf.get(e.hcp_id) ?? Number.NaN,
    channel: e.channel === 'email' ? 'email' : e.channel === 'whatsapp' ? 'whatsapp' : 'phone',
    direction: 'internal',
    kind: 'consent_change',
    occurred_at: e.captured_at,
    rep_id: null,
    summary: `Consent ${e.status}: ${e.channel} · ${e.purpose} (${e.source})`,
    topics_json: '[]',
    products_json: '[]',
    source: 'parley',
    external_id: e.id,
    template_id: null,
    asset_ids_json: '[]',
    message_id: null,
    status: e.status,
    created_at: now,
    updated_at: now,
    import_id: null,
  }));
  await insertInChunks(timeline, 1000, (chunk) => tx.insertInto('interactions').values(chunk).execute());
  result.audits = inserts.map((e) => ({
    action: 'consent.recorded',
    target: { type: 'consent_entry', id: e.id },
    subjectId: e.hcp_id,
    after: {
      channel: e.channel,
      purpose: e.purpose,
      status: e.status,
      source: e.source,
      capturedAt: e.captured_at,
      evidence: e.evidence,
      wordingVersion: e.wording_version,
      expiresAt: e.expires_at,
    },
  }));
  return result;
}

const APPLY: Record<JsonKind, (tx: Tx, deps: Deps, rows: never[]) => Promise<Applied>> = {
  hcps: applyHcps,
  territories: applyTerritories,
  consents: applyConsents,
};
