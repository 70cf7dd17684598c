import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseHcp, exportHcpData } from '../privacy/index.js';
import type { Db } from '../platform/database/index.js';
import {
  DIALECTS,
  openTestStore,
  racingAfterFirstRead,
  startTestParley,
  type TestParley,
} from '../test-support/index.js';
import { runImport, type ImportSummary } from './import.store.js';
import { recordInteraction } from './interactions.store.js';
import { foldTimelineChunks, listedTimelineChunks } from './timeline-chunks.store.js';
import { startTimelineFolder } from './timeline-folder.worker.js';
import { listTimeline } from './timeline.store.js';

/**
 * An import writes its new rows under timeline chunks of its own (migration 0034), which every reader by
 * HCP searches until the rows are folded into the index's main part. What must hold throughout: every
 * row is found, and the timeline reads the same before, during and after the fold.
 */

const HCPS = ['CRM-BR1A', 'CRM-BR1B', 'CRM-BR2A'];
const line = (source: string, n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    source,
    externalId: `E-${n}`,
    hcpCrmId: HCPS[n % HCPS.length],
    channel: n % 2 ? 'f2f' : 'phone',
    kind: 'call',
    direction: 'outbound',
    // Times interleaved with the API's rows below, and some equal, so that pages cut through ties.
    occurredAt: new Date(Date.UTC(2026, 1, 1 + (n % 9), 9, n % 4)).toISOString(),
    summary: `Visit ${n}`,
    ...extra,
  });

