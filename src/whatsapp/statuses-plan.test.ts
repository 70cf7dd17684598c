import { describe, expect, it } from 'vitest';
import { DIALECTS, queryPlan } from '../test-support/index.js';
import { seededPlanWorld } from '../test-support/plan-world.js';
import { messageInteractionsStatusUpdate } from './statuses.store.js';

/**
 * Every status webhook sets the status of its message's interactions. The index by message holds only rows
 * with a message since migration 0035 (an imported call has none): a planner must still see that an
 * equality on the message implies it, or each status would read the 10M-row table. Read on a seeded world
 * with fresh statistics, as the planner sees a real store.
 */
describe.each(DIALECTS)('the status update plan on %s', (dialect) => {
  const world = seededPlanWorld(dialect);

  it("finds a message's interactions through the partial index by message", async () => {
    const message = await world()
      .context.db.selectFrom('interactions')
      .select('message_id')
      .where('message_id', 'is not', null)
      .limit(1)
      .executeTakeFirstOrThrow();
    const plan = await queryPlan(
      world().context.db,
      messageInteractionsStatusUpdate(
        world().context.db,
        message.message_id!,
        'read',
        '2026-03-03T14:00:00.000Z',
      ),
    );
    if (dialect === 'sqlite') {
      expect(plan).toMatch(/SEARCH interactions USING INDEX interactions_message \(message_id=\?\)/);
    } else {
      expect(plan).toMatch(/Index Scan using interactions_message on interactions/);
      expect(plan).not.toMatch(/Seq Scan on interactions/);
    }
  });
});
