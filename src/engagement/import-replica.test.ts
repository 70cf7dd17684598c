import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Db, type Store } from '../platform/database/index.js';
import { startTestParley, type TestParley } from '../test-support/index.js';
import { mayActAsReplica } from './import-interactions.store.js';
import { runImport } from './import.store.js';

/**
 * On PostgreSQL an interactions import writes its rows as a replica would (no per-row foreign-key check)
 * when its role may set `session_replication_role`, and checks them as usual when it may not. Both must
 * give the same import, and the setting must not outlive the INSERT.
 */
describe('an interactions import on postgres, with and without the right to act as a replica', () => {
  const PLAIN_ROLE = 'parley_test_no_replica';
  let p: TestParley;
  /** The same store reached as the plain role: a deployment's own, which may not act as a replica. */
  let plain: Store;
  beforeAll(async () => {
    p = await startTestParley('postgres');
    const { db } = p.context;
    // A role like a deployment's own: logs in, may read and write Parley's tables, is no superuser.
    await sql`do $$ begin create role ${sql.raw(PLAIN_ROLE)} login; exception when duplicate_object then null; end $$`.execute(
      db,
    );
    const schema = sql.id(p.store.schema!);
    const role = sql.id(PLAIN_ROLE);
    await sql`alter role ${role} login`.execute(db);
    await sql`grant usage on schema ${schema} to ${role}`.execute(db);
    await sql`grant all on all tables in schema ${schema} to ${role}`.execute(db);
    await sql`grant all on all sequences in schema ${schema} to ${role}`.execute(db);
    const url = new URL(p.store.url);
    url.username = PLAIN_ROLE;
    plain = await openStore(url.toString(), { schema: p.store.schema!, maxConnections: 2 });
  });
  afterAll(async () => {
    await plain?.close();
    await p?.destroy();
  });

  const importFile = (db: Db, source: string) =>
    runImport(
      { ...p.context, db },
      {
        kind: 'interactions',
        format: 'jsonl',
        input: Readable.from([
          [1, 2, 3]
            .map((i) =>
              JSON.stringify({
                source,
                externalId: `R-${i}`,
                hcpId: p.world.hcps.br2a.id,
                channel: 'f2f',
                kind: 'call',
                direction: 'outbound',
                occurredAt: `2026-02-0${i}T08:00:00.000Z`,
              }),
            )
            .join('\n'),
        ]),
        fileName: 'calls.jsonl',
        actor: null,
        batchSize: 2,
      },
    );
  const stored = (source: string) =>
    p.context.db
      .selectFrom('visible_interactions')
      .select(['external_id', 'hcp_id', 'occurred_at'])
      .where('source', '=', source)
      .orderBy('external_id')
      .execute();
  /** `session_replication_role` on each of a pool's connections: two held at once, so both are read. */
  const rolesOnEveryConnection = async (db: Db) => {
    let release!: () => void;
    const bothHeld = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    const read = () =>
      db.connection().execute(async (one) => {
        const { rows } = await sql<{ role: string; pid: number }>`
          select current_setting('session_replication_role') as role, pg_backend_pid() as pid`.execute(one);
        if (++held === 2) release();
        await bothHeld;
        return rows[0]!;
      });
    const seen = await Promise.all([read(), read()]);
    expect(new Set(seen.map((s) => s.pid)).size).toBe(2);
    return seen.map((s) => s.role);
  };

  it('knows whether the role may: a superuser may, a plain role may not', async () => {
    expect(await mayActAsReplica(p.context.db)).toBe(true);
    expect(await mayActAsReplica(plain.db)).toBe(false);
  });

  it('imports the same either way, and leaves every session as it found it', async () => {
    // The import takes one of the pool's connections for its writes and looks HCPs up on another.
    const superuser = await openStore(p.store.url, { schema: p.store.schema!, maxConnections: 2 });
    try {
      const summary = await importFile(superuser.db, 'replica');
      expect(summary).toMatchObject({ status: 'applied', inserted: 3 });
      expect(await rolesOnEveryConnection(superuser.db)).toEqual(['origin', 'origin']);
    } finally {
      await superuser.close();
    }
    expect(await importFile(plain.db, 'checked')).toMatchObject({ status: 'applied', inserted: 3 });
    const rows = await stored('replica');
    expect(rows).toHaveLength(3);
    expect(await stored('checked')).toEqual(rows);
  });
});
