import type { ParleyContext } from '../context.js';
import { refreshDayCells } from './volume.store.js';

export interface DayCellsRefresherOptions {
  /** How often to look for stale days when none were left. */
  intervalMs?: number;
  /** Days rebuilt before yielding to other work (each is one transaction). */
  batchDays?: number;
}

export interface DayCellsRefresher {
  stop(): Promise<void>;
}

/**
 * Keeps the volume report's day and month cells close to the interactions in a running Parley: rebuilds
 * stale days a few at a time, straight on while a backlog lasts (after an import, or at first start on a
 * world that predates the cells), then every `intervalMs`. The current UTC day is left to reports, which
 * read it live: every webhook marks it again. Reports are exact whether or not it has caught up; a stale
 * day costs them a read of that day's interactions.
 */
export function startDayCellsRefresher(
  ctx: ParleyContext,
  options: DayCellsRefresherOptions = {},
): DayCellsRefresher {
  const intervalMs = options.intervalMs ?? 10_000;
  const batchDays = options.batchDays ?? 5;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => (running = tick()), ms);
    // A refresher never keeps the process alive.
    timer.unref();
  };
  const tick = async () => {
    try {
      const today = ctx.clock.now().toISOString().slice(0, 10);
      const rebuilt = await refreshDayCells(ctx.db, batchDays, { before: today });
      schedule(rebuilt === batchDays ? 0 : intervalMs);
    } catch (error) {
      if (stopped) return;
      ctx.logger.warn(
        { err: error instanceof Error ? error.message : String(error), retryInMs: intervalMs },
        'analytics day cells refresh failed; retrying',
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
