import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordInteraction, runImport } from '../engagement/index.js';
import { bareHcpRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { createHcp, nextHcpSeqs } from './hcps.store.js';

/**
 * Every HCP has a seq (unique, never reused) and every interaction carries its HCP's: the timeline index
 * is keyed by it, so an interaction with the wrong one would vanish from its HCP's timeline.
 */
describe.each(DIALECTS)('HCP seqs on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const newHcp = (crmId: string) =>
    createHcp(p.context.db, p.context, null, {
      crmId,
      name: `Dr. ${crmId}`,
      market: 'BR',
      language: 'pt-BR',
      timeZone: 'America/Sao_Paulo',
      territoryIds: [],
    });
  const seqOf = async (id: string) =>
    (await p.context.db.selectFrom('hcps').select('seq').where('id', '=', id).executeTakeFirstOrThrow()).seq;
  const allSeqs = async () =>
    (await p.context.db.selectFrom('hcps').select('seq').execute()).map((h) => h.seq);

  it('gives the HCPs of the test world distinct seqs', async () => {
    const seqs = await allSeqs();
    expect(seqs.length).toBeGreaterThan(1);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const seq of seqs) expect(Number.isInteger(seq) && seq > 0).toBe(true);
  });

  it('hands out ascending values after every stored one, consecutive within a batch on SQLite', async () => {
    const before = Math.max(...(await allSeqs()));
    const seqs = await p.context.db.transaction().execute((tx) => nextHcpSeqs(tx, 5));
    expect(seqs).toHaveLength(5);
    expect(seqs[0]).toBeGreaterThan(before);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(5);
    if (dialect === 'sqlite') expect(seqs).toEqual([1, 2, 3, 4, 5].map((i) => before + i));
    expect(await p.context.db.transaction().execute((tx) => nextHcpSeqs(tx, 0))).toEqual([]);
  });

  it('gives a created HCP a seq above every earlier one', async () => {
    const before = Math.max(...(await allSeqs()));
    const hcp = await newHcp('SEQ-ONE');
    expect(await seqOf(hcp.id)).toBeGreaterThan(before);
  });

  it('gives HCPs created at the same time distinct seqs (PostgreSQL: concurrent transactions)', async () => {
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => newHcp(`SEQ-PAR-${i}`)));
    const seqs = await Promise.all(created.map((h) => seqOf(h.id)));
    expect(new Set(seqs).size).toBe(12);
    const all = await allSeqs();
    expect(new Set(all).size).toBe(all.length);
  });

  it('gives the HCPs of an import consecutive new seqs on SQLite, distinct on both', async () => {
    const before = Math.max(...(await allSeqs()));
    const lines = [0, 1, 2].map((i) =>
      JSON.stringify({
        crmId: `SEQ-IMP-${i}`,
        name: `Dr. Import ${i}`,
        market: 'BR',
        language: 'pt-BR',
        timeZone: 'America/Sao_Paulo',
      }),
    );
    const summary = await runImport(p.context, {
      kind: 'hcps',
      format: 'jsonl',
      input: Readable.from([lines.join('\n')]),
      fileName: 'hcps.jsonl',
      actor: null,
    });
    expect(summary.status).toBe('applied');
    const imported = await p.context.db
      .selectFrom('hcps')
      .select('seq')
      .where('crm_id', 'like', 'SEQ-IMP-%')
      .orderBy('seq')
      .execute();
    const seqs = imported.map((h) => h.seq);
    expect(seqs).toHaveLength(3);
    expect(seqs[0]).toBeGreaterThan(before);
    if (dialect === 'sqlite') expect(seqs).toEqual([1, 2, 3].map((i) => before + i));
    const all = await allSeqs();
    expect(new Set(all).size).toBe(all.length);
  });

  it("an HCP written without a seq: SQLite refuses it (NOT NULL), PostgreSQL's identity gives it the next", async () => {
    const at = p.clock.now().toISOString();
    const before = Math.max(...(await allSeqs()));
    const insert = () =>
      p.context.db
        .insertInto('hcps')
        .values(bareHcpRow({ id: 'hcp_without_seq', crmId: 'NO-SEQ', at }) as never)
        .execute();
    if (dialect === 'sqlite') {
      await expect(insert()).rejects.toThrow(/NOT NULL constraint failed: hcps.seq/);
      return;
    }
    await insert();
    expect(await seqOf('hcp_without_seq')).toBeGreaterThan(before);
  });

  it("writes each interaction with its HCP's seq: recorded, imported, moved to another HCP by a re-import", async () => {
    const [a, b] = [await newHcp('SEQ-INT-A'), await newHcp('SEQ-INT-B')];
    await recordInteraction(p.context.db, p.context, {
      hcpId: a.id,
      channel: 'f2f',
      direction: 'outbound',
      kind: 'call',
      occurredAt: '2026-02-01T10:00:00.000Z',
      source: 'seq-test',
      externalId: 'recorded',
    });
    const importCalls = (hcpCrmId: string) =>
      runImport(p.context, {
        kind: 'interactions',
        format: 'jsonl',
        input: Readable.from([
          ['one', 'two']
            .map((externalId) =>
              JSON.stringify({
                source: 'seq-test',
                externalId,
                hcpCrmId,
                channel: 'phone',
                kind: 'call',
                direction: 'outbound',
                occurredAt: '2026-02-02T10:00:00Z',
              }),
            )
            .join('\n'),
        ]),
        fileName: 'calls.jsonl',
        actor: null,
      });
    expect((await importCalls('SEQ-INT-A')).status).toBe('applied');
    const hcpOfRows = async () =>
      p.context.db
        .selectFrom('interactions as i')
        .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
        .select(['i.external_id', 'i.hcp_id', 'i.hcp_seq', 'h.seq'])
        .where('i.source', '=', 'seq-test')
        .orderBy('i.external_id')
        .execute();
    for (const row of await hcpOfRows()) {
      expect(row.hcp_id).toBe(a.id);
      expect(row.hcp_seq).toBe(row.seq);
    }
    // The same calls again, now naming B: they move to B's timeline, seq and all.
    expect((await importCalls('SEQ-INT-B')).status).toBe('applied');
    const moved = await hcpOfRows();
    expect(moved.map((r) => [r.external_id, r.hcp_id])).toEqual([
      ['one', b.id],
      ['recorded', a.id],
      ['two', b.id],
    ]);
    for (const row of moved) expect(row.hcp_seq).toBe(row.seq);
  });

  it('leaves no interaction of the whole store with a seq other than its HCP’s', async () => {
    const wrong = await p.context.db
      .selectFrom('interactions as i')
      .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
      .select('i.id')
      .whereRef('i.hcp_seq', '<>', 'h.seq')
      .execute();
    const total = await p.context.db.selectFrom('interactions').select('id').execute();
    expect(total.length).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });
});
