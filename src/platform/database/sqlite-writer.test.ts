import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from './connect.js';
import { sqliteWriterOn, type SqliteWriter } from './sqlite-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-writer-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const insert = (id: number, name: string) => ({
  sql: 'insert into items (id, name) values (?, ?) on conflict (id) do nothing',
  parameters: [id, name],
});

// The same behaviour, whichever connection runs the statements: a thread of its own (a file) or the
// store's own connection (`sqlite::memory:`, which no other connection can open).
describe.each([
  ['a thread of its own', true, 0],
  ['a thread of its own that pauses after each statement', true, 0.5],
  ['the store connection', false, 0],
] as const)('SQLite writes on %s', (_name, threaded, pauseShare) => {
  let store: Store;
  let writer: SqliteWriter;

  beforeEach(async () => {
    store = await openStore(threaded ? `sqlite:${join(dir, `w${files++}.db`)}` : 'sqlite::memory:');
    await sql`create table items (id integer primary key, name text not null)`.execute(store.db);
    await sql`create table guards (id integer primary key, open integer not null)`.execute(store.db);
    await sql`insert into guards (id, open) values (1, 1)`.execute(store.db);
    writer = threaded ? store.openWriterThread!({ cacheKib: 2048, pauseShare }) : sqliteWriterOn(store.db);
  });
  afterEach(async () => {
    await writer.close();
    await store.close();
  });

  const names = async () =>
    (await sql<{ name: string }>`select name from items order by id`.execute(store.db)).rows.map(
      (r) => r.name,
    );

  it('runs statements in order, each committed, and answers the rows each changed', async () => {
    const changes = await writer.run([insert(1, 'a'), insert(2, 'b'), insert(1, 'again')]);
    expect(changes).toEqual([1, 1, 0]);
    // Committed: the store's own connection reads them.
    expect(await names()).toEqual(['a', 'b']);
  });

  it('stops after a guard that changed another number of rows than it must', async () => {
    const guard = (open: number) => ({
      sql: 'update guards set open = open where id = 1 and open = ?',
      parameters: [open],
      mustChange: 1,
    });
    expect(await writer.run([guard(1), insert(1, 'a')])).toEqual([1, 1]);
    expect(await writer.run([guard(0), insert(2, 'b')])).toEqual([0]);
    expect(await names()).toEqual(['a']);
  });

  it('fails with the statement’s error, keeping what committed before it', async () => {
    await expect(
      writer.run([insert(1, 'a'), { sql: 'insert into items (id, name) values (?, null)', parameters: [2] }]),
    ).rejects.toThrow(/NOT NULL/);
    expect(await names()).toEqual(['a']);
    // And goes on with the next run.
    expect(await writer.run([insert(3, 'c')])).toEqual([1]);
  });
});

describe('the SQLite writer thread', () => {
  it('ends its thread when closed, and fails runs after that', async () => {
    const store = await openStore(`sqlite:${join(dir, 'closed.db')}`, { backgroundCheckpoints: false });
    try {
      await sql`create table items (id integer primary key, name text not null)`.execute(store.db);
      const writer = store.openWriterThread!({ cacheKib: 2048 });
      expect(await writer.run([insert(1, 'a')])).toEqual([1]);
      await writer.close();
      // Only the thread's exit answers so: it has ended.
      await expect(writer.run([insert(2, 'b')])).rejects.toThrow(/thread stopped/);
    } finally {
      await store.close();
    }
  });

  it('pauses its quiet share while nobody else writes, and its full share once another connection has committed', async () => {
    const store = await openStore(`sqlite:${join(dir, 'pauses.db')}`, { backgroundCheckpoints: false });
    try {
      await sql`create table items (id integer primary key, name text not null)`.execute(store.db);
      const writer = store.openWriterThread!({ cacheKib: 2048, pauseShare: 1, quietPauseShare: 0 });
      // A statement that takes some milliseconds: 50,000 rows.
      let next = 0;
      const rows = () => ({
        sql: `with recursive n(i) as (select 1 union all select i + 1 from n where i < 50000)
              insert into items (id, name) select i + ?, 'x' from n`,
        parameters: [next++ * 50_000],
      });
      const run = async () => {
        const before = writer.timings();
        await writer.run([rows()]);
        const after = writer.timings();
        return { ran: after.statementMs - before.statementMs, paused: after.pausedMs - before.pausedMs };
      };
      try {
        const alone = await run();
        expect(alone.ran).toBeGreaterThan(1);
        expect(alone.paused).toBeLessThan(0.5);
        // Another connection commits: from then on the thread leaves the lock free as long as it held it.
        await sql`insert into items (id, name) values (0, 'another connection')`.execute(store.db);
        const shared = await run();
        expect(shared.paused).toBeGreaterThan(shared.ran * 0.9);
        const still = await run();
        expect(still.paused).toBeGreaterThan(still.ran * 0.9);
      } finally {
        await writer.close();
      }
    } finally {
      await store.close();
    }
  });

  it('is not offered for a store no other connection can open', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      expect(store.openWriterThread).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('a SQLite writer thread and foreign keys', () => {
  it('checks them as the main connection does, unless told not to', async () => {
    const store = await openStore(`sqlite:${join(dir, `w${files++}.db`)}`);
    try {
      await sql`create table parents (id integer primary key)`.execute(store.db);
      await sql`create table children (id integer primary key, parent_id integer not null references parents (id))`.execute(
        store.db,
      );
      const orphan = (id: number) => ({
        sql: 'insert into children (id, parent_id) values (?, 99)',
        parameters: [id],
      });
      const checking = store.openWriterThread!({ cacheKib: 2048 });
      await expect(checking.run([orphan(1)])).rejects.toThrow(/FOREIGN KEY/);
      await checking.close();
      const trusting = store.openWriterThread!({ cacheKib: 2048, foreignKeys: false });
      expect(await trusting.run([orphan(2)])).toEqual([1]);
      await trusting.close();
    } finally {
      await store.close();
    }
  });
});
