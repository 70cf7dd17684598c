import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './connect.js';
import { openSqliteReaders } from './sqlite-readers.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A statement that keeps SQLite busy for a while (about a few hundred ms) and returns one row. */
const busyCount = (n: number) =>
  sql<{ n: number }>`with recursive c(i) as (select 1 union all select i + 1 from c where i < ${n})
                     select count(*) as n from c`;

describe('SQLite readers: read-only connections on worker threads', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(`sqlite:${join(dir, 'readers.db')}`, { readers: 2 });
    await sql`create table notes (id integer primary key, body text not null)`.execute(store.db);
    await sql`insert into notes (body) values ('first'), ('second')`.execute(store.db);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('are their own connections, not the store’s', () => {
    expect(store.readers).not.toBe(store.db);
  });

  it('read what the store committed, with bound parameters', async () => {
    const rows = await sql<{ body: string }>`select body from notes where id >= ${1} order by id`.execute(
      store.readers,
    );
    expect(rows.rows.map((r) => r.body)).toEqual(['first', 'second']);
    await sql`insert into notes (body) values (${'third'})`.execute(store.db);
    const after = await store.readers
      .selectFrom('notes' as never)
      .select(sql`count(*)`.as('n'))
      .execute();
    expect(Number((after[0] as { n: number }).n)).toBe(3);
  });

  it('leave the event loop free while they read (the store’s own connection holds it)', async () => {
    const ticksDuring = async (read: () => Promise<unknown>) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        await read();
      } finally {
        clearInterval(timer);
      }
      return ticks;
    };
    // The same statement, long enough for many 1 ms timers: none fires while the main connection reads.
    expect(await ticksDuring(() => busyCount(2_000_000).execute(store.db))).toBe(0);
    expect(await ticksDuring(() => busyCount(2_000_000).execute(store.readers))).toBeGreaterThan(5);
  });

  it('hand blobs over whole: several a row, empty, large, or none', async () => {
    await sql`create table cells (id integer primary key, a blob, b blob)`.execute(store.db);
    const large = Buffer.alloc(1 << 20, 7);
    await sql`insert into cells (a, b) values (${Buffer.from([1, 2, 3])}, ${large}), (${Buffer.alloc(0)}, null)`.execute(
      store.db,
    );
    const read = `select a, b from cells order by id`;
    const own = await sql.raw<{ a: Uint8Array; b: Uint8Array | null }>(read).execute(store.db);
    const theirs = await sql.raw<{ a: Uint8Array; b: Uint8Array | null }>(read).execute(store.readers);
    const bytes = (v: Uint8Array | null) => (v === null ? null : Buffer.from(v).toString('hex'));
    expect(theirs.rows.map((r) => [bytes(r.a), bytes(r.b)])).toEqual(
      own.rows.map((r) => [bytes(r.a), bytes(r.b)]),
    );
    expect(theirs.rows[0]!.b!.byteLength).toBe(1 << 20);
  });

  it('answer queries beyond their number, each with its own rows', async () => {
    const answers = await Promise.all(
      Array.from({ length: 7 }, (_, i) => sql<{ n: number }>`select ${i} * 10 as n`.execute(store.readers)),
    );
    expect(answers.map((a) => Number(a.rows[0]!.n))).toEqual([0, 10, 20, 30, 40, 50, 60]);
  });

  it('refuse writes and transactions, and nothing is written', async () => {
    await expect(sql`insert into notes (body) values ('sneaky')`.execute(store.readers)).rejects.toThrow(
      /only statements that return rows/,
    );
    await expect(sql`delete from notes returning id`.execute(store.readers)).rejects.toThrow(/readonly/i);
    await expect(store.readers.transaction().execute(async () => undefined)).rejects.toThrow(
      /no transactions/,
    );
    const left = await sql<{ body: string }>`select body from notes order by id`.execute(store.db);
    expect(left.rows.map((r) => r.body)).toEqual(['first', 'second', 'third']);
  });

  it('report SQLite’s error for a bad statement and keep answering', async () => {
    await expect(sql`select * from no_such_table`.execute(store.readers)).rejects.toThrow(
      /no such table: no_such_table/,
    );
    const ok = await sql<{ n: number }>`select 1 as n`.execute(store.readers);
    expect(ok.rows).toEqual([{ n: 1 }]);
  });
});

describe('SQLite readers after a thread dies, and without readers', () => {
  it('replace a thread that died, and the queries after it are answered', async () => {
    const path = join(dir, 'crash.db');
    const store = await openStore(`sqlite:${path}`);
    const readers = openSqliteReaders(path, { size: 1, cacheKib: 1024 });
    try {
      expect((await sql<{ n: number }>`select 2 as n`.execute(readers.db)).rows).toEqual([{ n: 2 }]);
      await readers.crashOne();
      const again = await Promise.all(
        [1, 2, 3].map((n) => sql<{ n: number }>`select ${n} as n`.execute(readers.db)),
      );
      expect(again.map((a) => a.rows[0]!.n)).toEqual([1, 2, 3]);
    } finally {
      await readers.close();
      await store.close();
    }
  });

  it('are the store itself when none are asked for', async () => {
    const store = await openStore(`sqlite:${join(dir, 'none.db')}`);
    try {
      expect(store.readers).toBe(store.db);
    } finally {
      await store.close();
    }
  });

  it('close with the store: queries after it are refused', async () => {
    const store = await openStore(`sqlite:${join(dir, 'closing.db')}`, { readers: 2 });
    const readers = store.readers;
    await store.close();
    await expect(sql`select 1`.execute(readers)).rejects.toThrow();
  });
});
