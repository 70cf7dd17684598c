import { CompiledQuery } from 'kysely';
import { triageText, type KnownProduct, type TriageResult } from '../assistant/index.js';
import { openCallNoteCases } from './call-notes.store.js';
import type { ParleyContext } from '../context.js';
import { newIds } from '../platform/crypto/index.js';
import {
  isPostgres,
  readInChunks,
  sqliteWriterOn,
  type Db,
  type SqliteWriter,
  type Tx,
  type WriteStatement,
} from '../platform/database/index.js';
import {
  openTimelineChunk,
  openTimelineChunkThrough,
  TIMELINE_CHUNK_ROWS,
  unlistEmptyChunks,
} from './timeline-chunks.store.js';

/**
 * The bulk path of `import interactions`, the kind that reaches millions of rows. It is written as it is
 * read and published in one small step at the end:
 *
 * - **Writing**: each batch's new rows go straight into `interactions`, marked with the import's id and
 *   under timeline chunks of the import's own (timeline-chunks.store.ts: a range at the end of the
 *   timeline index rather than a page of it for nearly every row), in a
 *   short transaction of their own on PostgreSQL, and on SQLite in INSERTs of 2,000 rows that are each a
 *   transaction (SQLite's single writer is held for one statement, not for the import), while the import is
 *   listed in `unpublished_imports`. Every reader reads `visible_interactions`, which leaves
 *   out the rows of unpublished imports, so nobody sees a half-written import.
 * - **Staging**: what cannot be done before the end stays in a TEMP table of the import's own (outside the
 *   main database file on SQLite, unlogged on PostgreSQL): rows already stored (a re-import updates them,
 *   visibly, so only at publish) and call notes whose triage opens cases.
 * - **Publishing**: in the caller's one transaction, stored rows are updated, cases opened, and the
 *   import's row in `unpublished_imports` deleted: readers see all of the import or none of it.
 * - **Taking out**: a rejected import (any bad line, by default), or one whose process died
 *   (`reapAbandonedImports`), has its rows deleted again, a short transaction at a time, hidden all along.
 *
 * The SQL is fixed text sent as pre-compiled queries (a Kysely `CompiledQuery`), so a million rows do not
 * cost a million query builds; SQLite's statements are prepared once and kept by the store's statement cache.
 */

type Deps = Pick<ParleyContext, 'db' | 'clock' | 'cipher' | 'audit'>;

/** An interaction resolved against the store (HCP and rep found), as `resolveBatch` hands it over. */
export interface ResolvedInteraction {
  source: string;
  externalId: string;
  hcpId: string;
  /** The HCP's seq: interactions carry it for the timeline index. */
  hcpSeq: number;
  /** The HCP's market: call notes are triaged against that market's products. */
  market: string;
  channel: string;
  kind: string;
  direction: string;
  occurredAt: string;
  repId: string | null;
  summary?: string;
  topics: string[];
  products: string[];
}

export interface AppliedInteractions {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Cases opened from call notes (new or changed notes only). */
  cases: number;
}

/**
 * PostgreSQL temp tables belong to one session, so an interactions import runs on one pinned pool
 * connection from staging to apply. SQLite has one connection anyway, and pinning it would hold every
 * other query of the process for the length of the import: there the store is used as it is.
 */
export async function withImportConnection<T>(db: Db, body: (db: Db) => Promise<T>): Promise<T> {
  if (!isPostgres(db)) return body(db);
  return db.connection().execute((pinned) => body(pinned));
}

/** An imported row's own values, in the order both INSERTs below take them. */
const ROW_COLUMNS = [
  'source',
  'external_id',
  'hcp_id',
  'hcp_seq',
  'channel',
  'kind',
  'direction',
  'occurred_at',
  'rep_id',
  'summary',
  'topics_json',
  'products_json',
] as const;
/** Where a row's timeline-index key sits in its values (`NewRow.values`, in ROW_COLUMNS' order). */
const HCP_SEQ = ROW_COLUMNS.indexOf('hcp_seq');
const OCCURRED_AT = ROW_COLUMNS.indexOf('occurred_at');
/** Staging columns, in the order of the staging INSERT. */
const STAGED_COLUMNS = ['line', 'id', 'is_new', ...ROW_COLUMNS, 'triage_json'] as const;
const PG_TYPES: Record<(typeof STAGED_COLUMNS)[number], string> = {
  line: 'integer',
  id: 'text',
  is_new: 'integer',
  source: 'text',
  external_id: 'text',
  hcp_id: 'text',
  hcp_seq: 'integer',
  channel: 'text',
  kind: 'text',
  direction: 'text',
  occurred_at: 'text',
  rep_id: 'text',
  summary: 'text',
  topics_json: 'text',
  products_json: 'text',
  triage_json: 'text',
};
/**
 * Columns a re-import sets (all but the key); a row whose stored values equal these is left alone (not even
 * `updated_at`).
 */
