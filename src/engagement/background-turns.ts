import type { ParleyContext } from '../context.js';

export interface BackgroundTurns {
  /** Stops after the turn in progress, if any. */
  stop(): Promise<void>;
}

/**
 * Runs `turn` in the background of a running Parley, one turn at a time, the first at once: each turn
 * says how long to wait before the next (milliseconds). A turn that fails is logged with `failure` and
 * tried again after `retryMs`. The timer never keeps the process alive.
 */
export function startBackgroundTurns(
  ctx: Pick<ParleyContext, 'logger'>,
  options: { retryMs: number; failure: string },
  turn: () => Promise<number>,
): BackgroundTurns {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => (running = next()), ms);
    timer.unref();
  };
  const next = async () => {
    try {
      schedule(await turn());
    } catch (error) {
      if (stopped) return;
      ctx.logger.warn(
        { err: error instanceof Error ? error.message : String(error), retryInMs: options.retryMs },
        options.failure,
      );
      schedule(options.retryMs);
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
