import type { ParleyContext } from '../context.js';
import { FOLD_ROWS, foldTimelineChunks } from './timeline-chunks.store.js';

export interface TimelineFolderOptions {
  /** How often to look for chunks to fold when none were left. */
  intervalMs?: number;
  /** Rows folded before yielding to other work (FOLD_ROWS a statement). */
  batchRows?: number;
}

export interface TimelineFolder {
  stop(): Promise<void>;
}

/**
 * Folds published imports' timeline chunks into the index's main part in a running Parley
 * (timeline-chunks.store.ts), a short statement at a time and only while no import is being written:
 * works straight on while chunks are left, then looks again every `intervalMs`. Readers find every row
 * whether or not it has caught up; what is left costs each read of an HCP's rows a seek a chunk.
 */
export function startTimelineFolder(ctx: ParleyContext, options: TimelineFolderOptions = {}): TimelineFolder {
  const intervalMs = options.intervalMs ?? 10_000;
  const batchRows = options.batchRows ?? FOLD_ROWS * 4;
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
      const moved = await foldTimelineChunks(ctx.db, batchRows);
      // A full batch means more may be waiting: go on, after other work had its turn.
      schedule(moved === batchRows ? 0 : intervalMs);
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
