import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { ManualClock } from '../platform/clock/index.js';
import { DIALECTS, queryPlan, startTestParley, type TestParley } from '../test-support/index.js';
import { expiredClicksQuery } from './message-analytics.store.js';

/**
 * Clicks on expired content must be counted from the clicks' own partial index (migration 0018): through
 * interactions_occurred, the content-usage report read every interaction of its period from the table to
 * learn its kind (about 3 s a year on the 10M world, against 0.1 s). Read on a seeded world with fresh
 * statistics, as the planner sees a real store.
 */
describe.each(DIALECTS)('the expired-clicks query plan on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect, { world: false, clock: new ManualClock('2026-03-03T14:00:00.000Z') });
    await seedDemoWorld(p.context, { seed: 3, hcps: 200, interactions: 12_000, atomic: true });
    await p.context.db.executeQuery(CompiledQuery.raw('analyze', []));
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it.each([
    ['everything (compliance)', { repIds: null, markets: null }],
    ['one market', { repIds: null, markets: ['BR'] }],
  ])('reads the clicks index for %s', async (_name, scope) => {
    const plan = await queryPlan(
      p.context.db,
      expiredClicksQuery(p.context.db, scope, {
        from: '2025-03-03T00:00:00.000Z',
        to: '2026-03-03T00:00:00.000Z',
      }),
    );
    expect(plan).toMatch(/interactions_clicks/);
    if (dialect === 'sqlite') expect(plan).not.toMatch(/interactions_occurred|SCAN interactions/);
    else expect(plan).not.toMatch(/Seq Scan on interactions|interactions_occurred/);
  });
});
