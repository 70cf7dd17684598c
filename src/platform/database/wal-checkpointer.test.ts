import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './connect.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-wal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes about 2 MB: well under the backstop threshold, so only a checkpoint moves it into the file. */
async function writeSomePages(store: Store) {
  await sql`create table filler (id integer primary key, payload text not null)`.execute(store.db);
  await store.db.transaction().execute(async (tx) => {
    for (let i = 0; i < 500; i++)
      await sql`insert into filler (payload) values (${'x'.repeat(4000)})`.execute(tx);
  });
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('background WAL checkpoints (SQLite)', () => {
  it('copies committed pages into the database file off the request thread', async () => {
    const path = join(dir, 'background.db');
    const store = await openStore(`sqlite:${path}`);
    try {
      const before = statSync(path).size;
      await writeSomePages(store);
      // The worker checkpoints every 200 ms: the file grows by the 2 MB without any commit doing it.
      expect(await until(() => statSync(path).size > before + 1_500_000, 5000)).toBe(true);
      const rows = await sql<{ n: number }>`select count(*) as n from filler`.execute(store.db);
      expect(Number(rows.rows[0]!.n)).toBe(500);
    } finally {
      await store.close();
    }
  });

  it('leaves them in the log when switched off (the commit path checkpoints only past its threshold)', async () => {
    const path = join(dir, 'inline.db');
    const store = await openStore(`sqlite:${path}`, { backgroundCheckpoints: false });
    try {
      const before = statSync(path).size;
      await writeSomePages(store);
      await new Promise((r) => setTimeout(r, 600));
      expect(statSync(path).size).toBeLessThan(before + 1_500_000);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(1_500_000);
    } finally {
      await store.close();
    }
  });

  it('stops with the store, so a closed store leaves no thread behind', async () => {
    const workers = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const idle = workers();
    const store = await openStore(`sqlite:${join(dir, 'closing.db')}`);
    expect(workers()).toBe(idle + 1);
    await store.close();
    expect(workers()).toBe(idle);
  });
});
