import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import {
  exportRecords,
  readInteractionFeed,
  type FeedPosition,
  type InteractionExportRecord,
} from './export.store.js';
import { ABANDONED_AFTER_MS } from './import-interactions.store.js';
import { recordInteraction } from './interactions.store.js';
import { runImport, type ImportSummary } from './import.store.js';
import { listTimeline } from './timeline.store.js';
import type { AnalyticsFilters } from './analytics.store.js';
import { refreshDayCells, volume } from './volume.store.js';

/**
 * An interactions import writes its new rows as it reads the file, in short transactions, and publishes
 * them in one step at the end (import-interactions.store.ts). These tests stop an import half-way through
 * its file, when some of its rows are written, and look at it from every side: readers, the CRM feed,
 * a rejection, an abandoned import, and the API writing the same row.
 */

const line = (source: string, n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    source,
    externalId: `E-${n}`,
    hcpCrmId: 'CRM-BR1A',
    channel: 'f2f',
    kind: 'call',
    direction: 'outbound',
    occurredAt: new Date(Date.UTC(2026, 1, 1, 9, n)).toISOString(),
    summary: `Visit ${n}`,
    ...extra,
  });

interface PausedImport {
  /** Lets the rest of the file through. */
  release(): void;
  done: Promise<ImportSummary>;
}

