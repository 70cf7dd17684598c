import { performance } from 'node:perf_hooks';
import type { ParleyContext } from '../context.js';
import { startBackgroundTurns, type BackgroundTurns } from './background-turns.js';
import { abandonedBefore } from './import-interactions.store.js';
import { FOLD_ROWS, foldTimelineChunks } from './timeline-chunks.store.js';

export interface TimelineFolderOptions {
  /** How often to look for chunks to fold when none were left. */
  intervalMs?: number;
  /** Rows folded a turn: one statement, which holds SQLite's one writer meanwhile. */
  batchRows?: number;
}

export type TimelineFolder = BackgroundTurns;

/**
 * Folds published imports' timeline chunks into the index's main part in a running Parley
 * (timeline-chunks.store.ts), one statement of FOLD_ROWS a turn and only while no import is being written.
 * A statement holds SQLite's one writer and, on SQLite, the server's event loop (the driver is synchronous),
 * so turns are short and, while chunks are left, each is followed by a pause as long as it took: folds of
 * 5,000 rows back to back made webhook acknowledgements wait up to 2.4 s (p99 1.3 s) on the 10M world,
 * and an import started beside them failed with "database is locked". With nothing left it looks again
 * every `intervalMs`. Readers find every row whether or not it has caught up; what is left costs each
 * read of an HCP's rows a seek a chunk.
 */
export function startTimelineFolder(ctx: ParleyContext, options: TimelineFolderOptions = {}): TimelineFolder {
  const intervalMs = options.intervalMs ?? 10_000;
  const batchRows = options.batchRows ?? FOLD_ROWS;
  return startBackgroundTurns(
    ctx,
    { retryMs: intervalMs, failure: 'timeline fold failed; retrying' },
    async () => {
      const started = performance.now();
      const moved = await foldTimelineChunks(ctx.db, {
        maxRows: batchRows,
        writingSince: abandonedBefore(ctx.clock.now().toISOString()),
      });
      // A full turn means more may be waiting: go on after a pause as long as the turn (at most half the
      // writer's time), so that others' writes take their turns.
      return moved === batchRows ? Math.max(1, performance.now() - started) : intervalMs;
    },
  );
}
