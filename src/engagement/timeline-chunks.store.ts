import { sql, type RawBuilder } from 'kysely';
import { tableIndexedBy, type Db, type DbOrTx, type SqliteWriter } from '../platform/database/index.js';

/**
 * The interactions' two big indexes in chunks: the timeline index (timeline_chunk, hcp_seq, occurred_at)
 * since migration 0034, and the index by time (timeline_chunk, occurred_at, channel) since 0035. Chunk 0
 * is their main part, where rows written one at a time go; an import writes its new rows under chunks of
 * its own, small ranges at the indexes' end, instead of all over the main part (a page written for nearly
 * every row). Whoever reads an HCP's rows, or a period's, searches chunk 0 and every chunk still listed;
 * a running Parley folds published chunks into chunk 0 in the background and unlists them once empty.
 *
 * The one rule that keeps every row findable: a row's chunk is 0 or listed in `timeline_chunks`. A chunk
 * is listed before any row is written under it and unlisted only once no row is left under it.
 */

/**
 * New rows an import writes under one chunk before it opens the next: a range of the index small enough
 * for its pages to stay in SQLite's cache while it fills (measured on the 10M world: 20,000 to 200,000
 * rows a chunk all cost the same 18–21 µs a row, against 27–57 µs into the main part).
 */
export const TIMELINE_CHUNK_ROWS = 50_000;

/** Rows a fold moves into chunk 0 per statement: each holds SQLite's writer for a fraction of a second. */
export const FOLD_ROWS = 1_000;

/** Opens a chunk for an import's new rows (its own short write, never undone by a batch's rollback). */
export async function openTimelineChunk(db: Db, importId: string, now: string): Promise<number> {
  const row = await chunkListing(db, importId, now).returning('chunk').executeTakeFirstOrThrow();
  return Number(row.chunk);
}

/** The statement that lists a new chunk for an import. */
const chunkListing = (db: Db, importId: string, now: string) =>
  db.insertInto('timeline_chunks').values({ import_id: importId, opened_at: now });

/**
 * The same through a SQLite writer thread (sqlite-writer.ts), so that the import's writes all come from
 * the one connection that pauses for others: the main connection's commits would count as another
 * writer's, and keep the thread pausing for nobody. The chunk is read back on `db` once written; an
 * import opens its chunks one at a time, so its latest is the new one.
 */
export async function openTimelineChunkThrough(
  writer: SqliteWriter,
  db: Db,
  importId: string,
  now: string,
): Promise<number> {
  const { sql: text, parameters } = chunkListing(db, importId, now).compile();
  await writer.run([{ sql: text, parameters }]);
  const row = await db
    .selectFrom('timeline_chunks')
    .select((eb) => eb.fn.max('chunk').as('chunk'))
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();
  return Number(row.chunk);
}

/** The chunks a reader by HCP must search beside chunk 0 (none, nearly always: a read of an empty table). */
export async function listedTimelineChunks(db: DbOrTx): Promise<number[]> {
  const rows = await db.selectFrom('timeline_chunks').select('chunk').orderBy('chunk').execute();
  return rows.map((r) => Number(r.chunk));
}

/**
 * The condition that finds an HCP's rows through the timeline index: its seq (read once, by subquery)
 * in chunk 0 and in each of `chunks` (from `listedTimelineChunks`). `table` is the interactions table's
 * name or alias in the query. With no chunk listed it is an equality, and a page of the timeline stays a
 * range of the index read backwards and cut by the limit; with chunks, one range a chunk, merged by a
 * sort of the HCP's rows.
 */
export function onHcpTimeline(table: string, hcpId: string, chunks: readonly number[]): RawBuilder<boolean> {
  return sql<boolean>`${inListedChunks(table, chunks)} and ${sql.ref(`${table}.hcp_seq`)} = (select seq from hcps where id = ${hcpId})`;
}

/**
 * `timeline_chunk` is 0 or one of `chunks` (from `listedTimelineChunks`): an equality when none is listed,
 * as nearly always. With the HCP's seq it finds an HCP's rows through the timeline index; with a period's
 * bounds, a period's rows through the index by time. Without it neither store can seek the index by time
 * (it leads with the chunk), and a period is read from the whole table.
 */
