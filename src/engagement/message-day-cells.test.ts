import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessagesTable } from '../platform/database/index.js';
import { bareMessageRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { refreshMessageDays, staleMessageDays } from './message-day-cells.store.js';

/**
 * The whatsapp report's day cells (migration 0033): the database marks a day whenever a message of it is
 * written, deleted or changes a column the cells count by; a refresh rebuilds the marked days from the
 * messages. The report's figures from cells are held equal to the row-by-row report in
 * message-analytics.test.ts; here, the marks and the refresh themselves.
 */
describe.each(DIALECTS)('message day cells on %s', (dialect) => {
  let p: TestParley;
  let n = 0;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const day = (d: number) => `2026-01-${String(d).padStart(2, '0')}`;
  const message = (d: number, fields: Partial<MessagesTable> = {}) =>
    bareMessageRow({
      id: `msg_cells_${n++}`,
      hcp_id: p.world.hcps.br1a.id,
      direction: 'outbound',
      phone_number_id: p.context.config.whatsapp.phoneNumberId,
      status: 'sent',
      created_at: `${day(d)}T10:00:00.000Z`,
      ...fields,
    });
  const write = async (...rows: MessagesTable[]) => {
    await p.context.db.insertInto('messages').values(rows).execute();
    return rows.map((r) => r.id);
  };
  /** The cells of a day, as the database holds them. */
  const cellsOf = (d: number) =>
    p.context.db
      .selectFrom('message_day_cells')
      .select(['market_code', 'template_id', 'inbound', 'sent', 'delivered', 'read', 'failed'])
      .where('day', '=', day(d))
      .orderBy('market_code')
      .orderBy('template_id')
      .execute();
  const stale = () => staleMessageDays(p.context.db, day(1), day(31));

  it('builds a day from its messages, by market and template, counting only what reports count', async () => {
    const db = p.context.db;
    await write(
      message(3, { status: 'read' }),
      message(3, { status: 'delivered', template_id: null }),
      message(3, { status: 'failed', hcp_id: p.world.hcps.es1a.id }),
      message(3, { status: 'queued' }),
      message(3, { direction: 'inbound', status: 'received', hcp_id: p.world.hcps.es1a.id }),
      // From an unknown number: no HCP, in no report.
      message(3, { direction: 'inbound', status: 'received', hcp_id: null }),
    );
    expect(await stale()).toEqual(new Set([day(3)]));
    expect(await refreshMessageDays(db)).toBe(1);
    expect(await stale()).toEqual(new Set());
    expect(await cellsOf(3)).toEqual([
      { market_code: 'BR', template_id: null, inbound: 0, sent: 2, delivered: 2, read: 1, failed: 0 },
      { market_code: 'ES', template_id: null, inbound: 1, sent: 1, delivered: 0, read: 0, failed: 1 },
    ]);
  });

  it('marks a day again when a message of it changes status, and not for what cells do not count', async () => {
    const db = p.context.db;
    const [id] = await write(message(5));
    await refreshMessageDays(db);
    await db
      .updateTable('messages')
      .set({ wamid: 'wamid.cells', reply_wait_ms: 1_000 })
      .where('id', '=', id!)
      .execute();
    expect(await stale()).toEqual(new Set());
    await db.updateTable('messages').set({ status: 'delivered' }).where('id', '=', id!).execute();
    expect(await stale()).toEqual(new Set([day(5)]));
    await refreshMessageDays(db);
    expect((await cellsOf(5))[0]).toMatchObject({ sent: 1, delivered: 1 });
    // Moved to another day: both days change.
    await db
      .updateTable('messages')
      .set({ created_at: `${day(6)}T09:00:00.000Z` })
      .where('id', '=', id!)
      .execute();
    expect(await stale()).toEqual(new Set([day(5), day(6)]));
    await refreshMessageDays(db);
    expect(await cellsOf(5)).toEqual([]);
    expect((await cellsOf(6))[0]).toMatchObject({ sent: 1, delivered: 1 });
    await db.deleteFrom('messages').where('id', '=', id!).execute();
    expect(await stale()).toEqual(new Set([day(6)]));
    await refreshMessageDays(db);
    expect(await cellsOf(6)).toEqual([]);
  });

  it('moves counts with an HCP who moves market', async () => {
    const db = p.context.db;
    const hcp = p.world.hcps.br2a.id;
    await write(message(8, { hcp_id: hcp }));
    await refreshMessageDays(db);
    try {
      await db.updateTable('hcps').set({ market_code: 'ES' }).where('id', '=', hcp).execute();
      expect(await stale()).toEqual(new Set([day(8)]));
      await refreshMessageDays(db);
      expect(await cellsOf(8)).toEqual([
        { market_code: 'ES', template_id: null, inbound: 0, sent: 1, delivered: 0, read: 0, failed: 0 },
      ]);
    } finally {
      await db.updateTable('hcps').set({ market_code: 'BR' }).where('id', '=', hcp).execute();
      await refreshMessageDays(db);
    }
  });

  it('leaves the day given as `before` and later days to the next refresh', async () => {
    const db = p.context.db;
    await write(message(10), message(11), message(12));
    expect(await refreshMessageDays(db, 5, { before: day(11) })).toBe(1);
    expect(await stale()).toEqual(new Set([day(11), day(12)]));
    expect(await refreshMessageDays(db, 1)).toBe(1);
    expect(await stale()).toEqual(new Set([day(12)]));
    await refreshMessageDays(db);
  });

  // Deterministic on PostgreSQL, where a writer can commit between a refresh's reads and its deletes
  // (SQLite serialises them on one connection).
  it.runIf(dialect === 'postgres')(
    'leaves a day marked when a write of it commits while a refresh of it is under way',
    async () => {
      const db = p.context.db;
      await write(message(14));
      await db.transaction().execute(async (tx) => {
        // The refresher has read the day's marks (and, in its snapshot, the day's rows)...
        const marks = await tx
          .selectFrom('stale_message_days')
          .select('id')
          .where('day', '=', day(14))
          .execute();
        expect(marks.length).toBeGreaterThan(0);
        // ...a writer commits a status of that day on another connection...
        await db
          .updateTable('messages')
          .set({ status: 'read' })
          .where('created_at', 'like', `${day(14)}%`)
          .execute();
        // ...and the refresher deletes the marks it read.
        await tx
          .deleteFrom('stale_message_days')
          .where(
            'id',
            'in',
            marks.map((m) => m.id),
          )
          .execute();
      });
      expect(await stale()).toEqual(new Set([day(14)]));
      await refreshMessageDays(db);
    },
  );

  it('keeps the cells right when refreshes run beside writes', async () => {
    const db = p.context.db;
    // The writes follow one another (on PostgreSQL each may take its own connection: an update sent
    // beside the insert it changes could run first and change nothing); the refreshes run beside them.
    const writes = async () => {
      await write(message(20), message(21));
      await write(message(21, { status: 'read' }));
      await db
        .updateTable('messages')
        .set({ status: 'failed' })
        .where('created_at', 'like', `${day(20)}%`)
        .execute();
    };
    await Promise.all([refreshMessageDays(db), writes(), refreshMessageDays(db), refreshMessageDays(db)]);
    await refreshMessageDays(db);
    expect(await stale()).toEqual(new Set());
    expect(await cellsOf(20)).toEqual([
      { market_code: 'BR', template_id: null, inbound: 0, sent: 1, delivered: 0, read: 0, failed: 1 },
    ]);
    expect(await cellsOf(21)).toEqual([
      { market_code: 'BR', template_id: null, inbound: 0, sent: 2, delivered: 1, read: 1, failed: 0 },
    ]);
  });
});
