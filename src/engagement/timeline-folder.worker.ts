import { performance } from 'node:perf_hooks';
import type { ParleyContext } from '../context.js';
import { abandonedBefore } from './import-interactions.store.js';
import { FOLD_ROWS, foldTimelineChunks } from './timeline-chunks.store.js';

export interface TimelineFolderOptions {
  /** How often to look for chunks to fold when none were left. */
  intervalMs?: number;
  /** Rows folded a turn: one statement, which holds SQLite's one writer meanwhile. */
  batchRows?: number;
}

export interface TimelineFolder {
  stop(): Promise<void>;
}

/**
 * Folds published imports' timeline chunks into the index's main part in a running Parley
 * (timeline-chunks.store.ts), one statement a turn and only while no import is being written. While chunks
 * are left it pauses after each statement for as long as the statement took: SQLite hands its lock to no
 * one in particular, and a writer that takes it again at once starved the others (an import beside the
 * server failed with "database is locked" after its 5 s busy timeout, and webhooks waited seconds). Then it
 * looks again every `intervalMs`. Readers find every row whether or not it has caught up; what is left
 * costs each read of an HCP's rows a seek a chunk.
 */
export function startTimelineFolder(ctx: ParleyContext, options: TimelineFolderOptions = {}): TimelineFolder {
  const intervalMs = options.intervalMs ?? 10_000;
  const batchRows = options.batchRows ?? FOLD_ROWS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => (running = tick()), ms);
    // A folder never keeps the process alive.
    timer.unref();
  };
  const tick = async () => {
    try {
      const started = performance.now();
      const moved = await foldTimelineChunks(ctx.db, {
        maxRows: batchRows,
        writingSince: abandonedBefore(ctx.clock.now().toISOString()),
      });
      // A full turn means more may be waiting: go on after a pause as long as the turn (at most half
      // the writer's time), so that others' writes take their turns.
      schedule(moved === batchRows ? Math.max(1, performance.now() - started) : intervalMs);
    } catch (error) {
      if (stopped) return;
      ctx.logger.warn(
        { err: error instanceof Error ? error.message : String(error), retryInMs: intervalMs },
        'timeline fold failed; retrying',
      );
      schedule(intervalMs);
    }
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