export function inListedChunks(table: string, chunks: readonly number[]): RawBuilder<boolean> {
  const chunk = sql.ref(`${table}.timeline_chunk`);
  return chunks.length === 0
    ? sql<boolean>`${chunk} = 0`
    : sql<boolean>`${chunk} in (${sql.join([0, ...chunks])})`;
}

/**
 * Folds published chunks into chunk 0, at most `maxRows` rows, a statement of FOLD_ROWS at a time, oldest
 * chunk first, and unlists each chunk it empties. Nothing is folded while an import is being written (its
 * heartbeat renewed since `writingSince`, when given): the fold would take turns with it for SQLite's one
 * writer. What is folded is only moved within the index: every reader finds the row before, during and
 * after. Returns the rows moved.
 */
export async function foldTimelineChunks(
  db: Db,
  options: { maxRows?: number; writingSince?: string } = {},
): Promise<number> {
  const maxRows = options.maxRows ?? FOLD_ROWS * 20;
  let moved = 0;
  while (moved < maxRows) {
    const next = await db
      .selectFrom('timeline_chunks as c')
      .select('c.chunk')
      .where(({ not, exists, selectFrom }) => {
        let writing = selectFrom('unpublished_imports').select('import_id').where('state', '=', 'writing');
        // An import whose heartbeat stopped before `writingSince` was abandoned: it holds nothing off.
        if (options.writingSince) writing = writing.where('heartbeat_at', '>=', options.writingSince);
        return not(exists(writing));
      })
      .where('c.import_id', 'not in', (eb) => eb.selectFrom('unpublished_imports').select('import_id'))
      .orderBy('c.chunk')
      .limit(1)
      .executeTakeFirst();
    if (!next) break;
    const chunk = Number(next.chunk);
    const step = Math.min(FOLD_ROWS, maxRows - moved);
    const result = await foldStepQuery(db, chunk, step).executeTakeFirst();
    const n = Number(result.numUpdatedRows);
    moved += n;
    if (n === step) continue;
    const unlisted = await unlistEmptyChunks(db, { chunk });
    if (n === 0 && unlisted === 0) break;
  }
  return moved;
}

/** One statement of the fold: up to `rows` rows of `chunk` moved into chunk 0. */
export function foldStepQuery(db: Db, chunk: number, rows: number) {
  return db
    .updateTable('interactions')
    .set({ timeline_chunk: 0 })
    .where('id', 'in', (eb) =>
      eb.selectFrom('interactions').select('id').where('timeline_chunk', '=', chunk).limit(rows),
    );
}

/**
 * Unlists the chunks named (one chunk, or an import's) that no row is left under, in the statement that
 * checks it; returns how many. After a rejected or abandoned import's rows are taken out, a chunk some rows
 * stay under (rows another import took over) stays listed, to be folded.
 */
export async function unlistEmptyChunks(
  db: Db,
  which: { chunk: number } | { importId: string },
): Promise<number> {
  const result = await unlistEmptyChunksQuery(db, which).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * The statement of `unlistEmptyChunks`. Its look for a row under the chunk names the timeline index on
 * SQLite: the statistics of a store analysed while every row was in chunk 0 (a seeded world) say a chunk
 * holds the whole table, and SQLite then scanned the table for one (7 s on the 10M world, the event loop
 * held all along: webhooks acknowledged 6–7 s late every few seconds while the fold ran). PostgreSQL's
 * planner made the same mistake its own way: an anti-join reading the whole table once per chunk (61 s for
 * an import's 20 chunks on the 10M world), whatever LIMIT the EXISTS had (it drops it). The look is
 * therefore the first row under the chunk in the index's own order, a subquery no planner turns into a
 * join, and that order only the index gives without a sort: a seek per chunk on either store.
 */
export function unlistEmptyChunksQuery(db: Db, which: { chunk: number } | { importId: string }) {
  const named = db.deleteFrom('timeline_chunks as c');
  return (
    'chunk' in which
      ? named.where('c.chunk', '=', which.chunk)
      : named.where('c.import_id', '=', which.importId)
  ).where((eb) =>
    eb(
      eb
        .selectFrom(tableIndexedBy(db, 'interactions', 'i', 'interactions_timeline'))
        .select('i.id')
        .whereRef('i.timeline_chunk', '=', 'c.chunk')
        .orderBy('i.timeline_chunk')
        .orderBy('i.hcp_seq')
        .orderBy('i.occurred_at')
        .limit(1),
      'is',
      null,
    ),
  );
}
