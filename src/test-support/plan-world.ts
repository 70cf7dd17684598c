import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { ManualClock } from '../platform/clock/index.js';
import type { Dialect } from '../platform/database/index.js';
import { startTestParley, type TestParley } from './parley.js';

// Imported by plan tests directly, not through index.ts: it registers vitest hooks, and benchmarks that
// run outside vitest import the test support too.

/**
 * A demo world of 200 HCPs and 12,000 interactions with fresh planner statistics, as a real store's
 * planner sees it: started before the calling block's tests (then `afterStatistics`, for rows the
 * statistics should not know) and destroyed after them.
 */
export function seededPlanWorld(
  dialect: Dialect,
  afterStatistics?: (p: TestParley) => Promise<void>,
): () => TestParley {
  let p: TestParley | undefined;
  beforeAll(async () => {
    p = await startTestParley(dialect, { world: false, clock: new ManualClock('2026-03-03T14:00:00.000Z') });
    await seedDemoWorld(p.context, { seed: 3, hcps: 200, interactions: 12_000, atomic: true });
    await p.context.db.executeQuery(CompiledQuery.raw('analyze', []));
    await afterStatistics?.(p);
  });
  afterAll(async () => {
    await p?.destroy();
  });
  return () => p!;
}
