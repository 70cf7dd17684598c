import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { ManualClock } from '../platform/clock/index.js';
import { DIALECTS, queryPlan, startTestParley, type TestParley } from '../test-support/index.js';
import { seededPlanWorld } from '../test-support/plan-world.js';
import {
  deniedAttemptsQuery,
  expiredClicksQuery,
  factsLoadQuery,
  keptRepliesQuery,
  keptTemplateUsesQuery,
  optInRequestsQuery,
  repHourCellsQuery,
} from './message-analytics.store.js';
import { dayRowsQuery } from './volume.store.js';

/**
 * Clicks on expired content must be counted from their own partial index (migration 0031): through
 * interactions_occurred, the content-usage report read every interaction of its period from the table to
 * learn its kind (about 3 s a year on the 10M world), and through the index of all clicks (0018) every
 * click of the period (0.2–0.57 s on PostgreSQL). Read on a seeded world with fresh statistics, as the
 * planner sees a real store.
 */
describe.each(DIALECTS)('the expired-clicks query plan on %s', (dialect) => {
  const world = seededPlanWorld(dialect);

  it.each([
    ['everything (compliance)', { repIds: null, markets: null }],
    ['one market', { repIds: null, markets: ['BR'] }],
  ])('reads the index of expired clicks for %s', async (_name, scope) => {
    const plan = await queryPlan(
      world().context.db,
      expiredClicksQuery(world().context.db, scope, {
        from: '2025-03-03T00:00:00.000Z',
        to: '2026-03-03T00:00:00.000Z',
      }),
    );
    expect(plan).toMatch(/interactions_expired_clicks/);
    if (dialect === 'sqlite') expect(plan).not.toMatch(/interactions_occurred|SCAN interactions/);
    else expect(plan).not.toMatch(/Seq Scan on interactions|interactions_occurred/);
  });
});

/**
 * The `blocked` and `over-messaging` reports count denials from their own partial index (migration 0032):
 * through the index of every attempt, they read all of a year's attempts to keep the denials, about one in
 * eight (0.16–0.42 s a statement on the 10M world, three statements for `blocked`).
 */
describe.each(DIALECTS)('the denials query plan on %s', (dialect) => {
  const world = seededPlanWorld(dialect);

  it.each([
    ['everything (compliance)', { repIds: null, markets: null }, null],
    ['one market', { repIds: null, markets: ['BR'] }, null],
    ['one rep and a brand', { repIds: ['usr_demo_rep1'], markets: null }, ['tpl_none']],
  ])('reads the index of denials for %s', async (_name, scope, brand) => {
    const period = { from: '2025-03-03T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z' };
    const plan = await queryPlan(
      world().context.db,
      deniedAttemptsQuery(world().context.db, scope, period, brand).select((eb) =>
        eb.fn.count('d.hcp_id').distinct().as('n'),
      ),
    );
    expect(plan).toMatch(/policy_decisions_denials/);
    if (dialect === 'sqlite') expect(plan).not.toMatch(/policy_decisions_analytics|SCAN d\b/);
    else expect(plan).not.toMatch(/Seq Scan on policy_decisions|policy_decisions_analytics/);
  });
});

/**
 * The `whatsapp` report reads the answered messages' waits from their own partial index (migration 0033):
 * through messages_analytics it read every sent message of the period to keep the answered ones (a year
 * of the 10M world: 684,687 entries).
 */
describe.each(DIALECTS)('the kept replies query plan on %s', (dialect) => {
  const world = seededPlanWorld(dialect);

  it.each([
    ['everything (compliance)', { repIds: null, markets: null }, null],
    ['one market', { repIds: null, markets: ['BR'] }, null],
    ['one rep', { repIds: ['usr_demo_rep1'], markets: null }, null],
  ])('reads the index of answered messages for %s', async (_name, scope, brand) => {
    const period = { from: '2025-03-03T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z' };
    const plan = await queryPlan(
      world().context.db,
      keptRepliesQuery(world().context.db, scope, period, brand),
    );
    expect(plan).toMatch(/messages_replies/);
    if (dialect === 'sqlite') expect(plan).not.toMatch(/messages_analytics|SCAN m\b/);
    else expect(plan).not.toMatch(/Seq Scan on messages|messages_analytics/);
  });
});

/**
 * The over-messaging load groups, beside the kept facts, the weeks its period cuts and the marked HCPs'
 * messages. Asked for as one filter ("marked, or outside the whole weeks"), both stores read every sent
 * message of the period to find them (SQLite through messages_hcp_status_created from its first HCP, all
 * of them): the cut weeks are two short ranges by time and the marked HCPs are sought one by one.
 */
describe.each(DIALECTS)('the over-messaging load query plan on %s', (dialect) => {
  const world = seededPlanWorld(dialect);

  it('seeks the cut weeks by time and the marked HCPs by HCP, not the period filtered', async () => {
    const period = {
      from: '2025-03-05T00:00:00.000Z', // a Wednesday, and
      to: '2026-03-05T00:00:00.000Z', // a Thursday: both weeks cut
      bucket: 'month' as const,
      weeklyCap: 2,
    };
    const db = world().context.db;
    const plan = await queryPlan(db, factsLoadQuery(db, { repIds: null, markets: null }, period));
    if (dialect === 'sqlite') {
      expect(plan).toMatch(
        /messages_hcp_counter \(hcp_id=\? AND direction=\? AND created_at>\? AND created_at<\?\)/,
      );
      expect(plan).not.toMatch(/\(hcp_id>\?\)|SCAN m USING/);
    } else {
      expect(plan).toMatch(/messages_hcp_counter/);
      expect(plan).not.toMatch(/Seq Scan on messages|Filter: [^\n]*created_at/);
    }
  });
});

