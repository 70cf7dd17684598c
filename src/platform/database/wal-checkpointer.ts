import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * SQLite in WAL mode copies the log back into the database file ("checkpoints") from whichever connection
 * commits when the log passes `wal_autocheckpoint` pages, and with `synchronous=NORMAL` that checkpoint
 * fsyncs the file. better-sqlite3 is synchronous, so that commit blocks Parley's event loop for the whole
 * copy and fsync: every few hundred commits one request (a policy check, a webhook acknowledgement) waits
 * tens of milliseconds for work that is not its own, which is where the slowest percentile of every route
 * came from.
 *
 * So checkpoints run on a worker thread with its own connection, every `intervalMs`, in PASSIVE mode (it
 * never waits for, or blocks, the writer). The main connection keeps a much larger `wal_autocheckpoint`
 * as a backstop, so the log stays bounded even if the worker stopped.
 */
export interface WalCheckpointer {
  stop(): Promise<void>;
}

/** Log pages after which the main connection checkpoints by itself (about 64 MB with 4 KB pages). */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;

// Runs in the worker (a CommonJS script: eval workers cannot be ES modules). The driver's path is passed
// in, resolved from this package, so the worker finds it whatever the process's working directory.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
// Stopping closes the connection and the port: with nothing left to run, the thread exits.
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.close(); } catch {}
  parentPort.close();
});
`;

export function startWalCheckpointer(
  path: string,
  options: { intervalMs?: number; onError?: (message: string) => void } = {},
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver, intervalMs: options.intervalMs ?? 200 },
  });
  // A checkpointer must never keep the process alive, nor take it down.
  worker.unref();
  worker.on('error', (err) => options.onError?.(err.message));
  // Settles however the thread ends (stopped, or after an error), so stopping never waits on a dead one.
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: { error?: string }) => {
    if (m.error) options.onError?.(m.error);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      // A thread stuck in a checkpoint is ended rather than waited for.
      const deadline = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(deadline);
    },
  };
}
