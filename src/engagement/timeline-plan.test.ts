import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { encodeCursor } from '../platform/database/index.js';
import { ManualClock } from '../platform/clock/index.js';
import { DIALECTS, queryPlan, startTestParley, type TestParley } from '../test-support/index.js';
import { foldStepQuery, unlistEmptyChunksQuery } from './timeline-chunks.store.js';
import { timelineQuery, type TimelineQuery } from './timeline.store.js';

/**
 * A timeline page must stay an index range read backwards and stopped by the limit: on the large world a
 * plan that reads or sorts every interaction of the HCP (or of the table) is what turns 2 ms into 200. The
 * plans are read on a seeded world with fresh statistics, as the planner sees a real store.
 */
describe.each(DIALECTS)('the timeline query plan on %s', (dialect) => {
  let p: TestParley;
  let hcpId: string;
  beforeAll(async () => {
    p = await startTestParley(dialect, { world: false, clock: new ManualClock('2026-03-03T14:00:00.000Z') });
    await seedDemoWorld(p.context, { seed: 3, hcps: 200, interactions: 12_000, atomic: true });
    const busiest = await p.context.db
      .selectFrom('interactions')
      .select('hcp_id')
      .groupBy('hcp_id')
      .orderBy((eb) => eb.fn.countAll(), 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    hcpId = busiest.hcp_id;
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const planOf = (query: TimelineQuery, chunks: number[] = []) =>
    queryPlan(p.context.db, timelineQuery(p.context.db, hcpId, query, chunks));

  it.each<[string, TimelineQuery]>([
    ['the first page', { limit: 20 }],
    ['a later page (cursor)', { limit: 20, cursor: encodeCursor(['2025-12-01T10:00:00.000Z', 'int_zzz']) }],
    ['a page of one channel', { limit: 20, channel: ['f2f', 'phone'] }],
  ])('reads %s backwards along the (timeline_chunk, hcp_seq, occurred_at) index', async (_name, query) => {
    const plan = await planOf(query);
    if (dialect === 'sqlite') {
      expect(plan).toMatch(
        /SEARCH interactions USING INDEX interactions_timeline \(timeline_chunk=\? AND hcp_seq=\?/,
      );
      // Ties of one moment are put in id order; the whole result is never sorted.
      expect(plan).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
      expect(plan).not.toMatch(/SCAN interactions/);
    } else {
      expect(plan.split('\n')[0]).toMatch(/^Limit/);
      expect(plan).toMatch(/Index Scan Backward using interactions_timeline on interactions/);
      expect(plan).not.toMatch(/Seq Scan on interactions|Bitmap Heap Scan on interactions|\n\s*->\s+Sort/);
    }
  });
  // While imports' chunks wait to be folded, a page seeks the HCP's range in each chunk and sorts the
  // HCP's rows (a few hundred at most): never a read of the table or of a whole chunk.
  it.each<[string, TimelineQuery]>([
    ['the first page', { limit: 20 }],
    ['a later page (cursor)', { limit: 20, cursor: encodeCursor(['2025-12-01T10:00:00.000Z', 'int_zzz']) }],
  ])('reads %s by index seeks in each listed chunk', async (_name, query) => {
    const plan = await planOf(query, [3, 8]);
    if (dialect === 'sqlite') {
      expect(plan).toMatch(
        /SEARCH interactions USING INDEX interactions_timeline \(timeline_chunk=\? AND hcp_seq=\?/,
      );
      expect(plan).not.toMatch(/SCAN interactions/);
    } else {
      expect(plan.split('\n')[0]).toMatch(/^Limit/);
      expect(plan).toMatch(
        /Index Scan using interactions_timeline on interactions|Bitmap Index Scan on interactions_timeline/,
      );
      expect(plan).not.toMatch(/Seq Scan on interactions/);
    }
  });

  // The fold's statements look into one chunk, through either index that leads with it. The statistics
  // of this world (analysed with every row in chunk 0, as a seeded one is) say a chunk holds the whole
  // table: a plan may not take that at its word.
  it('folds a chunk, and checks it is empty, by seeks into the chunk, never a read of the table', async () => {
    for (const query of [
      foldStepQuery(p.context.db, 8, 1000),
      unlistEmptyChunksQuery(p.context.db, { chunk: 8 }),
      // An import's chunks, at its publish or after it was taken out: each looked into in turn.
      unlistEmptyChunksQuery(p.context.db, { importId: 'imp_0' }),
    ]) {
      const plan = await queryPlan(p.context.db, query);
      if (dialect === 'sqlite') {
        expect(plan).toMatch(
          /SEARCH (interactions|i) USING (COVERING )?INDEX interactions_(timeline|occurred) \(timeline_chunk=\?\)/,
        );
        expect(plan).not.toMatch(/SCAN (interactions|i)\b/);
      } else {
        expect(plan).toMatch(
          /Index (Only )?Scan using interactions_(timeline|occurred) .*\n\s+Index Cond: \(timeline_chunk = (8|c\.chunk)\)/,
        );
        expect(plan).not.toMatch(/Seq Scan on interactions/);
      }
    }
  });
});
