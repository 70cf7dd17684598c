import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../platform/database/index.js';
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
  beforeAll(async () => {
    p = await startTestParley('postgres');
    const { db } = p.context;
    // A role like a deployment's own: may read and write Parley's tables, is no superuser.
    await sql`do $$ begin create role ${sql.raw(PLAIN_ROLE)}; exception when duplicate_object then null; end $$`.execute(
      db,
    );
    const schema = sql.id(p.store.schema!);
    const role = sql.id(PLAIN_ROLE);
    await sql`grant usage on schema ${schema} to ${role}`.execute(db);
    await sql`grant all on all tables in schema ${schema} to ${role}`.execute(db);
    await sql`grant all on all sequences in schema ${schema} to ${role}`.execute(db);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  /** Runs `body` on one connection of the store, as the plain role or as the store's own (a superuser). */
  const onOneConnection = <T>(asPlainRole: boolean, body: (db: Db) => Promise<T>) =>
    p.context.db.connection().execute(async (pinned) => {
      if (asPlainRole) await sql`set role ${sql.id(PLAIN_ROLE)}`.execute(pinned);
      try {
        return await body(pinned);
      } finally {
        await sql`reset role`.execute(pinned);
      }
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

  it('knows whether the role may: a superuser may, a plain role may not', async () => {
    expect(await onOneConnection(false, (db) => mayActAsReplica(db))).toBe(true);
    expect(await onOneConnection(true, (db) => mayActAsReplica(db))).toBe(false);
  });

  it('imports the same either way, and leaves the session as it found it', async () => {
    const asReplica = await onOneConnection(false, async (db) => {
      const summary = await importFile(db, 'replica');
      const { rows } = await sql<{ role: string }>`
        select current_setting('session_replication_role') as role`.execute(db);
      return { summary, role: rows[0]!.role };
    });
    const checked = await onOneConnection(true, (db) => importFile(db, 'checked'));
    expect(asReplica.summary).toMatchObject({ status: 'applied', inserted: 3 });
    expect(asReplica.role).toBe('origin');
    expect(checked).toMatchObject({ status: 'applied', inserted: 3 });
    const rows = await stored('replica');
    expect(rows).toHaveLength(3);
    expect(await stored('checked')).toEqual(rows);
  });
});
