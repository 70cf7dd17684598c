import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, InteractionsTable } from '../platform/database/index.js';
import { DIALECTS, startTestParley, type TestParley, type TestWorld } from '../test-support/index.js';
import { scopedInteractions, type Scope } from './analytics-scope.js';
import type { AnalyticsFilters } from './analytics.store.js';
import { dayRuns, decodeSeqs, encodeSeqs, planPeriod, VolumeTally } from './volume-tally.js';
import { foldTimelineChunks, openTimelineChunk } from './timeline-chunks.store.js';
import { refreshDayCells, staleDays, volume } from './volume.store.js';

describe('the volume report’s period plan and tally', () => {
  it('reads whole days from cells, ragged ends and stale days live, merged where adjacent', () => {
    expect(
      planPeriod('2026-01-01T06:00:00.000Z', '2026-01-05T12:00:00.000Z', new Set(['2026-01-02'])),
    ).toEqual({
      days: ['2026-01-03', '2026-01-04'],
      live: [
        { from: '2026-01-01T06:00:00.000Z', to: '2026-01-03T00:00:00.000Z' },
        { from: '2026-01-05T00:00:00.000Z', to: '2026-01-05T12:00:00.000Z' },
      ],
    });
    expect(planPeriod('2026-01-01T00:00:00.000Z', '2026-01-03T00:00:00.000Z', new Set())).toEqual({
      days: ['2026-01-01', '2026-01-02'],
      live: [],
    });
    // Within one day: all of it live.
    expect(planPeriod('2026-01-01T06:00:00.000Z', '2026-01-01T07:00:00.000Z', new Set())).toEqual({
      days: [],
      live: [{ from: '2026-01-01T06:00:00.000Z', to: '2026-01-01T07:00:00.000Z' }],
    });
  });

  it('reads the day cells of runs of consecutive days, not the days between runs', () => {
    expect(dayRuns([])).toEqual([]);
    expect(dayRuns(['2025-12-30', '2025-12-31', '2026-01-01', '2026-03-01', '2026-03-03'])).toEqual([
      { first: '2025-12-30', last: '2026-01-01' },
      { first: '2026-03-01', last: '2026-03-01' },
      { first: '2026-03-03', last: '2026-03-03' },
    ]);
  });

  it('stores a set of HCPs as ascending 32-bit seqs and reads it back', () => {
    const stored = encodeSeqs(new Set([70_000, 3, 2 ** 32 - 1]));
    expect(stored.toString('hex')).toBe('0300000070110100ffffffff');
    // A stored value need not start on a 4-byte boundary of its buffer.
    const unaligned = Buffer.concat([Buffer.from([9]), stored]).subarray(1);
    expect([...decodeSeqs(unaligned)]).toEqual([3, 70_000, 2 ** 32 - 1]);
  });

  it('adds counts and takes reach as the size of the union, per bucket and for the period', () => {
    const tally = new VolumeTally('month');
    tally.addCell('2026-01-01', 'email', 3, [1, 2]);
    tally.addCell('2026-01-02', 'email', 2, [2, 3]);
    tally.addHcp('2026-01-31', 'email', 4, 3);
    tally.addCell('2026-02-01', 'email', 1, [1]);
    tally.addHcp('2026-01-05', 'f2f', 1, 9);
    expect(tally.figures()).toEqual({
      summary: { interactions: 11, hcpsReached: 4 },
      rows: [
        { period: '2026-01', channel: 'email', interactions: 9, hcpsReached: 3 },
        { period: '2026-01', channel: 'f2f', interactions: 1, hcpsReached: 1 },
        { period: '2026-02', channel: 'email', interactions: 1, hcpsReached: 1 },
      ],
    });
  });
});

/**
 * The report as it was before day cells: every interaction of the period, counted and de-duplicated by
 * the database. Its figures were checked by hand (analytics.test.ts); the cells must give the same.
 */
