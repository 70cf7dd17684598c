import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHcpByWhatsappNumber, findHcpById } from '../hcps/index.js';
import { NUL_REFUSED } from '../platform/text/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { checkImportRecord } from './import-records.js';
import { runImport, type ImportOptions } from './import.store.js';

describe('checking an imported record', () => {
  it.each([
    [
      'names a missing HCP reference',
      {
        source: 'veeva',
        externalId: 'A',
        channel: 'f2f',
        kind: 'call',
        direction: 'outbound',
        occurredAt: '2026-01-01T00:00:00Z',
      },
      'hcpId: one of hcpId or hcpCrmId is required',
    ],
    [
      'names a time without a zone',
      {
        source: 'veeva',
        externalId: 'A',
        hcpCrmId: 'X',
        channel: 'f2f',
        kind: 'call',
        direction: 'outbound',
        occurredAt: '2026-01-01 10:00',
      },
      'occurredAt: must be an ISO 8601 time with a zone, e.g. 2026-03-02T10:00:00Z',
    ],
    [
      'names an unknown channel',
      {
        source: 'veeva',
        externalId: 'A',
        hcpCrmId: 'X',
        channel: 'fax',
        kind: 'call',
        direction: 'outbound',
        occurredAt: '2026-01-01T00:00:00Z',
      },
      'channel',
    ],
  ])('%s', (_name, raw, reason) => {
    const checked = checkImportRecord('interactions', raw);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reasons.join('\n')).toContain(reason);
  });

  it('reads `;`-separated lists from CSV and arrays from JSON Lines alike', () => {
    const base = {
      source: 'veeva',
      externalId: 'A',
      hcpCrmId: 'X',
      channel: 'F2F',
      kind: 'call',
      direction: 'outbound',
      occurredAt: '2026-01-01T00:00:00Z',
    };
    const fromCsv = checkImportRecord('interactions', { ...base, topics: 'dosing; safety' });
    const fromJson = checkImportRecord('interactions', { ...base, topics: ['dosing', 'safety'] });
    expect(fromCsv).toEqual(fromJson);
    expect(fromCsv.ok && fromCsv.record.value).toMatchObject({
      channel: 'f2f',
      topics: ['dosing', 'safety'],
    });
  });

  it('refuses WhatsApp consent from a CRM: Parley keeps it', () => {
    const checked = checkImportRecord('consents', {
      hcpCrmId: 'X',
      channel: 'whatsapp',
      purpose: 'promotional',
      status: 'granted',
      capturedAt: '2026-01-01T00:00:00Z',
      evidence: 'form-1',
    });
    expect(checked.ok).toBe(false);
  });
});

