import type { ParleyContext } from '../context.js';
import { startBackgroundTurns, type BackgroundTurns } from './background-turns.js';
import { refreshConversationFacts } from './conversation-facts.store.js';
import { refreshMessageDays } from './message-day-cells.store.js';
import { refreshDayCells } from './volume.store.js';

export interface AnalyticsRefresherOptions {
  /** How often to look for stale figures when none were left. */
  intervalMs?: number;
  /** Days of volume cells, and of message cells, rebuilt a turn (each is one transaction). */
  batchDays?: number;
  /** HCPs whose message facts are worked out before yielding (a few hundred per transaction). */
  batchHcps?: number;
}

export type AnalyticsRefresher = BackgroundTurns;

/**
 * Keeps the figures the reports keep as written close to the data in a running Parley: the volume
 * report's day and month cells (volume.store.ts), the facts kept per message (reply waits, places
 * among the HCP's sends: conversation-facts.store.ts) and the whatsapp report's day cells
 * (message-day-cells.store.ts). Works a backlog off (after an import, or at first start on a world that
 * predates them) turn after turn, with pauses between, then looks again every `intervalMs`. The current
 * UTC day's cells are left to reports, which read it live: every webhook marks it again. Reports are exact
 * whether or not it has caught up; what is stale costs them a live read.
 */
export function startAnalyticsRefresher(
  ctx: ParleyContext,
  options: AnalyticsRefresherOptions = {},
): AnalyticsRefresher {
  const intervalMs = options.intervalMs ?? 10_000;
  const batchDays = options.batchDays ?? 1;
  const batchHcps = options.batchHcps ?? 1_000;
  return startBackgroundTurns(
    ctx,
    { retryMs: intervalMs, failure: 'analytics refresh failed; retrying' },
    async () => {
      const started = performance.now();
      const today = ctx.clock.now().toISOString().slice(0, 10);
      // A day's rows are read on the readers (on a SQLite file, off the event loop: volume.store.ts).
      const days = await refreshDayCells(ctx.db, batchDays, { before: today, readers: ctx.readers });
      const hcps = await refreshConversationFacts(ctx.db, batchHcps);
      const messageDays = await refreshMessageDays(ctx.db, batchDays, { before: today });
      // A backlog (after an import: a day's cells are rebuilt from every row of the day, 0.8 s for a day of
      // the 10M world on a slow day) is worked off a day a turn, each turn followed by a pause as long as it
      // took: webhooks and sends get at least half of the process meanwhile. (Five days a turn back to
      // back held acknowledgements 4 s at a time, when the rows were read on the event loop.)
      const backlog = days === batchDays || hcps === batchHcps || messageDays === batchDays;
      return backlog ? Math.max(1, performance.now() - started) : intervalMs;
    },
  );
}