async function volumeFromInteractions(db: Db, scope: Scope, f: AnalyticsFilters) {
  let qb = scopedInteractions(db, scope, f);
  if (f.channel) qb = qb.where('i.channel', '=', f.channel);
  if (f.brand) {
    const products = await db
      .selectFrom('products')
      .select(['id', 'name'])
      .where('brand', '=', f.brand)
      .execute();
    const names = [...new Set([f.brand, ...products.flatMap((p) => [p.id, p.name])])];
    qb = qb.where((eb) =>
      eb.or([
        eb('i.template_id', 'in', eb.selectFrom('templates').select('id').where('brand', '=', f.brand!)),
        ...names.map((n) => sql<boolean>`${sql.ref('i.products_json')} like ${`%${JSON.stringify(n)}%`}`),
      ]),
    );
  }
  const bucket = sql<string>`substr(${sql.ref('i.occurred_at')}, 1, ${sql.lit(f.bucket === 'day' ? 10 : 7)})`;
  const rows = await qb
    .select([
      bucket.as('period'),
      'i.channel',
      (eb) => eb.fn.countAll<number>().as('interactions'),
      (eb) => eb.fn.count<number>('i.hcp_id').distinct().as('reach'),
    ])
    .groupBy([bucket, 'i.channel'])
    .orderBy(bucket)
    .orderBy('i.channel')
    .execute();
  const totals = await qb
    .select([
      (eb) => eb.fn.countAll<number>().as('n'),
      (eb) => eb.fn.count<number>('i.hcp_id').distinct().as('reach'),
    ])
    .executeTakeFirstOrThrow();
  return {
    summary: { interactions: Number(totals.n), hcpsReached: Number(totals.reach) },
    rows: rows.map((r) => ({
      period: r.period,
      channel: r.channel,
      interactions: Number(r.interactions),
      hcpsReached: Number(r.reach),
    })),
  };
}

const at = (day: number, hour: number) => new Date(Date.UTC(2026, 0, 1 + day, hour)).toISOString();
const CHANNELS = ['email', 'f2f', 'whatsapp'] as const;
const PRODUCTS = ['[]', '["prod_cardiva"]', '["Cardiva"]', '["Other"]', '["Cardiva","Other"]'];

const write = fc.record({
  hcp: fc.integer({ min: 0, max: 3 }),
  channel: fc.constantFrom(...CHANNELS),
  rep: fc.integer({ min: 0, max: 3 }),
  products: fc.constantFrom(...PRODUCTS),
  // Mostly the first days of January, some later in it and in February: periods then often hold a
  // whole month (read from month cells) beside partial ones.
  day: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 40 })),
  hour: fc.integer({ min: 0, max: 23 }),
});

type Write = typeof write extends fc.Arbitrary<infer W> ? W : never;

/** What happens to the interactions between two reports, in any order. */
const step = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), rows: fc.array(write, { minLength: 1, maxLength: 6 }) }),
  fc.record({ op: fc.constant('import' as const), rows: fc.array(write, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('publish' as const) }),
  fc.record({ op: fc.constant('fold' as const) }),
  fc.record({ op: fc.constant('move' as const), pick: fc.nat(), day: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ op: fc.constant('status' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('market' as const), hcp: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('refresh' as const), limit: fc.integer({ min: 1, max: 6 }) }),
);

type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

const query = fc.record({
  markets: fc.constantFrom<Scope['markets']>(null, ['BR'], ['ES'], []),
  reps: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  channel: fc.option(fc.constantFrom(...CHANNELS), { nil: undefined }),
  brand: fc.option(fc.constantFrom('Cardiva', 'Other'), { nil: undefined }),
  from: fc.tuple(fc.integer({ min: -2, max: 3 }), fc.constantFrom(0, 0, 7)),
  days: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 25, max: 45 })),
  toHour: fc.constantFrom(0, 0, 13),
  bucket: fc.constantFrom<'day' | 'month'>('day', 'month'),
});

