import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Dialect as KyselyDialect,
  type SqliteDialectConfig,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { openSqliteReaders } from './sqlite-readers.js';
import {
  openSqliteWriterThread,
  type SqliteWriter,
  type SqliteWriterThreadOptions,
} from './sqlite-writer.js';
import type { Database } from './tables.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, startWalCheckpointer } from './wal-checkpointer.js';

export type Dialect = 'sqlite' | 'postgres';

/** Kysely over Parley's tables; a transaction is the same shape, so store functions take either. */
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
export type DbOrTx = Db | Tx;

export interface Store {
  readonly db: Db;
  readonly dialect: Dialect;
  /**
   * A compiled select's rows as arrays of column values, in select order, for bulk reads (a 10M-row
   * export) where the drivers' row objects cost more than the read itself. Not part of a Kysely
   * transaction: SQLite's one connection as it stands, or any pooled PostgreSQL connection. On SQLite it
   * bypasses Kysely's lock on that connection, so it would read inside a transaction the same process has
   * open: use it only where none can be (the `parley export` command's own process).
   */
  readArrays(query: CompiledQuery): Promise<unknown[][]>;
  /**
   * Where long read-only work runs (the analytics reports): on a SQLite file opened with `readers`,
   * read-only connections on worker threads (sqlite-readers.ts), so such a read never holds the event loop
   * or the one connection; otherwise `db` itself (PostgreSQL's pool already reads side by side). Reads
   * only: a write, or a transaction, is refused there.
   */
  readonly readers: Db;
  /**
   * SQLite file only: opens another connection to the file on a worker thread, for a long run of writes
   * the event loop should not wait on (an import's rows; sqlite-writer.ts). The caller closes it.
   */
  readonly openWriterThread?: (options: WriterThreadOptions) => SqliteWriter;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL only: a schema to live in (created if missing), so test suites can run side by side. */
  schema?: string;
  /** PostgreSQL only: pool size. */
  maxConnections?: number;
  /**
   * SQLite file only: checkpoint the WAL on a worker thread instead of inside whichever commit crosses
   * the threshold (see wal-checkpointer.ts). On by default; tools that open a store briefly may skip it.
   */
  backgroundCheckpoints?: boolean;
  /** Where a failing background checkpoint is reported (the log); the backstop keeps the WAL bounded. */
  onCheckpointError?: (message: string) => void;
  /** SQLite file only: read-only connections on worker threads behind `Store.readers`; 0 (default): none. */
  readers?: number;
}

/** What the opener of a writer thread chooses; the store sets the rest as for its own connection. */
type WriterThreadOptions = Omit<SqliteWriterThreadOptions, 'autocheckpointPages'>;

/** SQLite's own `wal_autocheckpoint`, kept where no checkpointer thread runs. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/** The SQLite page cache of a file store, in KiB (a negative `cache_size` is KiB; a positive one, pages). */
const PAGE_CACHE_KIB = 64 * 1024;

/**
 * Opens the store named by a `PARLEY_DATABASE_URL`: `sqlite:<path>` (`sqlite::memory:` for a throw-away
 * one) or `postgres://…`. SQLite is opened in WAL mode with foreign keys on; with `synchronous=NORMAL` a
 * committed transaction survives a crash of the process (kill -9), which is what a webhook acknowledgement
 * promises; only a power cut could lose the last commits, the documented trade-off of WAL mode.
 */
export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length) || ':memory:';
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SQLite(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // SQLite's default page cache is 2 MB: on a database of gigabytes the pages a request walks (the HCP,
    // its consent, the counters' index ranges) are evicted between requests and read again from the
    // operating system each time. 64 MiB holds the hot part of a large world; it is memory, not disk.
    if (path !== ':memory:') sqlite.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    const checkpointer =
      path !== ':memory:' && options.backgroundCheckpoints !== false
        ? startWalCheckpointer(path, { onError: options.onCheckpointError })
        : undefined;
    if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
    const db = new Kysely<Database>({ dialect: immediateSqlite({ database: withStatementCache(sqlite) }) });
    const readers =
      path !== ':memory:' && (options.readers ?? 0) > 0
        ? openSqliteReaders(path, { size: options.readers!, cacheKib: PAGE_CACHE_KIB })
        : undefined;
    return {
      db,
      dialect: 'sqlite',
      readers: readers?.db ?? db,
      ...(path !== ':memory:'
        ? {
            openWriterThread: (options: WriterThreadOptions) =>
              openSqliteWriterThread(path, {
                ...options,
                autocheckpointPages: checkpointer
                  ? BACKSTOP_AUTOCHECKPOINT_PAGES
                  : DEFAULT_AUTOCHECKPOINT_PAGES,
              }),
          }
        : {}),
      // Its own statement (not the cache's, which Kysely runs in object mode); one per page of rows.
      readArrays: async (query) =>
        sqlite
          .prepare(query.sql)
          .raw(true)
          .all(...query.parameters) as unknown[][],
      close: async () => {
        await readers?.close();
        await checkpointer?.stop();
        await db.destroy();
      },
    };
  }
  const schema = options.schema;
  if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`unsafe schema name: ${schema}`);
  if (schema) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Created only when missing: a role without CREATE on the database (a deployment's own, in a schema
      // its DBA made) is refused even `create schema if not exists` of one that exists.
      const found = await admin.query('select 1 from pg_namespace where nspname = $1', [schema]);
      if (found.rowCount === 0) await admin.query(`create schema if not exists ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // A pool error (the server went away) must not crash the process: queries fail and are answered 503.
  pool.on('error', () => {});
  // The pool listens for errors on idle clients only: a connection reset while a client is checked out
  // between two queries (inside a transaction) would be an unhandled 'error' event and kill the process.
  // The failed client is not queryable any more, so the pool drops it when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const readArrays = async (query: CompiledQuery): Promise<unknown[][]> =>
    (await pool.query({ text: query.sql, values: [...query.parameters], rowMode: 'array' }))
      .rows as unknown[][];
  return { db, dialect: 'postgres', readArrays, readers: db, close: () => db.destroy() };
}

/**
 * better-sqlite3 compiles a statement on every `prepare`, and Kysely prepares each query it runs; the same
 * few hundred SQL texts recur (the webhook path, the outbox, the timeline), so compiled statements are
 * kept and reused. Kysely holds SQLite's single connection for a whole query, so a statement is never
 * run twice at once. Bounded, oldest dropped first.
 */
function withStatementCache(sqlite: SQLite.Database, max = 2000) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

/** Drops a PostgreSQL schema made by `openStore(..., { schema })`; for test clean-up. */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`unsafe schema name: ${schema}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await admin.end();
  }
}

/**
 * SQLite, with every transaction begun IMMEDIATE: it takes the write lock at its start (waiting out
 * `busy_timeout` for it) rather than at its first write. A deferred transaction that reads and then
 * writes fails at once with SQLITE_BUSY_SNAPSHOT ("database is locked", no busy wait) whenever another
 * process committed in between, which is what a `parley import` beside `parley serve` does every few
 * hundred milliseconds: each webhook processed, message sent or figure refreshed in that window failed.
 * Within the process the connection's transactions are one at a time anyway, so nothing else changes.
 */
function immediateSqlite(config: SqliteDialectConfig): KyselyDialect {
  const base = new SqliteDialect(config);
  return {
    createDriver: () => new ImmediateSqliteDriver(config),
    createQueryCompiler: () => base.createQueryCompiler(),
    createAdapter: () => base.createAdapter(),
    createIntrospector: (db) => base.createIntrospector(db),
  };
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