const VALUE_COLUMNS = ROW_COLUMNS.filter((c) => c !== 'source' && c !== 'external_id');
/** The most SQLite's page cache may hold while an import writes (KiB): the index pages its rows land in. */
const IMPORT_CACHE_KIB = 1024 * 1024;
/**
 * SQLite: the share of each INSERT's time the writer thread then leaves the write lock to others (a
 * server's webhooks beside the import; sqlite-writer.ts). Measured on the 10M world (docs/benchmarks.md):
 * with none, 20,210 lines/s and acknowledgements p99 646 ms; with a quarter, 16,341 lines/s and 136 ms, as
 * before the writer thread (14,005 lines/s, 137 ms).
 */
const IMPORT_PAUSE_SHARE = 0.25;
/**
 * The share while no other connection has written for a few seconds (a nightly CRM file, an import
 * alone): enough for the first webhook to come to find the lock free within a few polls, after which
 * the writer pauses for it as above.
 */
const IMPORT_QUIET_PAUSE_SHARE = 0.05;
/** Rows per INSERT into the staging table on SQLite (16 parameters each, 32,766 in all). */
const SQLITE_STAGED_PER_INSERT = 500;
/**
 * New rows per INSERT on SQLite: 13 parameters each (the import's id and time are bound once), under the
 * 32,766 SQLite allows a statement. Each such INSERT is a transaction of its own (see `writeNewSqlite`).
 */
const SQLITE_NEW_PER_INSERT = 2_000;
/**
 * Batches handed over for writing (SQLite's writer thread, PostgreSQL's server) before the oldest is
 * written. With one, each batch waited for the one before, and whichever side was slower on it (reading
 * and checking here, or writing there) left the other idle; two keep the writing side fed through a slow
 * batch of the file. PostgreSQL, with batches of 10,000 rows: three, alternated with two on the 10M world
 * (grown to 31–37M), 53,640 and 52,495 lines/s against 51,096 and 50,211 (four: 53,569).
 */
const BATCHES_AHEAD = { sqlite: 2, postgres: 3 } as const;
/** Rows per statement when a rejected or abandoned import's rows are taken out: one short write each. */
const TAKE_OUT_CHUNK = 5_000;
/**
 * An unpublished import whose heartbeat (renewed every batch, a second or less apart) is older than this
 * was abandoned: its process died. Its rows are taken out by the next import, the CRM sink stops waiting
 * for it, and it can no longer be published.
 */
export const ABANDONED_AFTER_MS = 15 * 60_000;

/** The time before which an import's last heartbeat means it was abandoned, as of `now` (ISO). */
export function abandonedBefore(now: string): string {
  return new Date(Date.parse(now) - ABANDONED_AFTER_MS).toISOString();
}

const EMPTY_LIST = '[]';
const listJson = (list: string[]) => (list.length === 0 ? EMPTY_LIST : JSON.stringify(list));

/** A row of a batch, as written: new, unless its key turns out to be stored already. */
interface NewRow {
  line: number;
  id: string;
  key: string;
  /** The UTC day of its time: the day whose analytics cells it changes. */
  day: string;
  summary: string | null;
  /** In the order of ROW_COLUMNS. */
  values: unknown[];
  triage: string | null;
}

/** A row's key, `(source, external_id)`, as one string. */
const keyOf = (source: string, externalId: string) => `${source}\u0000${externalId}`;

interface TriageStaged {
  market: string | null;
  product: string | null;
  findings: TriageResult['findings'];
}

export interface InteractionStaging {
  /** Writes one batch: new rows hidden until publishing, the rest staged (a short transaction). */
  stage(rows: { line: number; row: ResolvedInteraction }[]): Promise<void>;
  /**
   * Settles once every batch handed to `stage` is written (rejects with the first failure). A batch's
   * rows may still be being written when `stage` returns (see BATCHES_AHEAD); `apply` may only be called
   * after this.
   */
  written(): Promise<void>;
  /** Publishes the import in the caller's transaction: stored rows updated, cases opened, rows visible. */
  apply(tx: Tx, deps: Deps): Promise<AppliedInteractions>;
  /** Drops the staging table; an import not published has its rows taken out again. */
  discard(): Promise<void>;
}

/** Columns of a new row, in the order of the hidden INSERT; `values` below follows it. */
const WRITTEN_COLUMNS = ['id', ...ROW_COLUMNS, 'import_id', 'created_at', 'updated_at'] as const;

/**
 * Opens an interactions import on `db` (for PostgreSQL, the pinned connection of `withImportConnection`):
 * lists it as unpublished and creates its staging table. `importId` is Parley's own id (`imp_` and hex),
 * so it is safe as a table name.
 */
