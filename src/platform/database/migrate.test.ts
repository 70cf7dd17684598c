import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, TEST_POSTGRES_URL } from '../../test-support/index.js';
import { dropPostgresSchema, openStore, type Store } from './connect.js';
import { nextIdentityValues } from './dialect-sql.js';
import { isOtherSchemaVanished, migrateTo, migrateToLatest } from './migrate.js';
import { HCP_DELETE_REFUSED } from './migrations/0037-hcps-kept.js';

/**
 * Kysely's migrator reads the catalogue of every PostgreSQL schema before it starts; test suites drop their
 * schemas side by side, so that read can fail on a schema, or a table of one, vanishing under it. Those
 * failures are repeated; a missing table of our own schema is a real error and is not.
 */
describe('a migration run that another schema vanished under', () => {
  it('is repeated when a schema, or a table of another schema, disappeared during the catalogue read', () => {
    expect(isOtherSchemaVanished({ code: '3F000', message: 'schema "t_1" does not exist' }, 't_2')).toBe(
      true,
    );
    expect(
      isOtherSchemaVanished(
        { code: '42P01', message: 'relation "t_6ec4089bf778.service_windows" does not exist' },
        't_2',
      ),
    ).toBe(true);
    // A table whose columns vanished between the catalogue's list of tables and its read of their columns.
    expect(
      isOtherSchemaVanished(
        { code: '42703', message: 'column "created_at" of relation "users" does not exist' },
        't_2',
      ),
    ).toBe(true);
  });

  it('is not repeated for a missing table of its own schema, an unqualified one, or another error', () => {
    expect(
      isOtherSchemaVanished(
        { code: '42P01', message: 'relation "t_2.service_windows" does not exist' },
        't_2',
      ),
    ).toBe(false);
    expect(
      isOtherSchemaVanished({ code: '42P01', message: 'relation "service_windows" does not exist' }, 't_2'),
    ).toBe(false);
    expect(isOtherSchemaVanished({ code: '23505', message: 'duplicate key value' }, 't_2')).toBe(false);
  });
});

/**
 * 0016 gives every HCP a seq and every interaction its HCP's, for the narrow timeline index: rows written
 * before it ran must come out of it with the right values, and what is written after must follow on.
 */
/** An empty, unmigrated store of its own, for migrations run on rows written before them. */
function scratchStore(dialect: (typeof DIALECTS)[number]) {
  const handle: { store: Store; destroy: () => Promise<void> } = {} as never;
  beforeAll(async () => {
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'parley-migrate-'));
      const store = await openStore(`sqlite:${join(dir, 'parley.db')}`, { backgroundCheckpoints: false });
      handle.store = store;
      handle.destroy = async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      };
    } else {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const store = await openStore(TEST_POSTGRES_URL, { schema, maxConnections: 2 });
      handle.store = store;
      handle.destroy = async () => {
        await store.close();
        await dropPostgresSchema(TEST_POSTGRES_URL, schema);
      };
    }
  });
  afterAll(async () => {
    await handle.destroy?.();
  });
  return handle;
}

const insertMarket = (db: Store['db'], at: string, code = 'BR') =>
  sql`insert into markets (code, name, languages_json, time_zone, weekend_days_json, holidays_json,
      legal_regime, data_residency, created_at)
    values (${code}, ${code}, '["pt-BR"]', 'America/Sao_Paulo', '[6,7]', '[]', 'lgpd', 'br', ${at})`.execute(
    db,
  );

/** One HCP, `hcp_a` (seq 1), in the market of `insertMarket`. */
const insertHcpA = (db: Store['db'], at: string) =>
  sql`insert into hcps (id, seq, crm_id, name, market_code, language, time_zone, whatsapp_status,
      marketing_stopped, legal_hold, created_at, updated_at)
    values ('hcp_a', 1, 'CRM-A', 'A', 'BR', 'pt-BR', 'America/Sao_Paulo', 'active', 0, 0, ${at}, ${at})`.execute(
    db,
  );

