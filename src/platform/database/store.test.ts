import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { findHcpByWhatsappNumber } from '../../hcps/index.js';
import { openStore } from './connect.js';
import type { DbOrTx } from './connect.js';
import { inCommaList, readAsOfOneMoment } from './dialect-sql.js';
import { DIALECTS, openTestStore, startTestParley, type TestParley } from '../../test-support/index.js';

describe.each(DIALECTS)('the store on %s', (dialect) => {
  let parley: TestParley;
  beforeAll(async () => {
    parley = await startTestParley(dialect);
  });
  afterAll(async () => {
    await parley?.destroy();
  });

  it('migrates an empty database and holds the test world', async () => {
    const markets = await parley.context.db.selectFrom('markets').select('code').orderBy('code').execute();
    expect(markets.map((m) => m.code)).toEqual(['BR', 'ES', 'IN']);
  });

  it('finds an item of a comma-separated list only as a whole entry', async () => {
    const holds = async (list: string, item: string) => {
      const { rows } = await sql<{ hit: unknown }>`select case when ${inCommaList(
        parley.context.db,
        sql.lit(list),
        item,
      )} then 1 else 0 end as hit`.execute(parley.context.db);
      return Number(rows[0]!.hit) === 1;
    };
    expect(await holds('rep_cap', 'rep_cap')).toBe(true);
    expect(await holds('quiet_hours,rep_cap', 'rep_cap')).toBe(true);
    expect(await holds('rep_cap,quiet_hours', 'rep_cap')).toBe(true);
    expect(await holds('a,rep_cap,b', 'rep_cap')).toBe(true);
    expect(await holds('other_rep_cap', 'rep_cap')).toBe(false);
    expect(await holds('rep_cap_x,quiet_hours', 'rep_cap')).toBe(false);
    expect(await holds('repXcap', 'rep_cap')).toBe(false);
    expect(await holds('', 'rep_cap')).toBe(false);
  });

  it('reads as of one moment, holds no writer off meanwhile, and ends its transaction when the read fails', async () => {
    const db = parley.context.db;
    // Another instance's connection, as a second process or SQLite's import writer thread would write.
    const other = await openTestStore(dialect, { sameAs: parley.store, maxConnections: 1 });
    const count = async (on: DbOrTx) =>
      Number(
        (await sql<{ n: number | string }>`select count(*) as n from moment_rows`.execute(on)).rows[0]!.n,
      );
    try {
      await sql`create table moment_rows (x integer)`.execute(db);
      await sql`insert into moment_rows values (1)`.execute(db);
      const seen = await readAsOfOneMoment(db, async (snapshot) => {
        const first = await count(snapshot);
        // Committed at once, the reader waited for by no one (SQLite: no write lock taken).
        await sql`insert into moment_rows values (2)`.execute(other.db);
        return [first, await count(snapshot)];
      });
      expect(seen).toEqual([1, 1]);
      expect(await count(db)).toBe(2);

      const failing = readAsOfOneMoment(db, async (snapshot) => {
        await count(snapshot);
        throw new Error('the read failed');
      });
      await expect(failing).rejects.toThrow('the read failed');
      // No transaction was left open on the connection: a new one begins, and its write is kept.
      await db.transaction().execute((tx) => sql`insert into moment_rows values (3)`.execute(tx));
      expect(await count(other.db)).toBe(3);
    } finally {
      await other.destroy();
    }
  });

  it('stores phone numbers and emails sealed, never in clear', async () => {
    const row = await parley.context.db
      .selectFrom('hcps')
      .selectAll()
      .where('id', '=', parley.world.hcps.br1a.id)
      .executeTakeFirstOrThrow();
    expect(row.whatsapp_number_enc).not.toContain('5511987654321');
    expect(row.email_enc).not.toContain('ana.souza');
    expect(parley.context.cipher.open(row.whatsapp_number_enc!)).toBe('+5511987654321');
  });

  it('finds an HCP by an inbound wa_id through the blind index', async () => {
    const hcp = await findHcpByWhatsappNumber(parley.context.db, parley.context, '5511987654321');
    expect(hcp?.id).toBe(parley.world.hcps.br1a.id);
    expect(await findHcpByWhatsappNumber(parley.context.db, parley.context, '5511900000000')).toBeUndefined();
  });

  it('writes one chained audit event per HCP created, and the chain verifies', async () => {
    const events = await parley.context.db
      .selectFrom('audit_events')
      .select(['action', 'changes_json'])
      .where('action', '=', 'hcp.created')
      .execute();
    expect(events).toHaveLength(4);
    expect(events.map((e) => e.changes_json).join()).not.toContain('5511987654321');
    const all = await parley.context.db.selectFrom('audit_events').select('seq').execute();
    expect(await parley.context.audit.verify(parley.context.db)).toMatchObject({
      ok: true,
      checked: all.length,
    });
  });
});

describe('SQLite transactions beside another process writing', () => {
  it('take the write lock at their start, so a commit elsewhere cannot undo one that read before it wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-immediate-'));
    const store = await openStore(`sqlite:${join(dir, 'p.db')}`, { backgroundCheckpoints: false });
    // Another process's connection (as `parley import` beside `parley serve`), not waiting for locks.
    const other = new SQLite(join(dir, 'p.db'));
    other.pragma('busy_timeout = 0');
    try {
      await sql`create table t (x integer)`.execute(store.db);
      let othersWrite: unknown;
      await store.db.transaction().execute(async (tx) => {
        await sql`select count(*) from t`.execute(tx);
        try {
          other.prepare('insert into t values (1)').run();
        } catch (error) {
          othersWrite = error;
        }
        // A deferred transaction would fail here with SQLITE_BUSY_SNAPSHOT had the other write committed.
        await sql`insert into t values (2)`.execute(tx);
      });
      expect(othersWrite).toMatchObject({ code: 'SQLITE_BUSY' });
      other.prepare('insert into t values (3)').run();
      const { rows } = await sql<{ x: number }>`select x from t order by x`.execute(store.db);
      expect(rows.map((r) => r.x)).toEqual([2, 3]);
    } finally {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