export async function openInteractionStaging(
  db: Db,
  deps: Pick<ParleyContext, 'clock' | 'openWriterThread' | 'logger'>,
  importId: string,
  options: { timelineChunkRows?: number } = {},
): Promise<InteractionStaging> {
  if (!/^imp_[0-9a-f]+$/.test(importId)) throw new Error(`unexpected import id ${importId}`);
  const pg = isPostgres(db);
  const table = `staged_${importId}`;
  const run = (text: string, params: unknown[] = [], on: Db | Tx = db) =>
    on.executeQuery(CompiledQuery.raw(text, params));
  const startedAt = deps.clock.now().toISOString();
  await db
    .insertInto('unpublished_imports')
    .values({ import_id: importId, state: 'writing', started_at: startedAt, heartbeat_at: startedAt })
    .execute();
  const columns = STAGED_COLUMNS.join(', ');
  await run(
    pg
      ? `create temp table ${table} (${STAGED_COLUMNS.map((c) => `${c} ${PG_TYPES[c]}`).join(', ')}, primary key (line))`
      : `create temp table ${table} (line integer primary key, ${STAGED_COLUMNS.slice(1)
          .map((c) => `${c} ${PG_TYPES[c] === 'integer' ? 'integer' : 'text'}`)
          .join(', ')})`,
  );
  // SQLite keeps 2 MB of pages by default (64 MiB in Parley's store): batches landing all over a large
  // table's indexes would then read the same pages again and again. While the import writes, the cache may
  // grow (pages are taken as needed, and given back when the limit is set back).
  const cacheBefore = pg ? undefined : await sqliteCacheSize(db);
  if (cacheBefore !== undefined) await run(`pragma cache_size = -${IMPORT_CACHE_KIB}`);
  // Products per market, read once: every call note is triaged against its HCP's market's products.
  const productsByMarket = new Map<string, KnownProduct[]>();
  for (const p of await db
    .selectFrom('products')
    .select(['market_code', 'name', 'generic_name'])
    .orderBy('name')
    .execute()) {
    const list = productsByMarket.get(p.market_code) ?? [];
    list.push({ name: p.name, genericName: p.generic_name });
    productsByMarket.set(p.market_code, list);
  }
  // PostgreSQL: whether this role may write the import's rows as a replica would (see `writeNewPg`).
  const asReplica = pg && (await mayActAsReplica(db));
  // SQLite: where the batches' new rows are written (see `writeNewSqlite`); opened last, closed by `discard`.
  const writer: SqliteWriter | undefined = pg
    ? undefined
    : (deps.openWriterThread?.({
        cacheKib: IMPORT_CACHE_KIB,
        pauseShare: IMPORT_PAUSE_SHARE,
        quietPauseShare: IMPORT_QUIET_PAUSE_SHARE,
        // Every row's HCP was read from this store by `resolveBatch` moments before, and Parley never
        // deletes an HCP (erasure clears one in place): checking `hcp_id` again cost a look-up a row, a
        // sixth of the writer's time (measured on the 10M world: 12.0 against 9.9 µs a row).
        foreignKeys: false,
      }) ?? sqliteWriterOn(db));

  const NEW_ROW_SUFFIX = ' on conflict (source, external_id) do nothing';
  // Then the columns a new row leaves empty: template, assets, message and status are WhatsApp's.
  const WRITTEN_WITH_CONSTANTS = [
    ...WRITTEN_COLUMNS,
    'timeline_chunk',
    'template_id',
    'asset_ids_json',
    'message_id',
    'status',
  ];
  /** Their values, in that order, as both dialects' INSERTs write them. */
  const LEFT_EMPTY = `null, '${EMPTY_LIST}', null, null`;
  /** SQL texts by row count: the full-size ones are built once, a batch's last shorter one once too. */
  const sqliteTexts = new Map<string, string>();
  const memo = (key: string, build: () => string) => {
    let text = sqliteTexts.get(key);
    if (!text) sqliteTexts.set(key, (text = build()));
    return text;
  };
  const placeholders = (perRow: number, rows: number) =>
    Array.from({ length: rows }, () => `(${Array.from({ length: perRow }, () => '?').join(',')})`).join(',');
  const sqliteStage = (rows: number) =>
    memo(
      `stage:${rows}`,
      () => `insert into ${table} (${columns}) values ${placeholders(STAGED_COLUMNS.length, rows)}`,
    );
  // The row's id and own values (`column1` …), then the import's id and time and the timeline chunk,
  // bound once, and the columns a new row leaves empty; written only while the import is still being
  // written.
  const OWN_VALUES = 1 + ROW_COLUMNS.length;
  const sqliteWrite = (rows: number) =>
    memo(
      `write:${rows}`,
      () => `insert into interactions (${WRITTEN_WITH_CONSTANTS.join(', ')})
        select ${Array.from({ length: OWN_VALUES }, (_, i) => `v.column${i + 1}`).join(', ')}, ?, ?, ?, ?, ${LEFT_EMPTY}
          from (values ${placeholders(OWN_VALUES, rows)}) as v
         where exists (select 1 from unpublished_imports where import_id = ? and state = 'writing')${NEW_ROW_SUFFIX}`,
    );
  // PostgreSQL: one array a column, whatever the number of rows (no parameter limit, one short parse).
  const pgStage = `insert into ${table} (${columns}) select * from unnest(${STAGED_COLUMNS.map(
    (c, i) => `$${i + 1}::${PG_TYPES[c]}[]`,
  ).join(', ')})`;
  // PostgreSQL: the batch's rows as one JSON array of arrays (one parameter, `JSON.stringify`d in a few
  // milliseconds), rather than an array a column, which the driver encodes element by element in
  // JavaScript: 6 µs a row, while the server's transaction stood open waiting for it (measured on a 2M world,
  // docs/benchmarks.md). The rows come in the order of the timeline index (HCP, time), the index new rows
  // cost most to keep: its pages are then visited front to back, each once a batch.
  // PostgreSQL: the batch's one statement ($1 rows, $2 chunk, $3 now, $4 import id, $5 the time before which
  // a heartbeat means abandoned, $6 days to mark): the heartbeat renewed (the condition of `heartbeat`
  // below, which SQLite and the publish use: keep the two alike), and only if it was (the import may still
  // write), the days marked and the rows written. Each was a statement of its own, a round trip
  // each inside the batch's transaction, answered only when the event loop next turned from reading the
  // file (docs/benchmarks.md).
  const pgWrite = `with beat as (
        update unpublished_imports set heartbeat_at = $3
         where import_id = $4 and state = 'writing' and heartbeat_at >= $5
        returning import_id),
      marks as (
        insert into stale_interaction_days (day, import_id) select unnest($6::text[]), import_id from beat),
      written as (
        insert into interactions (${WRITTEN_WITH_CONSTANTS.join(', ')})
        select ${WRITTEN_COLUMNS.map((c, i) => `(r->>${i})${c === 'hcp_seq' ? '::integer' : ''}`).join(', ')},
               $2::integer, ${LEFT_EMPTY}
          from jsonb_array_elements($1::jsonb) as r, beat${NEW_ROW_SUFFIX}
        returning 1)
    select (select count(*) from beat) as beat, (select count(*) from written) as inserted`;

  /**
   * Days this import's new rows fall on, each marked stale (under the import's id, so that it goes stale
   * when the import is published) by the first batch that writes to it: the triggers leave an import's
   * inserts to it (migration 0035) rather than look up the day's marks for every row.
   */
  const markedDays = new Set<string>();
  const sqliteMarkDays = `insert into stale_interaction_days (day, import_id) select value, ? from json_each(?)`;

  let written = 0;
  let published = false;
  /** The batches handed over for writing, oldest first, each until written, checked and staged. */
  const writing: Promise<void>[] = [];
  const chunkRows = options.timelineChunkRows ?? TIMELINE_CHUNK_ROWS;
  let chunk = 0;
  let rowsInChunk = 0;

  /** The timeline chunk the next `rows` new rows go under: a new one each `chunkRows` rows. */
  async function chunkFor(rows: number, now: string): Promise<number> {
    if (chunk === 0 || rowsInChunk + rows > chunkRows) {
      chunk = writer
        ? await openTimelineChunkThrough(writer, db, importId, now)
        : await openTimelineChunk(db, importId, now);
      rowsInChunk = 0;
    }
    rowsInChunk += rows;
    return chunk;
  }

  /**
   * PostgreSQL: the batch's new rows, hidden, in the batch's transaction (`inBatchTransaction`), with
   * the heartbeat and the days' marks; a row stored meanwhile under the same key is left to the publish.
   */
  async function writeNewPg(on: Db | Tx, payload: string, under: number, now: string, days: string[]) {
    const { rows } = await run(pgWrite, [payload, under, now, importId, abandonedBefore(now), days], on);
    const counts = rows[0] as { beat: number | string; inserted: number | string };
    if (Number(counts.beat) !== 1) throw abandoned(importId);
    return Number(counts.inserted);
  }

  /**
   * PostgreSQL: a batch's transaction on the import's connection, held for it as Kysely's own would be
   * (`execute` on the pinned connection: nothing else slips in). Where the import's role may
   * (`asReplica`), it runs with the session's replication role set to `replica`, which skips the per-row
   * check of the HCP's foreign key and the statement trigger that marks days (an import marks its own):
   * every row's HCP was read from the store moments before by `resolveBatch`, and no HCP is ever deleted
   * (migration 0037). The check was a fifth of the server's work a row (docs/benchmarks.md). The setting
   * ends with the transaction, which after its one statement writes only the import's own staging table
   * (no trigger, no key). The opening is one round trip: `begin` and the setting sent as one query.
   */
  function inBatchTransaction(write: (tx: Db) => Promise<void>): Promise<void> {
    return db.connection().execute(async (conn) => {
      await run(asReplica ? 'begin; set local session_replication_role = replica' : 'begin', [], conn);
      try {
        await write(conn);
        await run('commit', [], conn);
      } catch (error) {
        await run('rollback', [], conn).catch(() => {});
        throw error;
      }
    });
  }

  /** PostgreSQL: the payload of `writeNewPg`, made before the batch's transaction opens. */
  function pgPayload(rows: NewRow[], now: string): string {
    const ordered = [...rows].sort((a, b) => {
      const bySeq = (a.values[HCP_SEQ] as number) - (b.values[HCP_SEQ] as number);
      if (bySeq !== 0) return bySeq;
      const [at, bt] = [a.values[OCCURRED_AT] as string, b.values[OCCURRED_AT] as string];
      return at < bt ? -1 : at === bt ? 0 : 1;
    });
    return JSON.stringify(ordered.map((r) => [r.id, ...r.values, importId, now, now]));
  }

  /**
   * SQLite: the same, each INSERT a transaction of its own, outside any BEGIN, after the heartbeat (the
   * INSERTs run only if it was renewed). Inside one, SQLite keeps a statement journal for every multi-row
   * INSERT (so that the statement alone can be undone), which past 64 KiB it writes to a temporary file: the
   * original of every page the rows land on. On its own the statement is the transaction and needs none;
   * measured on the 10M world, 200,000 rows cost 58 µs a row written so against 71 in 5,000-row
   * transactions (docs/benchmarks.md). The rows are hidden until the publish either way, so the batch needs
   * no transaction of its own; each INSERT writes only while the import is still being written (not given
   * up as abandoned meanwhile).
   *
   * They run on the writer: on a SQLite file, a connection on a thread of its own (sqlite-writer.ts), which
   * writes one batch while this thread reads, checks and resolves the next (`stage` hands a batch over
   * without waiting for it). Measured on the 10M world: docs/benchmarks.md.
   */
  async function writeNewSqlite(rows: NewRow[], now: string, under: number, days: string[]): Promise<number> {
    const { sql, parameters } = heartbeat(db, now).compile();
    const marks: WriteStatement[] =
      days.length > 0 ? [{ sql: sqliteMarkDays, parameters: [importId, JSON.stringify(days)] }] : [];
    const statements: WriteStatement[] = [{ sql, parameters, mustChange: 1 }, ...marks];
    for (let i = 0; i < rows.length; i += SQLITE_NEW_PER_INSERT) {
      const slice = rows.slice(i, i + SQLITE_NEW_PER_INSERT);
      const parameters: unknown[] = [importId, now, now, under];
      for (const r of slice) parameters.push(r.id, ...r.values);
      parameters.push(importId);
      statements.push({ sql: sqliteWrite(slice.length), parameters });
    }
    const [beat, ...changes] = await writer!.run(statements);
    if (beat !== 1) throw abandoned(importId);
    return changes.slice(marks.length).reduce((sum, n) => sum + n, 0);
  }

  async function stageRows(on: Db | Tx, values: unknown[][]) {
    if (values.length === 0) return;
    if (pg) {
      await run(
        pgStage,
        STAGED_COLUMNS.map((_, c) => values.map((v) => v[c])),
        on,
      );
      return;
    }
    for (let i = 0; i < values.length; i += SQLITE_STAGED_PER_INSERT) {
      const chunk = values.slice(i, i + SQLITE_STAGED_PER_INSERT);
      await run(sqliteStage(chunk.length), chunk.flat(), on);
    }
  }

  /**
   * Renews the import's heartbeat before a batch or the publish (in the publish's transaction). An import already
   * given up as abandoned (no heartbeat for ABANDONED_AFTER_MS: its rows may be being taken out, and the
   * CRM feed has stopped waiting for it) may not write or publish again, even if nobody has taken it out
   * yet: its rows would land behind the feed's position.
   */
  async function renewHeartbeat(on: Db | Tx, now: string) {
    const beat = await heartbeat(on, now).executeTakeFirst();
    if (Number(beat.numUpdatedRows) !== 1) throw abandoned(importId);
  }

  /** The statement of `renewHeartbeat`: it changes the import's row only while it may still write. */
  function heartbeat(on: Db | Tx, now: string) {
    return on
      .updateTable('unpublished_imports')
      .set({ heartbeat_at: now })
      .where('import_id', '=', importId)
      .where('state', '=', 'writing')
      .where('heartbeat_at', '>=', abandonedBefore(now));
  }

  /** Stored rows by key (`keyOf`): their id, and their note to tell whether it changed. */
  async function storedRows(on: Db | Tx, rows: NewRow[]) {
    if (pg) {
      const { rows: found } = await run(
        PG_STORED_ROWS,
        [rows.map((r) => r.values[0]), rows.map((r) => r.values[1])],
        on,
      );
      const existing = found as { id: string; source: string; external_id: string; summary: string | null }[];
      return new Map(existing.map((e) => [keyOf(e.source, e.external_id), e]));
    }
    const sources = [...new Set(rows.map((r) => r.values[0] as string))];
    const existing = await readInChunks(
      rows.map((r) => r.values[1] as string),
      (externalIds) =>
        on
          .selectFrom('interactions')
          .select(['id', 'source', 'external_id', 'summary'])
          .where('source', 'in', sources)
          .where('external_id', 'in', externalIds)
          .execute(),
    );
    return new Map(existing.map((e) => [keyOf(e.source, e.external_id), e]));
  }

  /**
   * Writes a batch prepared by `stage`: the heartbeat renewed, the rows written hidden, and what the
   * publish needs staged (rows already stored, and triaged notes).
   *
   * Every row is written as if it were new, and the key's unique index says which were not: a CRM file
   * is mostly calls Parley has not seen, and asking first which keys are stored cost a look-up of every
   * key on top of the index's own (on PostgreSQL, where the server's work is the import's pace, a tenth
   * of it). Only a batch some of whose rows were already stored (a re-import, the same call logged through
   * the API) looks its keys up, after the write: such rows are updated when the import publishes, like any
   * re-imported row, and their note's cases opened only if the stored note is another one (its own were
   * opened with it).
   */
  async function writeBatch(
    on: Db | Tx,
    now: string,
    rows: NewRow[],
    under: number,
    days: string[],
    /** PostgreSQL: the rows as `pgPayload` makes them, before the batch's transaction opens. */
    payload = '',
  ) {
    let inserted: number;
    if (pg) inserted = await writeNewPg(on, payload, under, now, days);
    else inserted = await writeNewSqlite(rows, now, under, days);
    // (On SQLite an import given up since its heartbeat writes none of them; it fails at its next
    // heartbeat or at the publish, which it can then no longer pass.)
    written += inserted;
    let ours = rows;
    const stored: unknown[][] = [];
    if (inserted < rows.length) {
      // The chunk's room the rows not written did not take (a chunk left empty is unlisted at publishing).
      if (under === chunk) rowsInChunk -= rows.length - inserted;
      const byKey = await storedRows(on, rows);
      ours = [];
      for (const r of rows) {
        const other = byKey.get(r.key);
        if (!other || other.id === r.id) ours.push(r);
        else stored.push([r.line, other.id, 0, ...r.values, other.summary !== r.summary ? r.triage : null]);
      }
    }
    const triaged = ours.filter((r) => r.triage !== null);
    await stageRows(on, [...stored, ...triaged.map((r) => [r.line, r.id, 1, ...r.values, r.triage])]);
  }

  return {
    async stage(batch) {
      if (batch.length === 0) return;
      const now = deps.clock.now().toISOString();
      const ids = newIds('int', batch.length);
      const rows: NewRow[] = batch.map(({ line, row }, i) => {
        const summary = row.summary ?? null;
        // A rep's call note passes the same safety triage as an inbound message, once: when it is new or
        // changed (`writeBatch` keeps the result only then). The pure part runs here, outside any write;
        // cases are opened when the import publishes.
        let triage: string | null = null;
        if (summary?.trim()) {
          const result = triageText(summary, productsByMarket.get(row.market) ?? []);
          if (result.findings.length > 0)
            triage = JSON.stringify({
              market: row.market,
              product: result.product,
              findings: result.findings,
            } satisfies TriageStaged);
        }
        return {
          line,
          id: ids[i]!,
          key: keyOf(row.source, row.externalId),
          day: row.occurredAt.slice(0, 10),
          summary,
          // In the order of ROW_COLUMNS.
          values: [
            row.source,
            row.externalId,
            row.hcpId,
            row.hcpSeq,
            row.channel,
            row.kind,
            row.direction,
            row.occurredAt,
            row.repId,
            summary,
            listJson(row.topics),
            listJson(row.products),
          ],
          triage,
        };
      });
      // The batch's timeline chunk is opened before any of its writes, on its own: on PostgreSQL the
      // pinned connection would otherwise open it inside the batch's transaction, which a rollback would
      // undo, leaving the import's next rows under a chunk nobody lists. (Opened on the pool instead, so
      // as not to wait behind the batches queued ahead, the import was slower: 45,340–49,021 lines/s
      // against 49,533–52,452, alternated on the 10M world grown to 37–43M; docs/benchmarks.md.)
      const under = await chunkFor(rows.length, now);
      // The days the batch is the import's first to write to: marked stale with it (migration 0035).
      const days = [...new Set(rows.map((r) => r.day))].filter((d) => !markedDays.has(d));
      for (const day of days) markedDays.add(day);
      const payload = pg ? pgPayload(rows, now) : '';
      const write = (on: Db | Tx) => writeBatch(on, now, rows, under, days, payload);
      // Handed over while the batches before may still be being written; this one is written while the
      // caller prepares the next. Batches never share a key (the import reads each key once), so no
      // batch's writes depend on another's. PostgreSQL: one transaction a batch, queued on the import's
      // one connection, whose heartbeat row lock holds off a reaper until the rows are in. SQLite:
      // statements of their own on the writer (see `writeNewSqlite`).
      while (writing.length >= BATCHES_AHEAD[pg ? 'postgres' : 'sqlite']) await writing.shift();
      const batchWritten = pg ? inBatchTransaction(write) : write(db);
      // Awaited by a later batch, `written` or `discard`; this only keeps it from counting as unhandled.
      batchWritten.catch(() => {});
      writing.push(batchWritten);
    },

    async written() {
      for (const batchWritten of writing.splice(0)) await batchWritten;
    },

    async apply(tx, applyDeps) {
      const now = applyDeps.clock.now().toISOString();
      // Publishing takes the import's row first (on PostgreSQL a row lock): an import abandoned meanwhile,
      // whose rows may be going already, cannot be published, and nobody takes this one's out now.
      await renewHeartbeat(tx, now);
      const result = await publish(tx, applyDeps, now);
      // A chunk opened for rows that were all stored already (a re-import) holds nothing to list.
      await unlistEmptyChunks(tx, { importId });
      await tx.deleteFrom('unpublished_imports').where('import_id', '=', importId).execute();
      published = true;
      return result;
    },

    async discard() {
      try {
        // A batch still being written (the import failed meanwhile) is finished first; its failure, if
        // any, was the caller's already.
        await Promise.allSettled(writing);
        if (writer) {
          const { statementMs, pausedMs } = writer.timings();
          // For whoever tunes the pauses (docs/benchmarks.md): how long SQLite wrote, how long it waited.
          deps.logger.debug(
            { importId, writingMs: Math.round(statementMs), pausedMs: Math.round(pausedMs) },
            'import: SQLite writes done',
          );
          await writer.close();
        }
        await run(`drop table if exists ${table}`);
        if (!published) await takeOutImport(db, deps, importId);
      } finally {
        if (cacheBefore !== undefined) await run(`pragma cache_size = ${cacheBefore}`);
      }
    },
  };

  async function publish(tx: Tx, applyDeps: Deps, now: string): Promise<AppliedInteractions> {
    const exec = (text: string, params: unknown[]) => tx.executeQuery(CompiledQuery.raw(text, params));
    const p = pg ? (n: number) => `$${n}` : () => '?';
    const differs = pg ? 'is distinct from' : 'is not';
    const set = VALUE_COLUMNS.map((c) => `${c} = s.${c}`).join(', ');
    const changed = VALUE_COLUMNS.map((c) => `interactions.${c} ${differs} s.${c}`).join(' or ');
    // Rows stored before the import, by primary key; only those whose values differ are written, and
    // those still hidden under another unpublished import (whose rows this import now owns).
    const updated = await exec(
      `update interactions set ${set}, import_id = ${p(1)}, updated_at = ${p(2)} from ${table} s
         where s.is_new = 0 and interactions.id = s.id
           and (${changed} or interactions.import_id in (select import_id from unpublished_imports
                                                          where import_id <> ${p(3)}))`,
      [importId, now, importId],
    );
    const { rows: notes } = await exec(
      `select id, hcp_id, summary, occurred_at, triage_json from ${table}
         where triage_json is not null order by line`,
      [],
    );
    // Every note's cases in one run: a few statements, and the audit chain's head (which every audited
    // write waits on) locked for milliseconds rather than three statements a case.
    const cases = await openCallNoteCases(
      tx,
      applyDeps,
      (
        notes as { id: string; hcp_id: string; summary: string; occurred_at: string; triage_json: string }[]
      ).map((n) => {
        const triage = JSON.parse(n.triage_json) as TriageStaged;
        return {
          hcpId: n.hcp_id,
          interactionId: n.id,
          note: n.summary,
          occurredAt: n.occurred_at,
          triage,
          market: triage.market,
        };
      }),
    );
    const { rows: count } = await exec(`select count(*) as n from ${table} where is_new = 0`, []);
    const knownRows = Number((count[0] as { n: number | string }).n);
    const upd = Number(updated.numAffectedRows ?? 0n);
    return { inserted: written, updated: upd, unchanged: knownRows - upd, cases };
  }
}

