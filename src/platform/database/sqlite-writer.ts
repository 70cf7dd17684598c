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
  /** What the runs so far took: their statements' time and the pauses after them (0 on the store's own). */
  timings(): WriterTimings;
  close(): Promise<void>;
}

export interface WriterTimings {
  statementMs: number;
  pausedMs: number;
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
   * After each statement, the thread waits this share of the statement's time before its next (0: none),
   * while other connections write (one committed in the last OTHERS_ACTIVE_MS). Those waiting for the
   * write lock (`busy_timeout` polls it every few to 100 ms) then find it free often enough; without a
   * pause, statements back to back leave them next to no window.
   */
  pauseShare?: number;
  /**
   * The share while nobody else has written for OTHERS_ACTIVE_MS (default: `pauseShare`): small, so that a
   * run alone goes nearly at full speed, yet not 0, so that the first writer to come still finds a window
   * and, once it has committed, the run pauses for it as `pauseShare` says.
   */
  quietPauseShare?: number;
  /** As the main connection's (connect.ts): the log the connection may grow before it checkpoints itself. */
  autocheckpointPages: number;
  /**
   * Whether the connection checks foreign keys (default: yes, as the main one does). Only for writes whose
   * every reference was read from the same store just before, to rows Parley never deletes: the check
   * would look each one up again.
   */
  foreignKeys?: boolean;
}

/** Statements compiled per connection and kept, as on the main connection (the same few texts recur). */
const MAX_STATEMENTS = 200;
/** How long after another connection's last commit the thread still pauses for others (`pauseShare`). */
const OTHERS_ACTIVE_MS = 5_000;

// Runs in the worker (a CommonJS script: eval workers cannot be ES modules). The connection is set up as
// the main one is (connect.ts): WAL, synchronous=NORMAL, foreign keys on (unless told), the same wait for
// the lock.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ' + (workerData.foreignKeys ? 'ON' : 'OFF'));
db.pragma('cache_size = -' + workerData.cacheKib);
db.pragma('wal_autocheckpoint = ' + workerData.autocheckpointPages);
const statements = new Map();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
// data_version changes when another connection commits to the file (never for this one's own commits).
const dataVersion = db.prepare('pragma data_version').pluck();
let version = dataVersion.get();
let othersWroteAt = -Infinity;
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { db.close(); } catch {}
    parentPort.close();
    return;
  }
  const changes = [];
  let statementMs = 0;
  let pausedMs = 0;
  try {
    for (const s of m.statements) {
      let statement = statements.get(s.sql);
      if (!statement) {
        statement = db.prepare(s.sql);
        if (statements.size >= workerData.maxStatements) statements.delete(statements.keys().next().value);
        statements.set(s.sql, statement);
      }
      const started = performance.now();
      const latest = dataVersion.get();
      if (latest !== version) {
        version = latest;
        othersWroteAt = started;
      }
      const changed = statement.run(s.parameters).changes;
      const ran = performance.now() - started;
      const share = started - othersWroteAt < workerData.othersActiveMs ? workerData.pauseShare : workerData.quietPauseShare;
      if (share > 0) Atomics.wait(sleeper, 0, 0, ran * share);
      statementMs += ran;
      pausedMs += performance.now() - started - ran;
      changes.push(changed);
      if (s.mustChange !== undefined && changed !== s.mustChange) break;
    }
    parentPort.postMessage({ id: m.id, changes, statementMs, pausedMs });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: { message: String((err && err.message) || err), code: err && err.code } });
  }
});
`;

type Answer =
  | { id: number; changes: number[]; statementMs: number; pausedMs: number }
  | { id: number; error: { message: string; code?: string } };

/** Opens a connection to the SQLite file at `path` on a worker thread of its own (see `SqliteWriter`). */
export function openSqliteWriterThread(path: string, options: SqliteWriterThreadOptions): SqliteWriter {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path,
      driver,
      cacheKib: options.cacheKib,
      autocheckpointPages: options.autocheckpointPages,
      foreignKeys: options.foreignKeys ?? true,
      pauseShare: options.pauseShare ?? 0,
      quietPauseShare: options.quietPauseShare ?? options.pauseShare ?? 0,
      othersActiveMs: OTHERS_ACTIVE_MS,
      maxStatements: MAX_STATEMENTS,
    },
  });
  const timings: WriterTimings = { statementMs: 0, pausedMs: 0 };
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
    if ('changes' in answer) {
      timings.statementMs += answer.statementMs;
      timings.pausedMs += answer.pausedMs;
      waiting.resolve(answer.changes);
    } else waiting.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
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
    timings: () => ({ ...timings }),
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
  let statementMs = 0;
  return {
    async run(statements) {
      const changes: number[] = [];
      for (const s of statements) {
        const started = performance.now();
        const result = await db.executeQuery(CompiledQuery.raw(s.sql, [...s.parameters]));
        statementMs += performance.now() - started;
        const changed = Number(result.numAffectedRows ?? 0n);
        changes.push(changed);
        if (s.mustChange !== undefined && changed !== s.mustChange) break;
      }
      return changes;
    },
    timings: () => ({ statementMs, pausedMs: 0 }),
    async close() {},
  };
}
