import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, openTestStore, type TestStore } from '../../test-support/index.js';
import { preparedQuery } from './prepared-query.js';

const marketsNamed = preparedQuery((db, $: { codes: string[]; except?: string }) =>
  db
    .selectFrom('markets')
    .select(['code', 'time_zone'])
    .where('code', 'in', $.codes)
    .$if($.except !== undefined, (q) => q.where('code', '!=', $.except!))
    .orderBy('code'),
);

const rename = preparedQuery((db, $: { code: string; name: string }) =>
  db.updateTable('markets').set({ name: $.name }).where('code', '=', $.code),
);
const nameOf = async (db: TestStore['db'], code: string) =>
  (await db.selectFrom('markets').select('name').where('code', '=', code).executeTakeFirst())?.name;

describe.each(DIALECTS)('preparedQuery on %s', (dialect) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(dialect);
    await store.db
      .insertInto('markets')
      .values(
        ['BR', 'ES', 'IN'].map((code) => ({
          code,
          name: code,
          time_zone: code === 'BR' ? 'America/Sao_Paulo' : code === 'ES' ? 'Europe/Madrid' : 'Asia/Kolkata',
          weekend_days_json: '[6,7]',
          holidays_json: '[]',
          languages_json: '[]',
          legal_regime: 'test',
          data_residency: 'test',
          created_at: '2026-01-01T00:00:00.000Z',
        })),
      )
      .execute();
  });
  afterAll(async () => {
    await store?.destroy();
  });

  it('runs the same compiled query with new values each time', async () => {
    expect(await marketsNamed.all(store.db, { codes: ['BR'] })).toEqual([
      { code: 'BR', time_zone: 'America/Sao_Paulo' },
    ]);
    expect(await marketsNamed.all(store.db, { codes: ['ES'] })).toEqual([
      { code: 'ES', time_zone: 'Europe/Madrid' },
    ]);
    expect(await marketsNamed.first(store.db, { codes: ['XX'] })).toBeUndefined();
  });

  it('compiles another variant for another list length or a missing optional argument', async () => {
    const codes = async (args: { codes: string[]; except?: string }) =>
      (await marketsNamed.all(store.db, args)).map((m) => m.code);
    expect(await codes({ codes: ['BR', 'ES', 'IN'] })).toEqual(['BR', 'ES', 'IN']);
    expect(await codes({ codes: ['BR', 'ES', 'IN'], except: 'ES' })).toEqual(['BR', 'IN']);
    expect(await codes({ codes: ['IN', 'BR'] })).toEqual(['BR', 'IN']);
    expect(await codes({ codes: ['IN', 'BR'], except: 'IN' })).toEqual(['BR']);
    // And the first shape again, after the others: nothing of theirs stuck to it.
    expect(await codes({ codes: ['ES'] })).toEqual(['ES']);
  });

  it('runs inside a transaction, and reports the rows a write changed', async () => {
    await store.db.transaction().execute(async (tx) => {
      expect((await rename.execute(tx, { code: 'BR', name: 'Brasil' })).affected).toBe(1);
      expect((await rename.execute(tx, { code: 'XX', name: 'nowhere' })).affected).toBe(0);
    });
    expect(await nameOf(store.db, 'BR')).toBe('Brasil');
  });

  it("runs on the transaction's own connection: a rolled-back write is gone", async () => {
    await expect(
      store.db.transaction().execute(async (tx) => {
        await rename.execute(tx, { code: 'ES', name: 'never committed' });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await nameOf(store.db, 'ES')).toBe('ES');
  });

  it('builds the query with its values where the Kysely has plugins, so they see and rewrite it', async () => {
    const seen: string[] = [];
    const withPlugin = store.db.withPlugin({
      transformQuery: (args) => {
        seen.push(args.node.kind);
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    expect(await marketsNamed.all(withPlugin, { codes: ['IN'] })).toEqual([
      { code: 'IN', time_zone: 'Asia/Kolkata' },
    ]);
    expect(seen).toEqual(['SelectQueryNode']);
  });

  it('accepts an argument the query never reads (a condition that does not need it)', async () => {
    const all = preparedQuery((db, _: { unused: string }) =>
      db.selectFrom('markets').select('code').orderBy('code'),
    );
    expect((await all.all(store.db, { unused: 'x' })).map((m) => m.code)).toEqual(['BR', 'ES', 'IN']);
  });

  it('refuses an argument that the query does not bind as a value', async () => {
    const misuse = preparedQuery((db, $: { column: 'code' | 'name' }) =>
      db.selectFrom('markets').select($.column === 'code' ? 'code' : 'name'),
    );
    await expect(misuse.all(store.db, { column: 'code' })).rejects.toThrow(
      'argument "column" is not used as a value',
    );
  });
});