/**
 * PostgreSQL: the rows stored under a batch's keys, one seek of the (source, external_id) index per key
 * ($1 sources, $2 external ids, as arrays). Asked as `source in (…) and external_id in (…)`, PostgreSQL
 * took the source alone as the index condition whenever its statistics did not know the source yet (a
 * new CRM source, a first import) and read every stored row of it for each look-up: 1.2 s for 1,000
 * keys once a million were stored, an import slower with every batch. The subquery under LATERAL, cut
 * by its LIMIT, cannot be turned into a join the planner would reorder: it stays a seek per key.
 */
export const PG_STORED_ROWS = `select i.id, i.source, i.external_id, i.summary
  from unnest($1::text[], $2::text[]) as k(source, external_id)
  cross join lateral (select id, source, external_id, summary from interactions
                       where source = k.source and external_id = k.external_id limit 1) i`;

function abandoned(importId: string): Error {
  return new Error(
    `import ${importId} was given up as abandoned (no batch for ${ABANDONED_AFTER_MS / 60_000} minutes); run it again`,
  );
}

/**
 * Takes an unpublished import's rows out again, a short transaction at a time (they stay hidden all
 * along), then forgets the import. Marking it `discarding` first means it can no longer be published.
 */
async function takeOutImport(db: Db, deps: Pick<ParleyContext, 'clock'>, importId: string) {
  const marked = await db
    .updateTable('unpublished_imports')
    .set({ state: 'discarding', heartbeat_at: deps.clock.now().toISOString() })
    .where('import_id', '=', importId)
    .executeTakeFirst();
  if (Number(marked.numUpdatedRows) === 0) return;
  for (;;) {
    const gone = await db
      .deleteFrom('interactions')
      .where('id', 'in', (eb) =>
        eb.selectFrom('interactions').select('id').where('import_id', '=', importId).limit(TAKE_OUT_CHUNK),
      )
      .executeTakeFirst();
    if (Number(gone.numDeletedRows) < TAKE_OUT_CHUNK) break;
    await db
      .updateTable('unpublished_imports')
      .set({ heartbeat_at: deps.clock.now().toISOString() })
      .where('import_id', '=', importId)
      .execute();
  }
  await unlistEmptyChunks(db, { importId });
  await db.deleteFrom('unpublished_imports').where('import_id', '=', importId).execute();
}

