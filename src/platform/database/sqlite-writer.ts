import { CompiledQuery } from 'kysely';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './connect.js';

/**
 * Where a long run of SQLite writes goes: statements run in order, each a transaction of its own
 * (autocommit), and the answer is the rows each changed.
 *
 * `openSqliteWriterThread` runs them on a connection of its own on a worker thread: better-sqlite3 answers
 * on the thread that asks, so on the main connection the event loop waits out every statement, and an
 * import's JavaScript (reading, checking, resolving the next batch) and SQLite's writing take turns on one
 * core. On a thread of their own they overlap, and the event loop stays free for other requests. The
 * thread's connection is another writer to the same file, like a `parley import` process beside
 * `parley serve`: WAL mode and `busy_timeout` share the write lock between them.
 *
 * `sqliteWriterOn` runs them on a Kysely connection as it is: for `sqlite::memory:`, which no other
 * connection can open, and wherever a thread would not pay.
 */
export interface SqliteWriter {
  /**
   * Runs the statements in order; stops after one that changed another number of rows than its
   * `mustChange`. Answers the rows each statement run changed (fewer entries than statements if it stopped).
   */
  run(statements: readonly WriteStatement[]): Promise<number[]>;
  close(): Promise<void>;
}

export interface WriteStatement {
  sql: string;
  parameters: readonly unknown[];
  /** The rows this statement must change for the ones after it to run (a guard, such as a heartbeat). */
  mustChange?: number;
}

export interface SqliteWriterThreadOptions {
  /** The connection's page cache, in KiB. */
  cacheKib: number;
  /**
   * After each statement, the thread waits this share of the statement's time before its next (0: none).
   * Other connections waiting for the write lock (`busy_timeout` polls it every few to 100 ms) then find
   * it free often enough; without a pause, statements back to back leave them next to no window.
   */
  pauseShare?: number;
  /** As the main connection's (connect.ts): the log the connection may grow before it checkpoints itself. */
  autocheckpointPages: number;
}

/** Statements compiled per connection and kept, as on the main connection (the same few texts recur). */
const MAX_STATEMENTS = 200;

// Runs in the worker (a CommonJS script: eval workers cannot be ES modules). The connection is set up as
// the main one is (connect.ts): WAL, synchronous=NORMAL, foreign keys on, the same wait for the lock.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('cache_size = -' + workerData.cacheKib);
db.pragma('wal_autocheckpoint = ' + workerData.autocheckpointPages);
const statements = new Map();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { db.close(); } catch {}
    parentPort.close();
    return;
  }
  const changes = [];
  try {
    for (const s of m.statements) {
      let statement = statements.get(s.sql);
      if (!statement) {
        statement = db.prepare(s.sql);
        if (statements.size >= workerData.maxStatements) statements.delete(statements.keys().next().value);
        statements.set(s.sql, statement);
      }
      const started = performance.now();
      const changed = statement.run(s.parameters).changes;
      if (workerData.pauseShare > 0) Atomics.wait(sleeper, 0, 0, (performance.now() - started) * workerData.pauseShare);
      changes.push(changed);
      if (s.mustChange !== undefined && changed !== s.mustChange) break;
    }
    parentPort.postMessage({ id: m.id, changes });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: { message: String((err && err.message) || err), code: err && err.code } });
  }
});
`;

type Answer = { id: number; changes: number[] } | { id: number; error: { message: string; code?: string } };

/** Opens a connection to the SQLite file at `path` on a worker thread of its own (see `SqliteWriter`). */
export function openSqliteWriterThread(path: string, options: SqliteWriterThreadOptions): SqliteWriter {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver, pauseShare: 0, ...options, maxStatements: MAX_STATEMENTS },
  });
  const pending = new Map<number, { resolve: (changes: number[]) => void; reject: (e: Error) => void }>();
  let next = 0;
  let dead: Error | null = null;
  const fail = (error: Error) => {
    dead ??= error;
    for (const waiting of pending.values()) waiting.reject(dead);
    pending.clear();
  };
  // An idle writer never keeps the process alive; one with statements out does (see `run`).
  worker.unref();
  worker.on('message', (answer: Answer) => {
    const waiting = pending.get(answer.id);
    if (!waiting) return;
    pending.delete(answer.id);
    if (pending.size === 0) worker.unref();
    if ('changes' in answer) waiting.resolve(answer.changes);
    else waiting.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
  });
  worker.on('error', (err) => fail(err));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      fail(new Error('the SQLite writer thread stopped'));
      resolve();
    }),
  );
  return {
    run(statements) {
      if (dead) return Promise.reject(dead);
      const id = next++;
      return new Promise<number[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, statements });
      });
    },
    async close() {
      worker.postMessage('close');
      // A thread stuck in a statement is ended rather than waited for.
      const deadline = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(deadline);
    },
  };
}

/** The same statements on a Kysely connection as it is (see `SqliteWriter`). */
export function sqliteWriterOn(db: Db): SqliteWriter {
  return {
    async run(statements) {
      const changes: number[] = [];
      for (const s of statements) {
        const result = await db.executeQuery(CompiledQuery.raw(s.sql, [...s.parameters]));
        const changed = Number(result.numAffectedRows ?? 0n);
        changes.push(changed);
        if (s.mustChange !== undefined && changed !== s.mustChange) break;
      }
      return changes;
    },
    async close() {},
  };
}
