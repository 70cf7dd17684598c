import {
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database } from './tables.js';

/**
 * Read-only connections to a SQLite file, each on a worker thread of its own, behind a Kysely instance.
 *
 * better-sqlite3 answers on the thread that asks, and Parley's one connection lives on the event loop: a
 * report that reads a year of a large world (a second or two) would hold every webhook acknowledgement,
 * policy check and send behind it for that long. Long read-only work (the analytics reports) runs here
 * instead: the event loop only waits for an answer, and a report's independent reads (its
 * `Promise.all`s) run side by side, one per connection. WAL mode lets readers and the writer work at
 * once; each statement reads the last commit as of its start, as on the main connection.
 *
 * Only statements that return rows are run (`query_only` refuses anything else), outside transactions.
 */
export interface SqliteReaders {
  readonly db: Kysely<Database>;
  close(): Promise<void>;
  /** Ends one thread as a crash would; the next query that needs it gets a new one (tests). */
  crashOne(): Promise<void>;
}

export interface SqliteReadersOptions {
  /** Connections (threads); at least 1. */
  size: number;
  /** Each connection's page cache, in KiB. */
  cacheKib: number;
}

interface Request {
  id: number;
  sql: string;
  parameters: readonly unknown[];
}
type Answer = { id: number; rows: unknown[] } | { id: number; error: { message: string; code?: string } };

// Runs in each worker (a CommonJS script: eval workers cannot be ES modules). Statements are compiled once
// per text and kept, as on the main connection: reports send the same texts again and again.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -' + workerData.cacheKib);
db.pragma('query_only = 1');
const statements = new Map();
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { db.close(); } catch {}
    parentPort.close();
    return;
  }
  try {
    let statement = statements.get(m.sql);
    if (!statement) {
      statement = db.prepare(m.sql);
      if (statements.size >= 500) statements.delete(statements.keys().next().value);
      statements.set(m.sql, statement);
    }
    if (!statement.reader) throw new Error('a reader connection runs only statements that return rows');
    const rows = statement.all(m.parameters);
    // Blobs that own their memory are handed over, not copied: the main thread would otherwise copy
    // every one of them (a year of day and month cells: megabytes) while it holds the event loop.
    const handedOver = [];
    for (const row of rows)
      for (const key in row) {
        const v = row[key];
        if (v instanceof Uint8Array && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength)
          handedOver.push(v.buffer);
      }
    parentPort.postMessage({ id: m.id, rows }, handedOver);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: { message: String((err && err.message) || err), code: err && err.code } });
  }
});
`;

/** One worker thread and its connection; replaced by the pool if the thread ever dies. */
class ReaderThread implements DatabaseConnection {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  #next = 0;
  #dead: Error | null = null;
  readonly exited: Promise<void>;

  constructor(path: string, driver: string, cacheKib: number) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, cacheKib } });
    // Idle readers never keep the process alive.
    this.#worker.unref();
    this.#worker.on('message', (answer: Answer) => {
      const waiting = this.#pending.get(answer.id);
      if (!waiting) return;
      this.#pending.delete(answer.id);
      if ('rows' in answer) waiting.resolve(answer.rows);
      else waiting.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        this.#fail(new Error('the SQLite reader thread stopped'));
        resolve();
      }),
    );
  }

  get dead(): boolean {
    return this.#dead !== null;
  }

  #fail(error: Error) {
    this.#dead ??= error;
    for (const waiting of this.#pending.values()) waiting.reject(this.#dead);
    this.#pending.clear();
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    const request: Request = { id, sql: query.sql, parameters: query.parameters };
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.#pending.set(id, { resolve: (rows) => resolve({ rows: rows as R[] }), reject });
      // The worker keeps the process alive only while a query is out.
      this.#worker.ref();
      this.#worker.postMessage(request);
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    });
  }

  // eslint-disable-next-line require-yield -- Kysely's interface; reports read whole results
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('SQLite readers do not stream; read a page at a time');
  }

  async close(): Promise<void> {
    this.#worker.postMessage('close');
    // A thread stuck in a query is ended rather than waited for.
    const deadline = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.exited;
    clearTimeout(deadline);
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

/** Hands each query a free reader thread, first come first served; a thread that died is replaced. */
class ReaderPool implements Driver {
  readonly #threads: ReaderThread[];
  readonly #idle: ReaderThread[];
  readonly #waiting: ((thread: ReaderThread) => void)[] = [];
  readonly #spawn: () => ReaderThread;
  #closed = false;

  constructor(size: number, spawn: () => ReaderThread) {
    this.#spawn = spawn;
    this.#threads = Array.from({ length: size }, spawn);
    this.#idle = [...this.#threads];
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#closed) throw new Error('the SQLite readers are closed');
    const thread = this.#idle.pop();
    if (thread) return this.#alive(thread);
    return new Promise((resolve) => this.#waiting.push((t) => resolve(this.#alive(t))));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const thread = connection as ReaderThread;
    const next = this.#waiting.shift();
    if (next) next(thread);
    else this.#idle.push(thread);
  }

  #alive(thread: ReaderThread): ReaderThread {
    if (!thread.dead) return thread;
    const replacement = this.#spawn();
    this.#threads[this.#threads.indexOf(thread)] = replacement;
    return replacement;
  }

  async beginTransaction(): Promise<void> {
    throw new Error('SQLite readers run no transactions');
  }
  async commitTransaction(): Promise<void> {
    throw new Error('SQLite readers run no transactions');
  }
  async rollbackTransaction(): Promise<void> {
    throw new Error('SQLite readers run no transactions');
  }

  async destroy(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#threads.map((t) => t.close()));
  }

  /** Ends one thread as a crash would (tests). */
  async crashOne(): Promise<void> {
    await this.#threads[0]!.terminate();
  }
}

/** Opens `size` read-only connections to the SQLite file at `path`, each on a thread of its own. */
export function openSqliteReaders(path: string, options: SqliteReadersOptions): SqliteReaders {
  if (options.size < 1) throw new Error('SQLite readers need at least one connection');
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const pool = new ReaderPool(options.size, () => new ReaderThread(path, driver, options.cacheKib));
  const dialect: Dialect = {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => pool,
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
  const db = new Kysely<Database>({ dialect });
  return {
    db,
    // Kysely destroys a driver only once it has run a query; the threads are stopped either way.
    close: async () => {
      await db.destroy();
      await pool.destroy();
    },
    crashOne: () => pool.crashOne(),
  };
}