/**
 * Takes out the rows of imports whose process died before publishing (no heartbeat for
 * ABANDONED_AFTER_MS), and marks those imports rejected. Each is claimed first, so two callers never
 * work on the same one. Returns the imports taken out.
 */
export async function reapAbandonedImports(db: Db, deps: Pick<ParleyContext, 'clock'>): Promise<string[]> {
  const now = deps.clock.now();
  const stale = await db
    .selectFrom('unpublished_imports')
    .select(['import_id', 'heartbeat_at'])
    .where('heartbeat_at', '<', abandonedBefore(now.toISOString()))
    .execute();
  const reaped: string[] = [];
  for (const s of stale) {
    const claimed = await db
      .updateTable('unpublished_imports')
      .set({ state: 'discarding', heartbeat_at: now.toISOString() })
      .where('import_id', '=', s.import_id)
      .where('heartbeat_at', '=', s.heartbeat_at)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) continue;
    await takeOutImport(db, deps, s.import_id);
    await db
      .updateTable('import_runs')
      .set({ status: 'rejected', finished_at: now.toISOString() })
      .where('id', '=', s.import_id)
      .where('status', '=', 'staging')
      .execute();
    reaped.push(s.import_id);
  }
  return reaped;
}

/**
 * PostgreSQL: whether the session may set `session_replication_role` (a superuser, or a role granted
 * `SET ON PARAMETER session_replication_role`, PostgreSQL 15 and later). Tried in a transaction rolled
 * back either way, so nothing is left set.
 */
export async function mayActAsReplica(db: Db): Promise<boolean> {
  const INSUFFICIENT_PRIVILEGE = '42501';
  const tried = await db
    .transaction()
    .execute(async (tx) => {
      await tx.executeQuery(CompiledQuery.raw('set local session_replication_role = replica', []));
      throw new TriedOnly();
    })
    .catch((error: unknown) => error);
  if (tried instanceof TriedOnly) return true;
  if ((tried as { code?: unknown }).code === INSUFFICIENT_PRIVILEGE) return false;
  throw tried;
}

class TriedOnly extends Error {}

async function sqliteCacheSize(db: Db): Promise<number> {
  const { rows } = await db.executeQuery(CompiledQuery.raw('pragma cache_size', []));
  return Number((rows[0] as { cache_size: number }).cache_size);
}