describe.each(DIALECTS)('migration 0016 on rows written before it, on %s', (dialect) => {
  const scratch = scratchStore(dialect);

  it('numbers existing HCPs, gives their interactions the same seq, and replaces the timeline index', async () => {
    const { db } = scratch.store;
    expect(await migrateTo(db, '0015-message-counter-covering')).toContain('0015-message-counter-covering');
    const at = '2026-01-01T00:00:00.000Z';
    await insertMarket(db, at);
    // Ids in an order other than the order written, so a seq by id order would show.
    const hcpIds = ['hcp_c', 'hcp_a', 'hcp_d', 'hcp_b'];
    for (const id of hcpIds)
      await sql`insert into hcps (id, crm_id, name, market_code, language, time_zone, whatsapp_status,
          marketing_stopped, legal_hold, created_at, updated_at)
        values (${id}, ${`CRM-${id}`}, ${id}, 'BR', 'pt-BR', 'America/Sao_Paulo', 'active', 0, 0, ${at}, ${at})`.execute(
        db,
      );
    for (let i = 0; i < 20; i++) {
      const hcpId = hcpIds[(i * 3) % hcpIds.length]!;
      await sql`insert into interactions (id, hcp_id, channel, direction, kind, occurred_at, topics_json,
          products_json, source, external_id, asset_ids_json, created_at, updated_at)
        values (${`int_${String(i).padStart(2, '0')}`}, ${hcpId}, 'f2f', 'outbound', 'call',
          ${new Date(Date.UTC(2026, 0, 1 + i)).toISOString()}, '[]', '[]', 'before', ${String(i)}, '[]', ${at}, ${at})`.execute(
        db,
      );
    }

    expect(await migrateToLatest(db)).toContain('0016-narrow-timeline');

    const hcps = await db.selectFrom('hcps').select(['id', 'seq']).execute();
    const seqById = new Map(hcps.map((h) => [h.id, h.seq]));
    // In the order the HCPs were written (SQLite: rowid order; PostgreSQL: the table's physical order).
    expect(hcpIds.map((id) => seqById.get(id))).toEqual([1, 2, 3, 4]);
    const interactions = await db.selectFrom('interactions').select(['id', 'hcp_id', 'hcp_seq']).execute();
    expect(interactions).toHaveLength(20);
    for (const i of interactions) expect(i.hcp_seq).toBe(seqById.get(i.hcp_id));

    // After the migration, new HCPs follow on from the existing ones on both stores.
    const [next] = await db.transaction().execute((tx) => nextIdentityValues(tx, 'hcps', 'seq', 1));
    expect(next).toBe(5);

    const indexColumns =
      dialect === 'sqlite'
        ? (
            await sql<{ name: string }>`select name from pragma_index_info('interactions_timeline')`.execute(
              db,
            )
          ).rows
        : (
            await sql<{ name: string }>`select a.attname as name
              from pg_index i join pg_class c on c.oid = i.indexrelid
              join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
              where c.relname = 'interactions_timeline' and c.relnamespace = current_schema()::regnamespace
              order by array_position(i.indkey::int2[], a.attnum)`.execute(db)
          ).rows;
    // 0034 then leads the index with the timeline chunk, 0 for every row written before it.
    expect(indexColumns.map((c) => c.name)).toEqual(['timeline_chunk', 'hcp_seq', 'occurred_at']);
    const chunks = await db.selectFrom('visible_interactions').select('timeline_chunk').distinct().execute();
    expect(chunks).toEqual([{ timeline_chunk: 0 }]);
  });
});

describe.each(DIALECTS)('migrations 0024 to 0033 on rows written before them, on %s', (dialect) => {
  const scratch = scratchStore(dialect);

  it("marks every HCP with messages for the facts kept per message and every day with messages for its cells, copies each decision's reason codes in order, and each row's HCP's market", async () => {
    const { db } = scratch.store;
    await migrateTo(db, '0023-decision-template');
    const at = '2026-01-01T00:00:00.000Z';
    await insertMarket(db, at);
    await insertMarket(db, at, 'MX');
    for (const [seq, id] of ['hcp_a', 'hcp_b', 'hcp_quiet'].entries())
      await sql`insert into hcps (id, crm_id, name, market_code, language, time_zone, whatsapp_status,
          marketing_stopped, legal_hold, created_at, updated_at, seq)
        values (${id}, ${`CRM-${id}`}, ${id}, ${id === 'hcp_b' ? 'MX' : 'BR'}, 'pt-BR', 'America/Sao_Paulo',
          'active', 0, 0, ${at}, ${at}, ${seq + 1})`.execute(db);
    for (const [id, hcp, direction, status] of [
      ['msg_1', 'hcp_a', 'outbound', 'delivered'],
      ['msg_2', 'hcp_a', 'inbound', 'received'],
      ['msg_3', 'hcp_b', 'outbound', 'read'],
      ['msg_4', null, 'inbound', 'received'],
    ])
      await sql`insert into messages (id, hcp_id, direction, phone_number_id, type, asset_ids_json,
          provenance_json, status, status_at, created_at)
        values (${id}, ${hcp}, ${direction}, 'pn', 'text', '[]', '{}', ${status}, ${at}, ${at})`.execute(db);
    const reasons = (codes: string[]) =>
      JSON.stringify(codes.map((code) => ({ code, rule: 'r', message: 'm' })));
    for (const [id, outcome, codes] of [
      ['dec_1', 'deny', ['quiet_hours', 'frequency_cap']],
      ['dec_2', 'allow', []],
      ['dec_3', 'review', ['free_text_review']],
    ] as const)
      await sql`insert into policy_decisions (id, requested_by, hcp_id, kind, request_json, outcome,
          reasons_json, rulebook_version, snapshot_json, decided_at)
        values (${id}, 'usr_x', ${id === 'dec_3' ? 'hcp_b' : 'hcp_a'}, 'send', '{}', ${outcome},
          ${reasons([...codes])}, 1, '{}', ${at})`.execute(db);

    expect(await migrateToLatest(db)).toEqual(
      expect.arrayContaining([
        '0024-reply-facts',
        '0025-decision-reason-codes',
        '0026-sending-facts',
        '0027-market-on-messages',
        '0033-message-day-cells',
      ]),
    );
    const marked = await db
      .selectFrom('stale_conversations')
      .select('hcp_id')
      .distinct()
      .orderBy('hcp_id')
      .execute();
    expect(marked.map((m) => m.hcp_id)).toEqual(['hcp_a', 'hcp_b']);
    // Every day with messages, for the whatsapp report's first cells (0033).
    expect(await db.selectFrom('stale_message_days').select('day').distinct().execute()).toEqual([
      { day: '2026-01-01' },
    ]);
    const decisions = await db
      .selectFrom('policy_decisions')
      .select(['id', 'reason_codes'])
      .orderBy('id')
      .execute();
    expect(decisions).toEqual([
      { id: 'dec_1', reason_codes: 'quiet_hours,frequency_cap' },
      { id: 'dec_2', reason_codes: '' },
      { id: 'dec_3', reason_codes: 'free_text_review' },
    ]);
    const marketOf = async (table: 'messages' | 'policy_decisions') =>
      Object.fromEntries(
        (await db.selectFrom(table).select(['id', 'market_code']).execute()).map((r) => [
          r.id,
          r.market_code,
        ]),
      );
    expect(await marketOf('messages')).toEqual({ msg_1: 'BR', msg_2: 'BR', msg_3: 'MX', msg_4: null });
    expect(await marketOf('policy_decisions')).toEqual({ dec_1: 'BR', dec_2: 'BR', dec_3: 'MX' });
    // From then on the database keeps them: a message moved to another HCP, a market written wrong.
    await db.updateTable('messages').set({ hcp_id: 'hcp_b' }).where('id', '=', 'msg_1').execute();
    await db.updateTable('policy_decisions').set({ market_code: 'MX' }).where('id', '=', 'dec_1').execute();
    expect((await marketOf('messages')).msg_1).toBe('MX');
    expect((await marketOf('policy_decisions')).dec_1).toBe('BR');
  });
});

