import type { ParleyContext } from '../context.js';
import { refreshConversationFacts } from './conversation-facts.store.js';
import { refreshMessageDays } from './message-day-cells.store.js';
import { refreshDayCells } from './volume.store.js';

export interface AnalyticsRefresherOptions {
  /** How often to look for stale figures when none were left. */
  intervalMs?: number;
  /** Days of volume cells, and of message cells, rebuilt before yielding to other work (each is one transaction). */
  batchDays?: number;
  /** HCPs whose message facts are worked out before yielding (a few hundred per transaction). */
  batchHcps?: number;
}

export interface AnalyticsRefresher {
  stop(): Promise<void>;
}

/**
 * Keeps the figures the reports keep as written close to the data in a running Parley: the volume
 * report's day and month cells (volume.store.ts), the facts kept per message (reply waits, places
 * among the HCP's sends: conversation-facts.store.ts) and the whatsapp report's day cells
 * (message-day-cells.store.ts). Works straight on while a backlog lasts (after an import, or at first start on a
 * world that predates them), then every `intervalMs`. The current UTC day's cells are left to reports,
 * which read it live: every webhook marks it again. Reports are exact whether or not it has caught up;
 * what is stale costs them a live read.
 */
export function startAnalyticsRefresher(
  ctx: ParleyContext,
  options: AnalyticsRefresherOptions = {},
): AnalyticsRefresher {
  const intervalMs = options.intervalMs ?? 10_000;
  const batchDays = options.batchDays ?? 5;
  const batchHcps = options.batchHcps ?? 1_000;
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
      const days = await refreshDayCells(ctx.db, batchDays, { before: today });
      const hcps = await refreshConversationFacts(ctx.db, batchHcps);
      const messageDays = await refreshMessageDays(ctx.db, batchDays, { before: today });
      schedule(days === batchDays || hcps === batchHcps || messageDays === batchDays ? 0 : intervalMs);
    } catch (error) {
      if (stopped) return;
      ctx.logger.warn(
        { err: error instanceof Error ? error.message : String(error), retryInMs: intervalMs },
        'analytics refresh failed; retrying',
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