describe.each(DIALECTS)('the volume report from day cells on %s', (dialect) => {
  let p: TestParley;
  let world: TestWorld;
  let run = 0;
  let serial = 0;
  const unpublished: string[] = [];

  beforeAll(async () => {
    p = await startTestParley(dialect);
    world = p.world;
    await p.context.db
      .insertInto('products')
      .values({
        id: 'prod_cardiva',
        market_code: 'BR',
        brand: 'Cardiva',
        name: 'Cardiva 10 mg',
        generic_name: 'cardivastatin',
        approved_indications_json: '[]',
        pi_asset_key: null,
      })
      .execute();
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const hcpsOf = () => [world.hcps.br1a, world.hcps.br1b, world.hcps.br2a, world.hcps.es1a];
  const repsOf = () => [world.users.rep1.id, world.users.rep2.id, world.users.repEs.id, null];

  async function insert(rows: Write[], importId: string | null, chunk = 0) {
    const db = p.context.db;
    const seqs = await db.selectFrom('hcps').select(['id', 'seq']).execute();
    const seqOf = new Map(seqs.map((s) => [s.id, s.seq]));
    const now = new Date().toISOString();
    await db
      .insertInto('interactions')
      .values(
        rows.map((r): InteractionsTable => {
          const hcp = hcpsOf()[r.hcp]!;
          serial++;
          return {
            id: `int_volume_${dialect}_${serial}`,
            hcp_id: hcp.id,
            hcp_seq: seqOf.get(hcp.id)!,
            channel: r.channel,
            direction: 'outbound',
            kind: r.channel === 'email' ? 'email_sent' : r.channel === 'whatsapp' ? 'message' : 'call',
            occurred_at: at(r.day, r.hour),
            rep_id: repsOf()[r.rep]!,
            summary: null,
            topics_json: '[]',
            products_json: r.products,
            source: 'test',
            external_id: `volume-${serial}`,
            template_id: null,
            asset_ids_json: '[]',
            message_id: null,
            status: null,
            created_at: now,
            updated_at: now,
            import_id: importId,
            timeline_chunk: chunk,
          };
        }),
      )
      .execute();
  }

  async function pick(n: number) {
    const ids = await p.context.db
      .selectFrom('interactions')
      .select('id')
      .where('source', '=', 'test')
      .orderBy('id')
      .execute();
    return ids.length ? ids[n % ids.length]!.id : null;
  }

  async function apply(s: Step) {
    const db = p.context.db;
    const now = new Date().toISOString();
    switch (s.op) {
      case 'insert':
        return insert(s.rows, null);
      case 'import': {
        const id = `imp_volume_${dialect}_${++serial}`;
        await db
          .insertInto('import_runs')
          .values({
            id,
            kind: 'interactions',
            file_name: 'calls.jsonl',
            status: 'staging',
            total_rows: s.rows.length,
            invalid_rows: 0,
            inserted_rows: 0,
            updated_rows: 0,
            unchanged_rows: 0,
            started_by: null,
            started_at: now,
            finished_at: null,
          })
          .execute();
        await db
          .insertInto('unpublished_imports')
          .values({ import_id: id, state: 'writing', started_at: now, heartbeat_at: now })
          .execute();
        unpublished.push(id);
        // As `parley import` writes: under a chunk of the index of its own, its days marked with it by
        // the import itself, which the triggers leave it to (migration 0035).
        await insert(s.rows, id, await openTimelineChunk(db, id, now));
        const days = [...new Set(s.rows.map((r) => at(r.day, r.hour).slice(0, 10)))];
        await db
          .insertInto('stale_interaction_days')
          .values(days.map((day) => ({ day, import_id: id })))
          .execute();
        return;
      }
      case 'publish': {
        const id = unpublished.shift();
        if (id) await db.deleteFrom('unpublished_imports').where('import_id', '=', id).execute();
        return;
      }
      case 'fold':
        await foldTimelineChunks(db);
        return;
      case 'move': {
        const id = await pick(s.pick);
        if (id)
          await db
            .updateTable('interactions')
            .set({ occurred_at: at(s.day, 12), updated_at: now })
            .where('id', '=', id)
            .execute();
        return;
      }
      case 'status': {
        const id = await pick(s.pick);
        if (id)
          await db
            .updateTable('interactions')
            .set({ status: 'read', updated_at: now })
            .where('id', '=', id)
            .execute();
        return;
      }
      case 'delete': {
        const id = await pick(s.pick);
        if (id) await db.deleteFrom('interactions').where('id', '=', id).execute();
        return;
      }
      case 'market': {
        const hcp = hcpsOf()[s.hcp]!;
        const row = await db
          .selectFrom('hcps')
          .select('market_code')
          .where('id', '=', hcp.id)
          .executeTakeFirstOrThrow();
        await db
          .updateTable('hcps')
          .set({ market_code: row.market_code === 'BR' ? 'ES' : 'BR' })
          .where('id', '=', hcp.id)
          .execute();
        return;
      }
      case 'refresh':
        await refreshDayCells(db, s.limit);
        return;
    }
  }

  it('gives the figures the interactions give, whatever was written, moved, imported or refreshed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 8 }),
        fc.array(query, { minLength: 1, maxLength: 3 }),
        async (steps, queries) => {
          run++;
          for (const s of steps) await apply(s);
          for (const q of queries) {
            const scope: Scope = {
              markets: q.markets,
              repIds: [null, [world.users.rep1.id], [world.users.rep1.id, world.users.rep2.id]][q.reps]!,
            };
            const filters: AnalyticsFilters = {
              from: at(q.from[0], q.from[1]),
              to: at(q.from[0] + q.days, q.toHour),
              bucket: q.bucket,
              weeklyCap: 2,
              ...(q.channel ? { channel: q.channel } : {}),
              ...(q.brand ? { brand: q.brand } : {}),
            };
            expect(await volume(p.context.db, scope, filters)).toEqual(
              await volumeFromInteractions(p.context.db, scope, filters),
            );
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(run).toBe(60);
  });

  it('reads only cells once every day is refreshed, and a status update leaves the day alone', async () => {
    const db = p.context.db;
    for (const id of unpublished.splice(0))
      await db.deleteFrom('unpublished_imports').where('import_id', '=', id).execute();
    await insert([{ hcp: 0, channel: 'email', rep: 0, products: '[]', day: 2, hour: 9 }], null);
    await refreshDayCells(db);
    expect(await staleDays(db, '2025-12-01', '2026-02-01')).toEqual(new Set());
    const id = (await pick(0))!;
    await db.updateTable('interactions').set({ status: 'delivered' }).where('id', '=', id).execute();
    expect(await staleDays(db, '2025-12-01', '2026-02-01')).toEqual(new Set());
    // With no stale day, a period of whole days is read from the cells alone: a cell no interaction
    // stands behind shows in the figures.
    const filters: AnalyticsFilters = { from: at(0, 0), to: at(5, 0), bucket: 'day', weeklyCap: 2 };
    const scope: Scope = { markets: null, repIds: null };
    const truth = await volumeFromInteractions(db, scope, filters);
    expect(truth.summary.interactions).toBeGreaterThan(0);
    expect(await volume(db, scope, filters)).toEqual(truth);
    await db
      .insertInto('interaction_day_cells')
      .values({
        day: '2026-01-04',
        market_code: 'BR',
        channel: 'event',
        rep_id: null,
        template_id: null,
        products_json: '[]',
        interactions: 5,
        hcp_seqs: encodeSeqs([999_999]),
      })
      .execute();
    const withPlanted = await volume(db, scope, filters);
    await db.deleteFrom('interaction_day_cells').where('channel', '=', 'event').execute();
    expect(withPlanted.summary).toEqual({
      interactions: truth.summary.interactions + 5,
      hcpsReached: truth.summary.hcpsReached + 1,
    });
    expect(withPlanted.rows).toContainEqual({
      period: '2026-01-04',
      channel: 'event',
      interactions: 5,
      hcpsReached: 1,
    });
  });

  it('reads a whole month from its month cells when buckets are months and no brand is asked for', async () => {
    const db = p.context.db;
    await refreshDayCells(db);
    const scope: Scope = { markets: null, repIds: null };
    const january: AnalyticsFilters = { from: at(0, 0), to: at(31, 0), bucket: 'month', weeklyCap: 2 };
    const truth = await volumeFromInteractions(db, scope, january);
    expect(await volume(db, scope, january)).toEqual(truth);
    await db
      .insertInto('interaction_month_cells')
      .values({
        month: '2026-01',
        market_code: 'BR',
        channel: 'event',
        rep_id: null,
        interactions: 7,
        hcp_seqs: encodeSeqs([999_999]),
      })
      .execute();
    try {
      const planted = await volume(db, scope, january);
      expect(planted.summary).toEqual({
        interactions: truth.summary.interactions + 7,
        hcpsReached: truth.summary.hcpsReached + 1,
      });
      // Month cells not rebuilt since a day of theirs was (a refresh stopped between the two): day cells.
      const mark = await db
        .insertInto('stale_interaction_months')
        .values({ month: '2026-01' })
        .returning('id')
        .executeTakeFirstOrThrow();
      expect(await volume(db, scope, january)).toEqual(truth);
      await db.deleteFrom('stale_interaction_months').where('id', '=', mark.id).execute();
      // Day buckets, a brand, or a month not whole in the period: day cells, so the planted cell is unseen.
      expect(await volume(db, scope, { ...january, bucket: 'day' })).toEqual(
        await volumeFromInteractions(db, scope, { ...january, bucket: 'day' }),
      );
      const cardiva = { ...january, brand: 'Cardiva' };
      expect(await volume(db, scope, cardiva)).toEqual(await volumeFromInteractions(db, scope, cardiva));
      const partial = { ...january, to: at(30, 0) };
      expect(await volume(db, scope, partial)).toEqual(await volumeFromInteractions(db, scope, partial));
      // Ragged months at both ends from their day cells, January between them from its month cell alone:
      // its day cells, which lie between the two ragged ends, are not read as well.
      const across = { ...january, from: at(-12, 6), to: at(40, 6) };
      const acrossTruth = await volumeFromInteractions(db, scope, across);
      expect(acrossTruth.summary.interactions).toBeGreaterThan(0);
      expect((await volume(db, scope, across)).summary).toEqual({
        interactions: acrossTruth.summary.interactions + 7,
        hcpsReached: acrossTruth.summary.hcpsReached + 1,
      });
      // A day of the month changed: the month is read from day cells until both are rebuilt.
      await insert([{ hcp: 2, channel: 'f2f', rep: 1, products: '[]', day: 20, hour: 9 }], null);
      expect(await volume(db, scope, january)).toEqual(await volumeFromInteractions(db, scope, january));
    } finally {
      await db.deleteFrom('interaction_month_cells').where('channel', '=', 'event').execute();
    }
    await refreshDayCells(db);
    expect(await db.selectFrom('stale_interaction_months').select('id').execute()).toEqual([]);
    expect(await volume(db, scope, january)).toEqual(await volumeFromInteractions(db, scope, january));
  });

  it('counts an import’s rows from its publication, though its days were refreshed while it was written', async () => {
    const db = p.context.db;
    const filters: AnalyticsFilters = { from: at(0, 0), to: at(5, 0), bucket: 'day', weeklyCap: 2 };
    const scope: Scope = { markets: null, repIds: null };
    await refreshDayCells(db);
    const before = await volume(db, scope, filters);
    await apply({
      op: 'import',
      rows: [{ hcp: 1, channel: 'f2f', rep: 0, products: '[]', day: 3, hour: 8 }],
    });
    expect(await refreshDayCells(db)).toBe(0);
    expect(await volume(db, scope, filters)).toEqual(before);
    await apply({ op: 'publish' });
    const after = await volume(db, scope, filters);
    expect(after.summary.interactions).toBe(before.summary.interactions + 1);
    expect(after).toEqual(await volumeFromInteractions(db, scope, filters));
    await refreshDayCells(db);
    expect(await volume(db, scope, filters)).toEqual(after);
  });

  // Deterministic on PostgreSQL, where a writer can commit between a refresh's reads and its deletes
  // (SQLite serialises them on one connection).
  it.runIf(dialect === 'postgres')(
    'leaves a day marked when a write of it commits while a refresh of it is under way',
    async () => {
      const db = p.context.db;
      const row = [{ hcp: 0, channel: 'f2f' as const, rep: 1, products: '[]', day: 20, hour: 10 }];
      const day = at(20, 0).slice(0, 10);
      const next = at(21, 0).slice(0, 10);
      await insert(row, null);
      await db.transaction().execute(async (tx) => {
        // The refresher has read the day's marks (and, in its snapshot, the day's rows)...
        const marks = await tx
          .selectFrom('stale_interaction_days')
          .select('id')
          .where('day', '=', day)
          .execute();
        expect(marks.length).toBeGreaterThan(0);
        // ...a writer commits another row of that day on another connection...
        await insert(row, null);
        // ...and the refresher deletes the marks it read.
        await tx
          .deleteFrom('stale_interaction_days')
          .where(
            'id',
            'in',
            marks.map((m) => m.id),
          )
          .execute();
      });
      expect(await staleDays(db, day, next)).toEqual(new Set([day]));
      await refreshDayCells(db);
    },
  );

  it('keeps the cells right when refreshes run beside writes', async () => {
    const db = p.context.db;
    const rows = (day: number) => [
      { hcp: day % 4, channel: 'f2f' as const, rep: 1, products: '[]', day, hour: 10 },
    ];
    await Promise.all([
      refreshDayCells(db),
      insert(rows(1), null),
      refreshDayCells(db),
      insert(rows(2), null),
      refreshDayCells(db),
      insert(rows(3), null),
    ]);
    await refreshDayCells(db);
    expect(await staleDays(db, '2025-12-01', '2026-02-01')).toEqual(new Set());
    const filters: AnalyticsFilters = { from: at(-1, 0), to: at(6, 0), bucket: 'month', weeklyCap: 2 };
    const scope: Scope = { markets: null, repIds: null };
    expect(await volume(db, scope, filters)).toEqual(await volumeFromInteractions(db, scope, filters));
  });
});