describe.each(DIALECTS)('importing on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const run = (
    kind: ImportOptions['kind'],
    format: ImportOptions['format'],
    text: string,
    extra: Partial<ImportOptions> = {},
  ) =>
    runImport(p.context, {
      kind,
      format,
      input: Readable.from([text]),
      fileName: `test.${format}`,
      actor: null,
      batchSize: 2,
      ...extra,
    });
  const count = async (source: string) =>
    (await p.context.db.selectFrom('interactions').select('id').where('source', '=', source).execute())
      .length;

  const header =
    'source,externalId,hcpCrmId,channel,kind,direction,occurredAt,repEmail,summary,topics,products';
  const good = (n: number) =>
    `crm,C-${n},CRM-BR1A,f2f,call,outbound,2026-02-0${n}T10:00:00Z,rep1@test.parley,Visit ${n},dosing;safety,cardiozen`;

  it('applies nothing when one line is bad, and names every bad line by number (header = line 1)', async () => {
    const csv = [
      header,
      good(1),
      'crm,C-2,NOPE,f2f,call,outbound,2026-02-02T10:00:00Z,,,,',
      good(3),
      'crm,C-4,CRM-BR1A,fax,call,outbound,yesterday,,,,',
      good(5),
    ].join('\n');
    const summary = await run('interactions', 'csv', csv);
    expect(summary.status).toBe('rejected');
    expect(summary.rejects.map((r) => r.line)).toEqual([3, 5]);
    expect(summary.rejects[0]!.reasons.join()).toContain('no HCP with CRM id NOPE');
    expect(summary.rejects[1]!.reasons.join()).toMatch(/channel.*\n?.*|occurredAt/);
    expect(await count('crm')).toBe(0);
    expect(await p.context.db.selectFrom('import_staging').select('line').execute()).toEqual([]);
  });

  it('names an unknown HCP or rep on every line that uses it, in whichever batch (look-ups are remembered)', async () => {
    const line = (n: number, crmId: string, email: string) =>
      `lookups,U-${n},${crmId},f2f,call,outbound,2026-02-0${n}T10:00:00Z,${email},,,`;
    const bad = (n: number) => line(n, 'NOPE', 'ghost@test.parley');
    const fine = (n: number) => line(n, 'CRM-BR1A', 'rep1@test.parley');
    // Batches of two lines: the unknown CRM id and e-mail come back in the second and third batch.
    const csv = [header, bad(1), fine(2), fine(3), bad(4), bad(5)].join('\n');
    const summary = await run('interactions', 'csv', csv, { skipInvalid: true });
    expect(summary.rejects.map((r) => r.line)).toEqual([2, 5, 6]);
    for (const r of summary.rejects) {
      expect(r.reasons).toContain('hcpCrmId: no HCP with CRM id NOPE');
      expect(r.reasons).toContain('repEmail: no user ghost@test.parley');
    }
    expect(summary.inserted).toBe(2);
    expect(await count('lookups')).toBe(2);
  });

  it('applies the good rows with skipInvalid and lists the rejects', async () => {
    const csv = [header, good(1), 'crm,C-2,NOPE,f2f,call,outbound,2026-02-02T10:00:00Z,,,,', good(3)].join(
      '\n',
    );
    const summary = await run('interactions', 'csv', csv, { skipInvalid: true });
    expect(summary).toMatchObject({ status: 'applied', total: 3, valid: 2, invalid: 1, inserted: 2 });
    expect(summary.rejects[0]).toMatchObject({ line: 3, record: { hcpCrmId: 'NOPE' } });
    expect(await count('crm')).toBe(2);
  });

  // On a SQLite file an import's rows are written on a connection of its own on a thread (sqlite-writer.ts);
  // a store no other connection can open (`sqlite::memory:`) writes them on its own connection.
  it.runIf(dialect === 'sqlite')(
    'writes the same rows on the store’s own connection when no writer thread is offered',
    async () => {
      const line = (n: number, summary = `Visit ${n}`) =>
        `inline,I-${n},CRM-BR1A,f2f,call,outbound,2026-02-0${n}T10:00:00Z,rep1@test.parley,${summary},,`;
      const inline = { ...p.context, openWriterThread: undefined };
      const importInline = (lines: string[]) =>
        runImport(inline, {
          kind: 'interactions',
          format: 'csv',
          input: Readable.from([[header, ...lines].join('\n')]),
          fileName: 'inline.csv',
          actor: null,
          batchSize: 2,
        });
      const first = await importInline([1, 2, 3, 4, 5].map((n) => line(n)));
      expect(first).toMatchObject({ status: 'applied', inserted: 5, updated: 0 });
      const again = await importInline([line(1, 'Visit one'), line(6)]);
      expect(again).toMatchObject({ status: 'applied', inserted: 1, updated: 1 });
      const rows = await p.context.db
        .selectFrom('visible_interactions')
        .select(['external_id', 'summary'])
        .where('source', '=', 'inline')
        .orderBy('external_id')
        .execute();
      expect(rows.map((r) => `${r.external_id}:${r.summary}`)).toEqual([
        'I-1:Visit one',
        ...[2, 3, 4, 5, 6].map((n) => `I-${n}:Visit ${n}`),
      ]);
    },
  );

  it('updates a re-imported row, and changes nothing when the same file comes again', async () => {
    const csv = [header, good(1), good(2), good(3), good(4)].join('\n');
    const first = await run('interactions', 'csv', csv);
    expect(first).toMatchObject({ status: 'applied', inserted: 2, unchanged: 2 });
    const auditCount = async () =>
      (await p.context.db.selectFrom('audit_events').select('seq').execute()).length;
    const snapshot = async () =>
      p.context.db.selectFrom('interactions').selectAll().where('source', '=', 'crm').orderBy('id').execute();
    const before = await snapshot();
    const audits = await auditCount();
    p.clock.advance(60_000);
    const again = await run('interactions', 'csv', csv);
    expect(again).toMatchObject({ status: 'applied', inserted: 0, updated: 0, unchanged: 4 });
    expect(await snapshot()).toEqual(before);
    expect(await auditCount()).toBe(audits);
    const changed = await run(
      'interactions',
      'csv',
      [header, good(1).replace('Visit 1', 'Visit one')].join('\n'),
    );
    expect(changed).toMatchObject({ inserted: 0, updated: 1 });
    const row = await p.context.db
      .selectFrom('interactions')
      .selectAll()
      .where('external_id', '=', 'C-1')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      summary: 'Visit one',
      rep_id: p.world.users.rep1.id,
      topics_json: '["dosing","safety"]',
    });
    expect(await auditCount()).toBe(audits + 1);
  });

  it('triages imported call notes: a case for a new or changed note that mentions an adverse event, none on a repeat', async () => {
    const note = (n: string, summary: string) =>
      `crm-notes,${n},CRM-BR1A,f2f,call,outbound,2026-03-03T09:00:00Z,,${summary},,`;
    const rash = 'My patient developed a rash and swelling after starting the new dose';
    const csv = [header, note('N-1', rash), note('N-2', 'Left a leaflet at reception')].join('\n');
    const casesOf = async (externalId: string) => {
      const row = await p.context.db
        .selectFrom('interactions')
        .select('id')
        .where('source', '=', 'crm-notes')
        .where('external_id', '=', externalId)
        .executeTakeFirstOrThrow();
      return p.context.db
        .selectFrom('cases')
        .select(['kind', 'aware_at'])
        .where('interaction_id', '=', row.id)
        .execute();
    };
    expect(await run('interactions', 'csv', csv)).toMatchObject({ status: 'applied', inserted: 2 });
    const opened = await casesOf('N-1');
    expect(opened.map((c) => c.kind)).toContain('adverse_event');
    expect(opened.every((c) => c.aware_at === '2026-03-03T09:00:00.000Z')).toBe(true);
    expect(await casesOf('N-2')).toEqual([]);
    // The same file again: nothing changed, no second case.
    expect(await run('interactions', 'csv', csv)).toMatchObject({ unchanged: 2 });
    expect(await casesOf('N-1')).toHaveLength(opened.length);
    // A changed note is triaged again: the adverse event now mentioned in N-2 opens its case.
    const changed = [header, note('N-1', rash), note('N-2', `Follow-up. ${rash}`)].join('\n');
    expect(await run('interactions', 'csv', changed)).toMatchObject({ updated: 1, unchanged: 1 });
    expect((await casesOf('N-2')).map((c) => c.kind)).toContain('adverse_event');
    expect(await casesOf('N-1')).toHaveLength(opened.length);
  });

  it('reads JSON Lines with line numbers, blank lines counted', async () => {
    const jsonl = [
      JSON.stringify({
        source: 'jl',
        externalId: '1',
        hcpId: p.world.hcps.br2a.id,
        channel: 'email',
        kind: 'email_opened',
        direction: 'inbound',
        occurredAt: '2026-02-01T08:00:00Z',
      }),
      '',
      '{not json',
      JSON.stringify({
        source: 'jl',
        externalId: '1',
        hcpId: p.world.hcps.br2a.id,
        channel: 'email',
        kind: 'email_opened',
        direction: 'inbound',
        occurredAt: '2026-02-01T08:00:00Z',
      }),
    ].join('\n');
    const summary = await run('interactions', 'jsonl', jsonl);
    expect(summary.rejects.map((r) => [r.line, r.reasons[0]])).toEqual([
      [3, 'record: not valid JSON'],
      [4, 'record: the same record as line 1'],
    ]);
    expect(await count('jl')).toBe(0);
  });

  it('refuses a line whose text holds a NUL (PostgreSQL cannot store one), naming line and field', async () => {
    const line = (externalId: string, summary: string) =>
      JSON.stringify({
        source: 'nul',
        externalId,
        hcpId: p.world.hcps.br2a.id,
        channel: 'f2f',
        kind: 'call',
        direction: 'outbound',
        occurredAt: '2026-02-01T08:00:00Z',
        summary,
        topics: ['dosing', 'a\u0000'],
      });
    const jsonl = [line('1', 'fine'), line('2', 'a\u0000b'), '{"source": "nul\\u0000"'].join('\n');
    const summary = await run('interactions', 'jsonl', jsonl);
    expect(summary.status).toBe('rejected');
    expect(summary.rejects.map((r) => [r.line, r.reasons])).toEqual([
      [1, [`topics.1: ${NUL_REFUSED}`]],
      [2, [`summary: ${NUL_REFUSED}`]],
      [3, ['record: not valid JSON']],
    ]);
    const csv = await run(
      'interactions',
      'csv',
      [header, good(1), `crm,C-2,CRM-BR1A,f2f,call,outbound,2026-02-02T10:00:00Z,,note\u0000,,`].join('\n'),
    );
    expect(csv.status).toBe('rejected');
    expect(csv.rejects.map((r) => [r.line, r.reasons])).toEqual([[3, [`summary: ${NUL_REFUSED}`]]]);
    expect(await count('nul')).toBe(0);
  });

  it('stores every value as the file gives it, new or re-imported: quotes, breaks, any script, no rep', async () => {
    const notes = [
      'He said "stop" \\ then\nleft; 12 mg → 10 mg, تحسن, 改善 👍',
      '',
      '{"not": "json"}',
      '  42  ',
      // Half of a surrogate pair, as `\ud83d` in a JSON line can give: stored as U+FFFD on both stores.
      'half a pair \ud83d, then on',
    ];
    const line = (i: number, summary: string, topics: string[]) =>
      JSON.stringify({
        source: 'roundtrip',
        externalId: `R-${i}`,
        hcpId: p.world.hcps.br2a.id,
        channel: 'f2f',
        kind: 'call',
        direction: 'outbound',
        occurredAt: `2026-02-0${i + 1}T08:00:00.000Z`,
        ...(i % 2 === 0 ? { repEmail: 'rep1@test.parley' } : {}),
        ...(summary ? { summary } : {}),
        topics,
        products: i === 0 ? ['cardiozen'] : [],
      });
    const stored = () =>
      p.context.db
        .selectFrom('interactions')
        .select([
          'external_id',
          'summary',
          'rep_id',
          'hcp_seq',
          'topics_json',
          'products_json',
          'occurred_at',
        ])
        .where('source', '=', 'roundtrip')
        .orderBy('external_id')
        .execute();
    const { seq } = await p.context.db
      .selectFrom('hcps')
      .select('seq')
      .where('id', '=', p.world.hcps.br2a.id)
      .executeTakeFirstOrThrow();
    const expected = (topics: (i: number) => string[]) =>
      notes.map((summary, i) => ({
        external_id: `R-${i}`,
        summary: summary.trim().toWellFormed() || null,
        rep_id: i % 2 === 0 ? p.world.users.rep1.id : null,
        hcp_seq: seq,
        topics_json: JSON.stringify(topics(i)),
        products_json: i === 0 ? '["cardiozen"]' : '[]',
        occurred_at: `2026-02-0${i + 1}T08:00:00.000Z`,
      }));
    // Batches of 2 (`run`): new rows in two batches, then the same keys again, changed, staged and updated.
    const first = await run(
      'interactions',
      'jsonl',
      notes.map((s, i) => line(i, s, ['a "b"', 'ç'])).join('\n'),
    );
    expect(first).toMatchObject({ status: 'applied', inserted: 5 });
    expect(await stored()).toEqual(expected(() => ['a "b"', 'ç']));
    const again = await run('interactions', 'jsonl', notes.map((s, i) => line(i, s, [`t\n${i}`])).join('\n'));
    expect(again).toMatchObject({ status: 'applied', inserted: 0, updated: 5 });
    expect(await stored()).toEqual(expected((i) => [`t\n${i}`]));
  });

  it('imports HCPs sealed and indexed like createHcp, so an inbound number finds them', async () => {
    const csv = [
      'crmId,name,market,language,timeZone,whatsappNumber,email,territoryIds',
      'IMP-1,Dr. Imported,BR,pt-BR,America/Sao_Paulo,+55 11 93333-4444,Imp@Example.com,ter_br1;ter_br2',
      'IMP-2,Dr. Second,BR,pt-BR,Mars/Olympus,,,',
    ].join('\n');
    const rejected = await run('hcps', 'csv', csv);
    expect(rejected.rejects.map((r) => r.line)).toEqual([3]);
    const summary = await run('hcps', 'csv', csv.replace('Mars/Olympus', 'America/Sao_Paulo'));
    expect(summary).toMatchObject({ status: 'applied', inserted: 2 });
    const found = await findHcpByWhatsappNumber(p.context.db, p.context, '5511933334444');
    expect(found).toMatchObject({
      crmId: 'IMP-1',
      whatsappNumber: '+5511933334444',
      email: 'imp@example.com',
      territoryIds: ['ter_br1', 'ter_br2'],
    });
    const stored = await p.context.db
      .selectFrom('hcps')
      .selectAll()
      .where('crm_id', '=', 'IMP-1')
      .executeTakeFirstOrThrow();
    expect(stored.whatsapp_number_enc).not.toContain('933334444');
    const created = await p.context.db
      .selectFrom('audit_events')
      .select(['target_id', 'changes_json', 'personal_ref'])
      .where('action', '=', 'hcp.created')
      .where('target_id', '=', found!.id)
      .execute();
    expect(created).toHaveLength(1);
    expect(created[0]!.changes_json).not.toMatch(/933334444|Imported|imp@/);
    expect(created[0]!.personal_ref).not.toBeNull();
    const auditCount = async () =>
      (await p.context.db.selectFrom('audit_events').select('seq').execute()).length;
    const audits = await auditCount();
    const again = await run('hcps', 'csv', csv.replace('Mars/Olympus', 'America/Sao_Paulo'));
    expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
    expect(await auditCount()).toBe(audits);
    const moved = await run(
      'hcps',
      'csv',
      'crmId,name,market,language,timeZone,territoryIds\nIMP-1,Dr. Imported,BR,pt-BR,America/Sao_Paulo,ter_br2',
    );
    expect(moved).toMatchObject({ updated: 1 });
    const after = await findHcpById(p.context.db, p.context, found!.id);
    // Columns absent from the file are left as they were; a given list replaces the old one.
    expect(after).toMatchObject({ territoryIds: ['ter_br2'], whatsappNumber: null });
  });

  it('imports territories and CRM consents into the ledger once', async () => {
    expect(await run('territories', 'csv', 'id,name,market\nter_in1,Mumbai,IN')).toMatchObject({
      inserted: 1,
    });
    expect(await run('territories', 'csv', 'id,name,market\nter_in1,Mumbai West,IN')).toMatchObject({
      updated: 1,
    });
    const consents = [
      'hcpCrmId,channel,purpose,status,capturedAt,evidence',
      'CRM-BR1B,email,promotional,granted,2026-01-05T10:00:00Z,form-77',
      'CRM-BR1B,email,promotional,withdrawn,2026-02-05T10:00:00Z,',
    ].join('\n');
    expect(await run('consents', 'csv', consents)).toMatchObject({ status: 'applied', inserted: 2 });
    expect(await run('consents', 'csv', consents)).toMatchObject({ inserted: 0, unchanged: 2 });
    const ledger = await p.context.db
      .selectFrom('consent_entries')
      .select(['status', 'source', 'evidence'])
      .where('hcp_id', '=', p.world.hcps.br1b.id)
      .orderBy('captured_at')
      .execute();
    expect(ledger).toEqual([
      { status: 'granted', source: 'crm_import', evidence: 'form-77' },
      { status: 'withdrawn', source: 'crm_import', evidence: null },
    ]);
    const onTimeline = await p.context.db
      .selectFrom('interactions')
      .select(['kind', 'channel', 'status'])
      .where('hcp_id', '=', p.world.hcps.br1b.id)
      .where('kind', '=', 'consent_change')
      .orderBy('occurred_at')
      .execute();
    expect(onTimeline).toEqual([
      { kind: 'consent_change', channel: 'email', status: 'granted' },
      { kind: 'consent_change', channel: 'email', status: 'withdrawn' },
    ]);
    const recorded = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('action', 'in', ['consent.recorded', 'territory.created', 'territory.updated'])
      .execute();
    expect(recorded.map((r) => r.action).sort()).toEqual([
      'consent.recorded',
      'consent.recorded',
      'territory.created',
      'territory.updated',
    ]);
    expect((await p.context.audit.verify(p.context.db)).ok).toBe(true);
  });

  it('translates Veeva field names through a mapping file', async () => {
    const { loadImportMapping } = await import('./import-mapping.js');
    const mapping = await loadImportMapping('veeva-calls');
    const csv = [
      'Id,Account_vod__c,Call_Channel_vod__c,Call_Date_vod__c,Call_Datetime_vod__c,Owner.Email,Detailed_Products_vod__c',
      'a04V000001,CRM-BR1A,Face_to_face_vod,2026-02-10,2026-02-10T14:00:00Z,rep1@test.parley,Cardiozen',
    ].join('\n');
    const summary = await run('interactions', 'csv', csv, { mapping });
    expect(summary).toMatchObject({ status: 'applied', inserted: 1 });
    const row = await p.context.db
      .selectFrom('interactions')
      .selectAll()
      .where('external_id', '=', 'a04V000001')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      source: 'veeva',
      channel: 'f2f',
      kind: 'call',
      products_json: '["Cardiozen"]',
    });
  });
});

