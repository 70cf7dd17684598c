import { CompiledQuery, PostgresAdapter, type QueryResult } from 'kysely';
import { triageText, type KnownProduct, type TriageResult } from '../assistant/index.js';
import { openCallNoteCases } from './call-notes.store.js';
import type { ParleyContext } from '../context.js';
import { newId } from '../platform/crypto/index.js';
import type { Db, DbOrTx, Tx } from '../platform/database/index.js';

/**
 * The bulk path of `import interactions`, the kind that reaches millions of rows. Rows are staged, typed
 * (one column each, no JSON to build or parse), in a table of the import's own that only its connection
 * sees: a TEMP table. On SQLite a temp table lives outside the main database file, so staging never takes
 * the database's single writer (webhooks and sends write on while a file is read); on PostgreSQL it is not
 * written to the WAL. Nothing outside the import can see staged rows, and a crash leaves nothing behind.
 *
 * The apply is then a few set-based statements inside the database (UPDATE … FROM staging for rows known
 * at staging, INSERT … SELECT … ON CONFLICT for new ones), in the caller's one transaction: readers see all
 * of an import or none of it, and the transaction holds the writer only for the database's own work on the
 * rows, not for a JavaScript loop over them. The SQL is fixed text sent as pre-compiled queries (a Kysely
 * `CompiledQuery`), so a million rows do not cost a million query builds; SQLite's statements are
 * prepared once and kept by the store's statement cache.
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

export function isPostgres(db: DbOrTx): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
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

/** Staging columns, in the order of the staging INSERT. */
const STAGED_COLUMNS = [
  'line',
  'id',
  'is_new',
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
  'triage_json',
] as const;
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
/** Columns an import sets; a row whose stored values equal these is left alone (not even `updated_at`). */
const VALUE_COLUMNS = [
  'hcp_id',
  'hcp_seq',
  'channel',
  'direction',
  'kind',
  'occurred_at',
  'rep_id',
  'summary',
  'topics_json',
  'products_json',
] as const;
/** The most SQLite's page cache may hold during an apply (KiB): the pages a large apply touches. */
const APPLY_CACHE_KIB = 1024 * 1024;
/** Rows per staging INSERT on SQLite (16 parameters each; at most 2,047 fit its 32,766): binding fewer per statement measured faster (8.8 µs a row at 2,000, 5.9 at 500). */
const SQLITE_ROWS_PER_INSERT = 500;

const EMPTY_LIST = '[]';
const listJson = (list: string[]) => (list.length === 0 ? EMPTY_LIST : JSON.stringify(list));

interface TriageStaged {
  market: string | null;
  product: string | null;
  findings: TriageResult['findings'];
}

export interface InteractionStaging {
  /** Stages one batch of resolved rows (a short write of the import's own table). */
  stage(rows: { line: number; row: ResolvedInteraction }[]): Promise<void>;
  /** Applies everything staged, in the caller's transaction. */
  apply(tx: Tx, deps: Deps): Promise<AppliedInteractions>;
  /** Drops the staging table (after the apply, or when nothing is to be applied). */
  discard(): Promise<void>;
}

/**
 * Creates the import's staging table on `db` (for PostgreSQL, the pinned connection of
 * `withImportConnection`). `importId` is Parley's own id (`imp_` and hex), so it is safe as a table name.
 */
