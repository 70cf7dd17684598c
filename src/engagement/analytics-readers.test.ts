import { CompiledQuery, type KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { createSession, loadPrincipal, type Principal } from '../identity/index.js';
import { createParley, type Parley } from '../parley.js';
import { ManualClock } from '../platform/clock/index.js';
import { parseConfig } from '../platform/config/index.js';
import { openSqliteReaders, type SqliteReaders } from '../platform/database/index.js';
import { createLogger } from '../platform/logging/index.js';
import { openTestStore, type TestStore } from '../test-support/index.js';
import { ANALYTICS_REPORTS, runAnalyticsReport, type AnalyticsFilters } from './analytics.store.js';

/**
 * On a SQLite file, `parley serve` answers the analytics reports through read-only connections on worker
 * threads (PARLEY_SQLITE_READERS), so that a long report does not hold the event loop. Those connections
 * must give every report exactly what the store's own connection gives, and the route must read there.
 */
describe('analytics reports through the SQLite readers', () => {
  let store: TestStore;
  let readers: SqliteReaders;
  let parley: Parley;
  let compliance: Principal;
  let manager: Principal;
  /** Queries the route sent to the readers. */
  let readerQueries = 0;
  const counting: KyselyPlugin = {
    transformQuery: (args) => {
      readerQueries++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };

  beforeAll(async () => {
    store = await openTestStore('sqlite');
    readers = openSqliteReaders(store.url.slice('sqlite:'.length), { size: 2, cacheKib: 4096 });
    parley = await createParley({
      config: parseConfig({ PARLEY_DEMO: '0', PARLEY_LOG_LEVEL: 'silent', PARLEY_SEND_WORKERS: '0' }),
      clock: new ManualClock('2026-03-03T14:00:00.000Z'),
      logger: createLogger({ level: 'silent' }),
      store: { ...store, readers: readers.db.withPlugin(counting) },
    });
    await seedDemoWorld(parley.context, { seed: 5, hcps: 150, interactions: 6_000, atomic: true });
    await parley.context.db.executeQuery(CompiledQuery.raw('analyze', []));
    const principal = (role: 'compliance' | 'manager') =>
      loadPrincipal(parley.context.db, {
        id: `usr_demo_${role}`,
        email: `${role}@parley.test`,
        name: role,
        role,
        sessionId: 'test',
      });
    compliance = await principal('compliance');
    manager = await principal('manager');
  });
  afterAll(async () => {
    await parley?.close();
    await readers?.close();
    await store?.destroy();
  });

  const year: AnalyticsFilters = {
    from: '2025-03-03T00:00:00.000Z',
    to: '2026-03-03T14:00:00.000Z',
    bucket: 'month',
    weeklyCap: 2,
  };
  const variants: [string, AnalyticsFilters][] = [
    ['a year', year],
    ['90 days by day', { ...year, from: '2025-12-03T00:00:00.000Z', bucket: 'day' }],
    ['one market', { ...year, market: 'BR' }],
    ['one rep', { ...year, rep: 'usr_demo_rep1' }],
    ['one brand', { ...year, brand: 'Glucora' }],
  ];

  it.each(variants)('gives every report the figures of the store’s own connection (%s)', async (_name, f) => {
    for (const who of [compliance, manager])
      for (const report of ANALYTICS_REPORTS) {
        const own = await runAnalyticsReport(parley.context.db, who, report, f);
        const read = await runAnalyticsReport(readers.db, who, report, f);
        expect(read, `${report} for ${who.role}`).toEqual(own);
      }
    // Not an empty world: the reports have something to agree on.
    const whatsapp = await runAnalyticsReport(readers.db, compliance, 'whatsapp', year);
    expect(Number(whatsapp.summary.sent)).toBeGreaterThan(0);
  });

  it('is where the analytics route reads', async () => {
    const { token } = await createSession(
      parley.context.db,
      'usr_demo_compliance',
      new Date('2026-03-03T14:00:00.000Z'),
      1,
    );
    const before = readerQueries;
    const res = await parley.app.inject({
      method: 'GET',
      url: `/api/analytics/overview?from=${year.from}&to=${year.to}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    expect(readerQueries).toBeGreaterThan(before);
    const own = await runAnalyticsReport(parley.context.db, compliance, 'overview', year);
    expect(res.json().summary).toEqual(own.summary);
  });
});