describe.each(DIALECTS)('the import upload route on %s', (dialect) => {
  let p: TestParley;
  let admin: string;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    admin = await p.world.tokenFor('admin');
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const upload = (token: string, url: string, type: string, payload: string) =>
    p.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      payload,
    });

  it('applies a good CSV (201 with the summary) and rejects a bad one with every line named (422)', async () => {
    const csv = 'id,name,market\nter_up1,Up One,BR\nter_up2,Up Two,BR\n';
    const ok = await upload(admin, '/api/imports/territories', 'text/csv', csv);
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ status: 'applied', inserted: 2, rejects: [] });
    const bad = await upload(
      admin,
      '/api/imports/territories',
      'text/csv',
      'id,name,market\nter_up3,Three,ZZ\nter_up4,,BR\n',
    );
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error).toMatchObject({
      code: 'unprocessable',
      details: { rejects: [{ line: 2 }, { line: 3 }] },
    });
    expect(
      await p.context.db
        .selectFrom('territories')
        .select('id')
        .where('id', 'in', ['ter_up3', 'ter_up4'])
        .execute(),
    ).toEqual([]);
  });

  it('takes JSON Lines with a shipped CRM mapping, and only from an admin', async () => {
    const line = JSON.stringify({
      Id: 'evt-1',
      AccountId: 'CRM-ES1A',
      StartDateTime: '2026-02-11T09:00:00Z',
      Subject: 'Advisory board',
    });
    const res = await upload(
      admin,
      '/api/imports/interactions?mapping=salesforce-events',
      'application/x-ndjson',
      line,
    );
    expect(res.statusCode).toBe(201);
    const row = await p.context.db
      .selectFrom('interactions')
      .selectAll()
      .where('external_id', '=', 'evt-1')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      source: 'salesforce',
      kind: 'meeting',
      channel: 'f2f',
      hcp_id: p.world.hcps.es1a.id,
    });
    const audit = await p.context.db
      .selectFrom('audit_events')
      .select(['action', 'actor_id'])
      .where('action', '=', 'import.applied')
      .execute();
    expect(audit).toContainEqual({ action: 'import.applied', actor_id: p.world.users.admin.id });
    const rep = await p.world.tokenFor('rep1');
    expect((await upload(rep, '/api/imports/interactions', 'application/x-ndjson', line)).statusCode).toBe(
      403,
    );
    expect((await upload(admin, '/api/imports/interactions', 'text/plain', line)).statusCode).toBe(415);
  });
});