/**
 * With planner statistics (`parley seed` gathers them), SQLite read a year of messages through an index
 * that gave the order of the grouping (by rep, by template) and fetched every row from the table, where the
 * period's range of messages_analytics holds every column read: the consistency and content-usage reports
 * took 2.4 and 1.6 s on the 10M world instead of 0.6 and 0.7 s. PostgreSQL plans these by cost, not order.
 */
describe('the message-grouping query plans on sqlite with planner statistics', () => {
  const world = seededPlanWorld('sqlite');
  const year = {
    from: '2025-03-03T00:00:00.000Z',
    to: '2026-03-03T00:00:00.000Z',
    bucket: 'month' as const,
    weeklyCap: 2,
  };
  const everything = { repIds: null, markets: null };

  it.each([
    [
      'messages per rep and hour (consistency)',
      () => repHourCellsQuery(world().context.db, everything, year, null),
    ],
    [
      'messages per template (content-usage)',
      () => keptTemplateUsesQuery(world().context.db, everything, year, null),
    ],
  ])('reads %s from the period in messages_analytics', async (_name, query) => {
    const plan = await queryPlan(world().context.db, query());
    expect(plan).toMatch(
      /COVERING INDEX messages_analytics \(direction=\? AND created_at>\? AND created_at<\?\)/,
    );
    expect(plan).not.toMatch(/messages_rep_|messages_template/);
  });
  // Requests are few of a period's messages: read template by template, with or without statistics
  // (without them SQLite read the whole period once per template through messages_analytics).
  it('reads the opt-in requests (consent) through the template index, with statistics and without', async () => {
    const queries = async () => [
      (await optInRequestsQuery(world().context.db, everything, year, null)).select('m.id'),
      (
        await optInRequestsQuery(world().context.db, { ...everything, repIds: ['usr_demo_rep1'] }, year, null)
      ).select('m.id'),
    ];
    for (const stats of ['with', 'without']) {
      if (stats === 'without')
        for (const statement of [
          'delete from sqlite_stat1',
          'delete from sqlite_stat4',
          'analyze sqlite_schema',
        ])
          await world().context.db.executeQuery(CompiledQuery.raw(statement, []));
      for (const query of await queries()) {
        const plan = await queryPlan(world().context.db, query);
        expect(plan, stats).toMatch(/SEARCH m USING INDEX messages_template \(template_id=\?\)/);
        expect(plan, stats).not.toMatch(/messages_analytics|messages_rep_/);
      }
    }
  });
});

/**
 * PostgreSQL, given the opt-in request templates as a subquery, assumed each has an average template's
 * share of the year's messages and scanned them all (0.5 s on the 10M world); given their ids, it reads
 * its statistics of those values and takes the template index.
 */
describe('the opt-in requests query plan on postgres', () => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley('postgres', {
      world: false,
      clock: new ManualClock('2026-03-03T14:00:00.000Z'),
    });
    await seedDemoWorld(p.context, { seed: 3, hcps: 200, interactions: 12_000, atomic: true });
  });
  afterAll(async () => {
    await p?.destroy();
  });
  it('reads them through the template index', async () => {
    const year = {
      from: '2025-03-03T00:00:00.000Z',
      to: '2026-03-03T00:00:00.000Z',
      bucket: 'month' as const,
      weeklyCap: 2,
    };
    const query = (
      await optInRequestsQuery(p.context.db, { repIds: null, markets: null }, year, null)
    ).select('m.id');
    const plan = await queryPlan(p.context.db, query);
    expect(plan).toMatch(/Index Scan using messages_template on messages m/);
  });
});

/**
 * The refresher reads a whole day of interactions, through the index by time (migration 0035:
 * timeline_chunk, occurred_at, channel): a range of it in chunk 0 and in each chunk an import's rows are
 * still under. Without the chunks named, no range of that index is a day: PostgreSQL reads all of it, or
 * the table.
 */
describe.each(DIALECTS)('the day refresh query plan on %s', (dialect) => {
  const world = seededPlanWorld(dialect);

  it.each([
    ['no chunk listed', []],
    ['chunks listed', [7, 9]],
  ])('reads a range of the index by time per chunk, with %s', async (_name, chunks) => {
    const plan = await queryPlan(world().context.db, dayRowsQuery(world().context.db, '2026-02-10', chunks));
    if (dialect === 'sqlite')
      expect(plan).toMatch(
        /SEARCH interactions USING INDEX interactions_occurred \(timeline_chunk=\? AND occurred_at>\? AND occurred_at<\?\)/,
      );
    else {
      expect(plan).toMatch(
        /Index Scan using interactions_occurred on interactions .*\n\s+Index Cond: \(\(timeline_chunk = /,
      );
      expect(plan).not.toMatch(/Seq Scan on interactions/);
    }
  });
});
