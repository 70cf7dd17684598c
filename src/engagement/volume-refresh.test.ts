import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { createParley, type Parley } from '../parley.js';
import { ManualClock } from '../platform/clock/index.js';
import { parseConfig } from '../platform/config/index.js';
import { openSqliteReaders, type SqliteReaders } from '../platform/database/index.js';
import { createLogger } from '../platform/logging/index.js';
import { openTestStore, type TestStore } from '../test-support/index.js';
import { recordInteraction } from './interactions.store.js';
import { refreshDayCells } from './volume.store.js';

/**
 * On a SQLite file the refresher reads a day's rows on a reader thread, between a claim of the day's marks
 * and the write of its cells (volume.store.ts, `refreshDayOnReaders`): the cells must be those of the one
 * transaction, and a row written while the rows are read must leave the day marked.
 */
describe('day cells rebuilt from rows read on the SQLite readers', () => {
  let store: TestStore;
  let readers: SqliteReaders;
  let parley: Parley;
  beforeAll(async () => {
    store = await openTestStore('sqlite');
    readers = openSqliteReaders(store.url.slice('sqlite:'.length), { size: 1, cacheKib: 4096 });
    parley = await createParley({
      config: parseConfig({ PARLEY_DEMO: '0', PARLEY_LOG_LEVEL: 'silent', PARLEY_SEND_WORKERS: '0' }),
      clock: new ManualClock('2026-03-03T14:00:00.000Z'),
      logger: createLogger({ level: 'silent' }),
      store: { ...store, readers: readers.db },
    });
    await seedDemoWorld(parley.context, { seed: 7, hcps: 60, interactions: 3_000, atomic: true });
  });
  afterAll(async () => {
    await parley?.close();
    await readers?.close();
    await store?.destroy();
  });

  const cells = async () =>
    (
      await parley.context.db
        .selectFrom('interaction_day_cells')
        .select(['day', 'market_code', 'channel', 'rep_id', 'template_id', 'products_json', 'interactions'])
        .orderBy(['day', 'market_code', 'channel', 'rep_id', 'template_id', 'products_json'])
        .execute()
    ).map((c) => JSON.stringify(c));
  const marks = () =>
    parley.context.db.selectFrom('stale_interaction_days').select(['day', 'import_id']).execute();
  /** Every day with an interaction marked stale, as a rebuild of all of them (0019) does. */
  const markEveryDay = () =>
    sql`insert into stale_interaction_days (day, import_id)
        select distinct substr(occurred_at, 1, 10), '' from interactions`.execute(parley.context.db);

  it('gives the cells the one-transaction rebuild gives, and leaves no mark', async () => {
    const { db, readers: onReaders } = parley.context;
    await markEveryDay();
    const days = await refreshDayCells(db, Number.MAX_SAFE_INTEGER, { readers: onReaders });
    expect(days).toBeGreaterThan(30);
    expect(await marks()).toEqual([]);
    const fromReaders = await cells();
    await markEveryDay();
    expect(await refreshDayCells(db)).toBe(days);
    expect(await cells()).toEqual(fromReaders);
  });

  it('leaves the day marked when a row is written while its rows are read, and counts it next time', async () => {
    const { db, readers: onReaders } = parley.context;
    await markEveryDay();
    const hcp = await db.selectFrom('hcps').select('id').executeTakeFirstOrThrow();
    const day = (
      await db.selectFrom('stale_interaction_days').select('day').orderBy('day').executeTakeFirstOrThrow()
    ).day;
    const total = async () =>
      (
        await db
          .selectFrom('interaction_day_cells')
          .select((eb) => eb.fn.sum<number>('interactions').as('n'))
          .where('day', '=', day)
          .executeTakeFirstOrThrow()
      ).n;
    const before = Number(await total());
    await refreshDayCells(db, 1, {
      readers: onReaders,
      afterClaim: async () => {
        await recordInteraction(db, parley.context, {
          hcpId: hcp.id,
          source: 'during-read',
          externalId: 'E-1',
          channel: 'phone',
          kind: 'call',
          direction: 'outbound',
          occurredAt: `${day}T12:00:00.000Z`,
        });
      },
    });
    expect((await marks()).filter((m) => m.day === day)).toEqual([{ day, import_id: '' }]);
    await refreshDayCells(db, 1, { readers: onReaders });
    expect(Number(await total())).toBe(before + 1);
    expect((await marks()).filter((m) => m.day === day)).toEqual([]);
  });

  it('writes nothing when another refresher claimed the day meanwhile: the later read rebuilds it', async () => {
    const { db, readers: onReaders } = parley.context;
    await markEveryDay();
    const day = (
      await db.selectFrom('stale_interaction_days').select('day').orderBy('day').executeTakeFirstOrThrow()
    ).day;
    let other = 0;
    const first = await refreshDayCells(db, 1, {
      readers: onReaders,
      afterClaim: async () => {
        other = await refreshDayCells(db, 1, { readers: onReaders });
      },
    });
    expect({ first, other }).toEqual({ first: 0, other: 1 });
    expect((await marks()).filter((m) => m.day === day)).toEqual([]);
  });
});