describe.each(DIALECTS)('timeline chunks, on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    // The app's workers stopped (the store stays open): the fold runs only when a test runs it.
    await p.close();
  });
  afterAll(async () => {
    await p?.store.destroy();
  });

  const db = () => p.context.db;
  const importLines = (lines: string[], options: { chunkRows?: number; batchSize?: number } = {}) =>
    runImport(p.context, {
      kind: 'interactions',
      format: 'jsonl',
      input: Readable.from(lines.map((l) => `${l}\n`)),
      fileName: 'calls.jsonl',
      actor: null,
      batchSize: options.batchSize ?? 4,
      timelineChunkRows: options.chunkRows ?? 5,
    });
  /** Every page of an HCP's timeline (`limit` a page), as ids in the order read. */
  const timelineIds = async (hcpId: string, limit: number, channel?: ('f2f' | 'phone')[]) => {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listTimeline(db(), hcpId, { limit, cursor, channel });
      ids.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return ids;
  };
  /** The same from the table itself, ordered as the timeline orders: what every read must match. */
  const expectedIds = async (hcpId: string, channel?: ('f2f' | 'phone')[]) => {
    let qb = db().selectFrom('visible_interactions').select('id').where('hcp_id', '=', hcpId);
    if (channel) qb = qb.where('channel', 'in', channel);
    return (await qb.orderBy('occurred_at', 'desc').orderBy('id', 'desc').execute()).map((r) => r.id);
  };
  const chunksOf = async (source: string) =>
    (
      await db()
        .selectFrom('interactions')
        .select('timeline_chunk')
        .distinct()
        .where('source', '=', source)
        .orderBy('timeline_chunk')
        .execute()
    ).map((r) => Number(r.timeline_chunk));
  const hcpIds = () => Object.values(p.world.hcps).map((h) => h.id);

  it('writes an import under chunks of its own, a new one every few rows, and finds its rows through them', async () => {
    for (let n = 0; n < 6; n++)
      await recordInteraction(db(), p.context, {
        hcpId: p.world.hcps.br1a.id,
        channel: 'email',
        direction: 'outbound',
        kind: 'email_sent',
        occurredAt: new Date(Date.UTC(2026, 1, 1 + n, 9, 1)).toISOString(),
        source: 'api',
        externalId: `A-${n}`,
      });
    const before = await listedTimelineChunks(db());
    const summary: ImportSummary = await importLines(
      Array.from({ length: 23 }, (_, n) => line('chunked', n)),
    );
    expect(summary).toMatchObject({ status: 'applied', inserted: 23 });

    // 23 rows, batches of 4 and chunks of at most 5 rows: never a chunk of more, none empty, all listed.
    const chunks = await chunksOf('chunked');
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    expect(chunks).not.toContain(0);
    const listed = await listedTimelineChunks(db());
    expect(listed.filter((c) => !before.includes(c))).toEqual(chunks);
    const sizes = await db()
      .selectFrom('interactions')
      .select((eb) => ['timeline_chunk', eb.fn.countAll<number>().as('n')])
      .where('source', '=', 'chunked')
      .groupBy('timeline_chunk')
      .execute();
    for (const s of sizes) expect(Number(s.n)).toBeLessThanOrEqual(5);
    // The API's rows stay in the main part.
    expect(await chunksOf('api')).toEqual([0]);

    for (const hcpId of hcpIds()) {
      const expected = await expectedIds(hcpId);
      for (const limit of [1, 3, 50]) expect(await timelineIds(hcpId, limit)).toEqual(expected);
      expect(await timelineIds(hcpId, 2, ['phone'])).toEqual(await expectedIds(hcpId, ['phone']));
    }
  });

  it('folds published chunks into the main part, unlists them, and the timeline reads the same before and after', async () => {
    const before = new Map<string, string[]>();
    for (const hcpId of hcpIds()) before.set(hcpId, await timelineIds(hcpId, 3));
    expect(await listedTimelineChunks(db())).not.toEqual([]);

    // A few rows at a time: the timeline reads the same half-way through.
    const moved = await foldTimelineChunks(db(), { maxRows: 7 });
    expect(moved).toBe(7);
    for (const hcpId of hcpIds()) expect(await timelineIds(hcpId, 3)).toEqual(before.get(hcpId));

    let total = moved;
    for (let n; (n = await foldTimelineChunks(db())) > 0;) total += n;
    expect(total).toBe(23);
    expect(await listedTimelineChunks(db())).toEqual([]);
    expect(await chunksOf('chunked')).toEqual([0]);
    for (const hcpId of hcpIds()) expect(await timelineIds(hcpId, 3)).toEqual(before.get(hcpId));
  });

  it('folds nothing while an import is being written, nor an unpublished import’s chunks', async () => {
    await importLines(Array.from({ length: 6 }, (_, n) => line('published', n)));
    const published = await chunksOf('published');
    // An import being written, as its process lists it (heartbeat just renewed), with a chunk of its own.
    const run = await importLines([line('other', 1)]);
    const since = '2026-03-03T13:45:00.000Z';
    await db()
      .insertInto('unpublished_imports')
      .values({
        import_id: run.importId,
        state: 'writing',
        started_at: '2026-03-03T13:00:00.000Z',
        heartbeat_at: '2026-03-03T13:59:00.000Z',
      })
      .execute();
    expect(await foldTimelineChunks(db(), { writingSince: since })).toBe(0);
    expect(await chunksOf('published')).toEqual(published);

    // Its heartbeat stopped long ago (its process died): published chunks fold, its own do not.
    await db()
      .updateTable('unpublished_imports')
      .set({ heartbeat_at: '2026-03-03T13:00:00.000Z' })
      .where('import_id', '=', run.importId)
      .execute();
    expect(await foldTimelineChunks(db(), { writingSince: since })).toBe(6);
    expect(await chunksOf('published')).toEqual([0]);
    const otherChunks = await chunksOf('other');
    expect(otherChunks).not.toContain(0);
    expect(await listedTimelineChunks(db())).toEqual(otherChunks);

    await db().deleteFrom('unpublished_imports').where('import_id', '=', run.importId).execute();
    expect(await foldTimelineChunks(db())).toBe(1);
    expect(await listedTimelineChunks(db())).toEqual([]);
  });

  it('leaves no chunk listed when an import is rejected and its rows taken out', async () => {
    const summary = await importLines([
      ...Array.from({ length: 9 }, (_, n) => line('rejected', n)),
      line('rejected', 9, { hcpCrmId: 'NOPE' }),
    ]);
    expect(summary.status).toBe('rejected');
    expect(await chunksOf('rejected')).toEqual([]);
    expect(await listedTimelineChunks(db())).toEqual([]);
  });

  it('finds an HCP’s rows in unfolded chunks for the access export and erasure', async () => {
    const hcpId = p.world.hcps.br1b.id;
    await importLines(Array.from({ length: 9 }, (_, n) => line('privacy', n, { hcpCrmId: 'CRM-BR1B' })));
    expect((await listedTimelineChunks(db())).length).toBeGreaterThan(0);
    const compliance = await p.world.principalFor('compliance');
    const exported = await exportHcpData(p.context, compliance, hcpId, {});
    const exportedRows = exported.content.interactions as { source: string }[];
    expect(exportedRows.filter((i) => i.source === 'privacy')).toHaveLength(9);

    await eraseHcp(p.context, compliance, hcpId, 'the HCP asked to be forgotten', {});
    const notes = await db()
      .selectFrom('interactions')
      .select('summary')
      .where('source', '=', 'privacy')
      .execute();
    expect(notes).toHaveLength(9);
    expect(notes.filter((n) => n.summary !== null)).toEqual([]);
  });

  it('reads the chunks and the rows under them as of one moment, while an import publishes between the two', async () => {
    const hcpId = p.world.hcps.br2a.id;
    const compliance = await p.world.principalFor('compliance');
    // A second instance's connection, one only, so that each read's statements run one after another.
    const reader = await openTestStore(dialect, { sameAs: p.store, maxConnections: 1 });
    try {
      // Lines 2, 5, 8 … are CRM-BR2A's (`line`).
      expect(await importLines([line('moment', 2)])).toMatchObject({ status: 'applied', inserted: 1 });
      /**
       * `read` on the second instance, where an import (a change to a stored row and a new row, under a
       * chunk of its own) is written and published as soon as the statement listing the chunks returns.
       */
      const racing = async <T>(read: (db: Db) => Promise<T>, lines: string[]) => {
        const race = racingAfterFirstRead(reader.db, 'timeline_chunks', () => importLines(lines));
        const result = await read(race.db);
        expect(await race.raced()).toMatchObject({ status: 'applied', inserted: 1, updated: 1 });
        return result;
      };

      const page = () => listTimeline(db(), hcpId, { limit: 50 });
      const before = await page();
      const raced = await racing(
        (db) => listTimeline(db, hcpId, { limit: 50 }),
        [line('moment', 2, { summary: 'Changed' }), line('moment', 5)],
      );
      // As of the first read: neither the change nor the new row (a page of the moment after would hold
      // both; without one snapshot it held the change but not the new row, under a chunk it never read).
      expect(raced).toEqual(before);
      const after = await page();
      expect(after.items.filter((i) => i.source === 'moment').map((i) => [i.externalId, i.summary])).toEqual([
        ['E-5', 'Visit 5'],
        ['E-2', 'Changed'],
      ]);

      const exported = async (db: Db) =>
        (await exportHcpData({ ...p.context, db }, compliance, hcpId, {})).content.interactions as unknown[];
      const exportedBefore = await exported(db());
      const exportedRaced = await racing(exported, [
        line('moment', 2, { summary: 'Changed again' }),
        line('moment', 8),
      ]);
      expect(exportedRaced).toEqual(exportedBefore);
      expect((await exported(db())).length).toBe(exportedBefore.length + 1);
    } finally {
      await reader.destroy();
    }
  });

  it('is folded by a running Parley’s background folder', async () => {
    // (CRM-BR1B was erased above: its CRM id is gone.)
    const summary = await importLines(
      Array.from({ length: 8 }, (_, n) => line('background', n, { hcpCrmId: 'CRM-BR1A' })),
    );
    expect(summary).toMatchObject({ status: 'applied', inserted: 8 });
    expect((await chunksOf('background')).length).toBeGreaterThan(1);
    expect(await chunksOf('background')).not.toContain(0);
    const folder = startTimelineFolder(p.context, { intervalMs: 20, batchRows: 3 });
    try {
      for (let i = 0; (await listedTimelineChunks(db())).length > 0; i++) {
        if (i > 500) throw new Error('the folder did not fold every chunk');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await folder.stop();
    }
    expect(await chunksOf('background')).toEqual([0]);
  });
});