describe.each(DIALECTS)('an interactions import being written, on %s', (dialect) => {
  let p: TestParley;
  let hcpId: string;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    hcpId = (
      await p.context.db
        .selectFrom('hcps')
        .select('id')
        .where('crm_id', '=', 'CRM-BR1A')
        .executeTakeFirstOrThrow()
    ).id;
  });
  afterAll(async () => {
    await p?.destroy();
  });

  /** Starts an import of `first`, then `rest` once released; resolves once `written` rows are stored. */
  async function pausedImport(
    first: string[],
    rest: Iterable<string>,
    written: number,
  ): Promise<PausedImport> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const input = Readable.from(
      (async function* () {
        for (const l of first) yield `${l}\n`;
        await released;
        for (const l of rest) yield `${l}\n`;
      })(),
    );
    const done = runImport(p.context, {
      kind: 'interactions',
      format: 'jsonl',
      input,
      fileName: 'paused.jsonl',
      actor: null,
      batchSize: 2,
    });
    done.catch(() => {});
    const source = (JSON.parse(first[0]!) as { source: string }).source;
    for (let i = 0; (await storedCount(source)) < written; i++) {
      if (i > 500) throw new Error(`the import did not write ${written} rows`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { release, done };
  }
  /** Rows in the table itself, whoever may see them. */
  const storedCount = async (source: string) =>
    (await p.context.db.selectFrom('interactions').select('id').where('source', '=', source).execute())
      .length;
  const visibleCount = async (source: string) =>
    (
      await p.context.db
        .selectFrom('visible_interactions')
        .select('id')
        .where('source', '=', source)
        .execute()
    ).length;
  const timelineSources = async () =>
    (await listTimeline(p.context.db, hcpId, { limit: 500 })).items.map((i) => i.source);
  const exportedSources = async () => {
    const sources: string[] = [];
    for await (const r of exportRecords(p.context.db, 'interactions'))
      sources.push((r as InteractionExportRecord).source);
    return sources;
  };
  const unpublished = () => p.context.db.selectFrom('unpublished_imports').selectAll().execute();

  it('writes rows as it reads, shows none of them to any reader, and all of them once published', async () => {
    const first = [1, 2, 3, 4].map((n) => line('hidden', n));
    const paused = await pausedImport(first, [line('hidden', 5), line('hidden', 6)], 4);
    expect(await storedCount('hidden')).toBe(4);
    expect(await visibleCount('hidden')).toBe(0);
    expect(await timelineSources()).not.toContain('hidden');
    expect(await exportedSources()).not.toContain('hidden');
    const feed = await readInteractionFeed(p.context.db, { limit: 1000, until: p.clock.now().toISOString() });
    expect(feed.records.map((r) => r.source)).not.toContain('hidden');
    expect(await unpublished()).toMatchObject([{ state: 'writing' }]);

    paused.release();
    expect(await paused.done).toMatchObject({ status: 'applied', inserted: 6, updated: 0, unchanged: 0 });
    expect(await visibleCount('hidden')).toBe(6);
    expect((await timelineSources()).filter((s) => s === 'hidden')).toHaveLength(6);
    expect((await exportedSources()).filter((s) => s === 'hidden')).toHaveLength(6);
    expect(await unpublished()).toEqual([]);
  });

  it('marks each day it writes to stale once, under its own id, and is counted by the volume report once published', async () => {
    const on = (day: number, n: number) =>
      line('days', n, { occurredAt: new Date(Date.UTC(2026, 2, day, 9, n)).toISOString() });
    const marks = async () =>
      (
        await p.context.db
          .selectFrom('stale_interaction_days as s')
          .innerJoin('import_runs as r', 'r.id', 's.import_id')
          .select('s.day')
          .where('r.file_name', '=', 'paused.jsonl')
          .where('r.status', '=', 'staging')
          .orderBy('s.day')
          .execute()
      ).map((m) => m.day);
    const period: AnalyticsFilters = {
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      bucket: 'day',
      weeklyCap: 2,
    };
    const everything = { markets: null, repIds: null };
    await refreshDayCells(p.context.db);
    const before = (await volume(p.context.db, everything, period)).summary.interactions;

    const paused = await pausedImport([on(1, 1), on(1, 2), on(2, 3), on(2, 4)], [on(1, 5), on(3, 6)], 4);
    // The import marks its days itself (the triggers leave its inserts to it): each once.
    expect(await marks()).toEqual(['2026-03-01', '2026-03-02']);
    // Refreshed while the import is written, the days do not count its rows.
    await refreshDayCells(p.context.db);
    expect((await volume(p.context.db, everything, period)).summary.interactions).toBe(before);

    paused.release();
    expect(await paused.done).toMatchObject({ status: 'applied', inserted: 6 });
    const marked = await p.context.db
      .selectFrom('stale_interaction_days')
      .select('day')
      .where('day', 'in', ['2026-03-01', '2026-03-02', '2026-03-03'])
      .orderBy('day')
      .execute();
    expect(marked.map((m) => m.day)).toEqual(['2026-03-01', '2026-03-02', '2026-03-03']);
    expect((await volume(p.context.db, everything, period)).summary.interactions).toBe(before + 6);
    expect(await refreshDayCells(p.context.db)).toBe(3);
    expect((await volume(p.context.db, everything, period)).summary.interactions).toBe(before + 6);
  });

  it('takes written rows out again when a later line is bad, and shows none of them meanwhile', async () => {
    const first = [1, 2, 3, 4].map((n) => line('rejected', n));
    const paused = await pausedImport(first, [line('rejected', 5, { hcpCrmId: 'NOPE' })], 4);
    expect(await visibleCount('rejected')).toBe(0);
    paused.release();
    const summary = await paused.done;
    expect(summary).toMatchObject({ status: 'rejected', inserted: 0 });
    expect(summary.rejects.map((r) => r.line)).toEqual([5]);
    expect(await storedCount('rejected')).toBe(0);
    expect(await unpublished()).toEqual([]);
    const run = await p.context.db
      .selectFrom('import_runs')
      .select('status')
      .where('id', '=', summary.importId)
      .executeTakeFirstOrThrow();
    expect(run.status).toBe('rejected');
  });

  it('holds the CRM feed before an import being written, so none of its rows is passed over', async () => {
    const api = (externalId: string) =>
      recordInteraction(p.context.db, p.context, {
        hcpId,
        source: 'api-feed',
        externalId,
        channel: 'email',
        kind: 'email_sent',
        direction: 'outbound',
        occurredAt: p.clock.now().toISOString(),
      });
    p.clock.advance(60_000);
    await api('before');
    p.clock.advance(60_000);
    const feedNow = (position: FeedPosition | null) =>
      readInteractionFeed(p.context.db, {
        position,
        limit: 1000,
        until: p.clock.now().toISOString(),
      });
    const start = (await feedNow(null)).position;
    const paused = await pausedImport(
      [1, 2, 3].map((n) => line('fed', n)),
      [line('fed', 4)],
      2,
    );
    p.clock.advance(60_000);
    await api('during');
    p.clock.advance(60_000);
    const held = await feedNow(start);
    expect(held.records).toEqual([]);

    paused.release();
    expect(await paused.done).toMatchObject({ status: 'applied', inserted: 4 });
    const after = await feedNow(start);
    expect(after.records.map((r) => `${r.source}:${r.externalId}`).sort()).toEqual(
      ['api-feed:during', 'fed:E-1', 'fed:E-2', 'fed:E-3', 'fed:E-4'].sort(),
    );
  });

  it('gives up an import whose process stopped: the feed stops waiting, the next import takes its rows out, and it can no longer publish', async () => {
    const paused = await pausedImport(
      [1, 2].map((n) => line('stalled', n)),
      [line('stalled', 3)],
      2,
    );
    p.clock.advance(ABANDONED_AFTER_MS + 60_000);
    const api = await recordInteraction(p.context.db, p.context, {
      hcpId,
      source: 'api-stalled',
      externalId: 'after-stall',
      channel: 'email',
      kind: 'email_sent',
      direction: 'outbound',
      occurredAt: p.clock.now().toISOString(),
    });
    const feed = await readInteractionFeed(p.context.db, {
      position: [new Date(p.clock.now().getTime() - 1000).toISOString(), ''],
      limit: 1000,
      until: p.clock.now().toISOString(),
    });
    expect(feed.records.map((r) => r.id)).toEqual([api.interaction.id]);

    const next = await runImport(p.context, {
      kind: 'interactions',
      format: 'jsonl',
      input: Readable.from([`${line('next', 1)}\n`]),
      fileName: 'next.jsonl',
      actor: null,
    });
    expect(next).toMatchObject({ status: 'applied', inserted: 1 });
    expect(await storedCount('stalled')).toBe(0);
    expect(await unpublished()).toEqual([]);

    paused.release();
    await expect(paused.done).rejects.toThrow(/abandoned/);
    expect(await storedCount('stalled')).toBe(0);
  });

  it('refuses to go on with an import silent past the abandonment limit, even if nobody took it out, and takes its rows out', async () => {
    // The rest of the file, counted as it is read: the import stops at its first batch after the pause
    // (its heartbeat cannot be renewed), not at the publish after reading everything.
    let read = 0;
    const rest = function* () {
      for (let n = 3; n <= 402; n++) {
        read++;
        yield line('revived', n);
      }
    };
    const paused = await pausedImport(
      [1, 2].map((n) => line('revived', n)),
      rest(),
      2,
    );
    p.clock.advance(ABANDONED_AFTER_MS + 60_000);
    paused.release();
    await expect(paused.done).rejects.toThrow(/abandoned/);
    expect(read).toBeLessThan(400);
    expect(await storedCount('revived')).toBe(0);
    expect(await unpublished()).toEqual([]);
  });

  // SQLite writes a batch's rows in statements of their own, after the heartbeat's: an import given up
  // and taken out between the two (here a trigger does it the moment its heartbeat is renewed) must write
  // nothing, since nobody would take those rows out, nor hide them. PostgreSQL holds the heartbeat's row
  // lock until the rows are in instead. (The trigger is the file's, not a TEMP one: the rows are written
  // on the import's writer connection.)
  it.runIf(dialect === 'sqlite')(
    'writes no row of an import given up and taken out between its heartbeat and its rows, and fails it',
    async () => {
      const paused = await pausedImport(
        [1, 2].map((n) => line('given-up', n)),
        [3, 4].map((n) => line('given-up', n)),
        2,
      );
      await sql`create trigger give_up after update of heartbeat_at on unpublished_imports
                  when new.state = 'writing'
                  begin delete from interactions where import_id = new.import_id;
                        delete from unpublished_imports where import_id = new.import_id; end`.execute(
        p.context.db,
      );
      try {
        paused.release();
        await expect(paused.done).rejects.toThrow(/abandoned/);
      } finally {
        await sql`drop trigger if exists give_up`.execute(p.context.db);
      }
      expect(await storedCount('given-up')).toBe(0);
      expect(await unpublished()).toEqual([]);
    },
  );

  it('publishes a row two imports write with the one that publishes first, and keeps it when the other is rejected', async () => {
    const paused = await pausedImport(
      [1, 2].map((n) => line('twice', n)),
      [line('twice', 3, { hcpCrmId: 'NOPE' })],
      2,
    );
    const second = await runImport(p.context, {
      kind: 'interactions',
      format: 'jsonl',
      input: Readable.from([`${line('twice', 2, { summary: 'Visit two' })}\n`]),
      fileName: 'second.jsonl',
      actor: null,
    });
    expect(second).toMatchObject({ status: 'applied', inserted: 0, updated: 1 });
    expect(await visibleCount('twice')).toBe(1);

    paused.release();
    expect(await paused.done).toMatchObject({ status: 'rejected' });
    const left = await p.context.db
      .selectFrom('visible_interactions')
      .select(['external_id', 'summary', 'import_id'])
      .where('source', '=', 'twice')
      .execute();
    expect(left).toEqual([{ external_id: 'E-2', summary: 'Visit two', import_id: second.importId }]);
  });

  it('lets the API take over a row an import is still writing: visible at once, and kept when the import is rejected', async () => {
    const paused = await pausedImport(
      [1, 2].map((n) => line('shared', n)),
      [line('shared', 3, { channel: 'fax' })],
      2,
    );
    const taken = await recordInteraction(p.context.db, p.context, {
      hcpId,
      source: 'shared',
      externalId: 'E-1',
      channel: 'phone',
      kind: 'call',
      direction: 'outbound',
      occurredAt: p.clock.now().toISOString(),
      summary: 'Logged by the rep',
    });
    expect(taken.created).toBe(false);
    expect(await visibleCount('shared')).toBe(1);

    paused.release();
    expect(await paused.done).toMatchObject({ status: 'rejected' });
    const left = await p.context.db
      .selectFrom('visible_interactions')
      .select(['external_id', 'summary', 'import_id'])
      .where('source', '=', 'shared')
      .execute();
    expect(left).toEqual([{ external_id: 'E-1', summary: 'Logged by the rep', import_id: null }]);
  });
  it('writes a re-imported file as new rows first and lists no timeline chunk for rows that were all stored', async () => {
    const file = [1, 2, 3, 4, 5].map((n) => line('again', n)).join('\n');
    const importFile = () =>
      runImport(p.context, {
        kind: 'interactions',
        format: 'jsonl',
        input: Readable.from([file]),
        fileName: 'again.jsonl',
        actor: null,
        batchSize: 2,
      });
    const chunksOf = async (importId: string) =>
      (
        await p.context.db
          .selectFrom('timeline_chunks')
          .select('chunk')
          .where('import_id', '=', importId)
          .execute()
      ).length;
    const first = await importFile();
    expect(first).toMatchObject({ status: 'applied', inserted: 5 });
    expect(await chunksOf(first.importId)).toBe(1);
    const again = await importFile();
    expect(again).toMatchObject({ status: 'applied', inserted: 0, updated: 0, unchanged: 5 });
    expect(await chunksOf(again.importId)).toBe(0);
    expect(await visibleCount('again')).toBe(5);
  });
});