export async function openInteractionStaging(db: Db, importId: string): Promise<InteractionStaging> {
  if (!/^imp_[0-9a-f]+$/.test(importId)) throw new Error(`unexpected import id ${importId}`);
  const pg = isPostgres(db);
  const table = `staged_${importId}`;
  const run = (text: string, params: unknown[] = []) => db.executeQuery(CompiledQuery.raw(text, params));
  const columns = STAGED_COLUMNS.join(', ');
  await run(
    pg
      ? `create temp table ${table} (${STAGED_COLUMNS.map((c) => `${c} ${PG_TYPES[c]}`).join(', ')}, primary key (line))`
      : `create temp table ${table} (line integer primary key, ${STAGED_COLUMNS.slice(1)
          .map((c) => `${c} ${PG_TYPES[c] === 'integer' ? 'integer' : 'text'}`)
          .join(', ')})`,
  );
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

  const insertSqlite = new Map<number, string>();
  const sqliteInsert = (rows: number) => {
    let text = insertSqlite.get(rows);
    if (!text) {
      const one = `(${STAGED_COLUMNS.map(() => '?').join(',')})`;
      text = `insert into ${table} (${columns}) values ${Array.from({ length: rows }, () => one).join(',')}`;
      insertSqlite.set(rows, text);
    }
    return text;
  };
  // PostgreSQL: one array a column, whatever the number of rows (no parameter limit, one short parse).
  const pgInsert = `insert into ${table} (${columns}) select * from unnest(${STAGED_COLUMNS.map(
    (c, i) => `$${i + 1}::${PG_TYPES[c]}[]`,
  ).join(', ')})`;

  return {
    async stage(batch) {
      if (batch.length === 0) return;
      // Which rows are already stored (a re-import): their id, and their note to tell whether it changed.
      const existing = await db
        .selectFrom('interactions')
        .select(['id', 'source', 'external_id', 'summary'])
        .where('source', 'in', [...new Set(batch.map((b) => b.row.source))])
        .where(
          'external_id',
          'in',
          batch.map((b) => b.row.externalId),
        )
        .execute();
      const byKey = new Map(existing.map((e) => [`${e.source}\u0000${e.external_id}`, e]));
      const values: unknown[][] = [];
      for (const { line, row } of batch) {
        const old = byKey.get(`${row.source}\u0000${row.externalId}`);
        const summary = row.summary ?? null;
        // A rep's call note passes the same safety triage as an inbound message, once: when it is new or
        // changed. The pure part runs here, outside any write; cases are opened in the apply.
        let triage: string | null = null;
        if (summary?.trim() && (!old || old.summary !== summary)) {
          const result = triageText(summary, productsByMarket.get(row.market) ?? []);
          if (result.findings.length > 0)
            triage = JSON.stringify({
              market: row.market,
              product: result.product,
              findings: result.findings,
            } satisfies TriageStaged);
        }
        values.push([
          line,
          old ? old.id : newId('int'),
          old ? 0 : 1,
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
          triage,
        ]);
      }
      if (pg) {
        await run(
          pgInsert,
          STAGED_COLUMNS.map((_, c) => values.map((v) => v[c])),
        );
        return;
      }
      for (let i = 0; i < values.length; i += SQLITE_ROWS_PER_INSERT) {
        const chunk = values.slice(i, i + SQLITE_ROWS_PER_INSERT);
        await run(sqliteInsert(chunk.length), chunk.flat());
      }
    },

    async apply(tx, deps) {
      const now = deps.clock.now().toISOString();
      const exec = (text: string, params: unknown[]) => tx.executeQuery(CompiledQuery.raw(text, params));
      // SQLite keeps 2 MB of pages by default: a large apply into a large table would then spill the same
      // index pages to the WAL again and again. For the apply only, the cache may grow (pages are taken
      // as needed, and given back when the limit is set back).
      const cacheBefore = pg ? undefined : await sqliteCacheSize(tx);
      if (cacheBefore !== undefined) await exec(`pragma cache_size = -${APPLY_CACHE_KIB}`, []);
      try {
        return await applyStaged(tx, deps, exec, now);
      } finally {
        if (cacheBefore !== undefined) await exec(`pragma cache_size = ${cacheBefore}`, []);
      }
    },

    async discard() {
      await run(`drop table if exists ${table}`);
    },
  };

  async function applyStaged(
    tx: Tx,
    deps: Deps,
    exec: (text: string, params: unknown[]) => Promise<QueryResult<unknown>>,
    now: string,
  ): Promise<AppliedInteractions> {
    const p = pg ? (n: number) => `$${n}` : () => '?';
    const differs = pg ? 'is distinct from' : 'is not';
    const set = VALUE_COLUMNS.map((c) => `${c} = s.${c}`).join(', ');
    const changed = (left: string, right: string) =>
      VALUE_COLUMNS.map((c) => `${left}.${c} ${differs} ${right}.${c}`).join(' or ');
    // Rows stored before the import, by primary key; only those whose values differ are written.
    const updated = await exec(
      `update interactions set ${set}, updated_at = ${p(1)} from ${table} s
         where s.is_new = 0 and interactions.id = s.id and (${changed('interactions', 's')})`,
      [now],
    );
    // New rows. On PostgreSQL in the order of the timeline index (HCP, time), the index new rows cost most
    // to keep: its pages are then read and written front to back, each once, rather than evicted from the
    // small shared buffers and read again. SQLite keeps the pages an apply touches in the page cache
    // anyway, and there sorting the staged rows cost more than it saved (1M rows into the 10M world: 27.1
    // µs a row sorted, 21.5 in file order; docs/benchmarks.md). Should a row with the same key have
    // been stored since it was staged (the same call logged through the API meanwhile), it is updated
    // instead, like any re-imported row, and counted among the inserted.
    const inserted = await exec(
      `insert into interactions (id, ${VALUE_COLUMNS.join(', ')}, source, external_id, template_id,
           asset_ids_json, message_id, status, created_at, updated_at)
         select id, ${VALUE_COLUMNS.join(', ')}, source, external_id, null, '[]', null, null, ${p(1)}, ${p(2)}
         from ${table} where is_new = 1${pg ? ' order by hcp_seq, occurred_at' : ''}
         on conflict (source, external_id) do update set
           ${VALUE_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}, updated_at = excluded.updated_at
         where ${changed('interactions', 'excluded')}`,
      [now, now],
    );
    const { rows: notes } = await exec(
      `select id, hcp_id, summary, occurred_at, triage_json from ${table}
         where triage_json is not null order by line`,
      [],
    );
    let cases = 0;
    for (const n of notes as {
      id: string;
      hcp_id: string;
      summary: string;
      occurred_at: string;
      triage_json: string;
    }[]) {
      const triage = JSON.parse(n.triage_json) as TriageStaged;
      cases += await openCallNoteCases(tx, deps, {
        hcpId: n.hcp_id,
        interactionId: n.id,
        note: n.summary,
        occurredAt: n.occurred_at,
        triage,
        market: triage.market,
      });
    }
    const { rows: count } = await exec(`select count(*) as n from ${table}`, []);
    const staged = Number((count[0] as { n: number | string }).n);
    const ins = Number(inserted.numAffectedRows ?? 0n);
    const upd = Number(updated.numAffectedRows ?? 0n);
    return { inserted: ins, updated: upd, unchanged: staged - ins - upd, cases };
  }
}

async function sqliteCacheSize(tx: Tx): Promise<number> {
  const { rows } = await tx.executeQuery(CompiledQuery.raw('pragma cache_size', []));
  return Number((rows[0] as { cache_size: number }).cache_size);
}