describe.each(DIALECTS)('an insert into interactions, on %s', (dialect) => {
  const scratch = scratchStore(dialect);

  it('refuses a row without hcp_seq, and marks the day of a row outside any import stale, not of an import’s', async () => {
    const { db } = scratch.store;
    await migrateToLatest(db);
    const at = '2026-01-01T00:00:00.000Z';
    await insertMarket(db, at);
    await insertHcpA(db, at);
    const seq = (await db.selectFrom('hcps').select('seq').executeTakeFirstOrThrow()).seq;
    const insert = (id: string, day: string, hcpSeq: number | null, importId: string | null) =>
      sql`insert into interactions (id, hcp_id, hcp_seq, channel, direction, kind, occurred_at, topics_json,
          products_json, source, external_id, asset_ids_json, import_id, created_at, updated_at)
        values (${id}, 'hcp_a', ${hcpSeq}, 'f2f', 'outbound', 'call', ${`${day}T09:00:00.000Z`}, '[]', '[]',
          'trigger', ${id}, '[]', ${importId}, ${at}, ${at})`.execute(db);
    const marks = async () =>
      (
        await db
          .selectFrom('stale_interaction_days')
          .select(['day', 'import_id'])
          .where('day', 'in', ['2026-02-01', '2026-02-02', '2026-02-03'])
          .orderBy('day')
          .execute()
      ).map((m) => `${m.day} ${m.import_id}`);

    await expect(insert('int_none', '2026-02-01', null, null)).rejects.toThrow(/hcp_seq/);
    await expect(insert('int_none', '2026-02-01', null, 'imp_1')).rejects.toThrow(/hcp_seq/);
    expect(await db.selectFrom('interactions').select('id').execute()).toEqual([]);
    expect(await marks()).toEqual([]);

    await insert('int_logged', '2026-02-02', seq, null);
    await insert('int_imported', '2026-02-03', seq, 'imp_1');
    // An import marks its own days (the import's statements, not the trigger: migration 0035).
    expect(await marks()).toEqual(['2026-02-02 ']);
  });
});

describe.each(DIALECTS)('an HCP, on %s', (dialect) => {
  const scratch = scratchStore(dialect);

  it('is never deleted (the bulk import relies on it): a delete is refused and says what to do instead', async () => {
    const { db } = scratch.store;
    await migrateToLatest(db);
    const at = '2026-01-01T00:00:00.000Z';
    await insertMarket(db, at);
    await insertHcpA(db, at);
    await expect(db.deleteFrom('hcps').where('id', '=', 'hcp_a').execute()).rejects.toThrow(
      HCP_DELETE_REFUSED,
    );
    if (dialect === 'postgres')
      await expect(sql`truncate hcps cascade`.execute(db)).rejects.toThrow(HCP_DELETE_REFUSED);
    // Erasure clears in place: an update is fine.
    await db.updateTable('hcps').set({ name: '', erased_at: at }).where('id', '=', 'hcp_a').execute();
    expect(await db.selectFrom('hcps').select(['id', 'name']).execute()).toEqual([{ id: 'hcp_a', name: '' }]);
  });
});
