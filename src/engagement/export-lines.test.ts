import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWorld } from '../demo/index.js';
import { ManualClock } from '../platform/clock/index.js';
import type { InteractionsTable } from '../platform/database/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { csvCell, csvLine } from './export-lines.js';
import { EXPORT_COLUMNS, exportRecords, exportText, toCsvRow } from './export.store.js';

/** Summaries a CRM export must carry through unchanged: quotes, separators, line ends, escapes, unicode. */
const AWKWARD_TEXTS = [
  'He said "call me back", then left',
  'a;b,c',
  'line one\nline two\r\nline three',
  'a carriage return\ronly',
  'back\\slash and tab\tand bell\u0007 and nul-ish \u0001',
  'São Paulo — naïve café, 東京, Ελληνικά',
  'emoji 💊👩‍⚕️ and a quote " at the end"',
  '',
  ' leading and trailing spaces ',
  '=SUM(A1) looks like a formula',
  '\u2028line separator\u2029',
];

describe.each(DIALECTS)('the fast whole-interactions export on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect, { world: false, clock: new ManualClock('2026-03-03T14:00:00.000Z') });
    await seedDemoWorld(p.context, { seed: 5, hcps: 40, interactions: 1200 });
    const db = p.context.db;
    const [hcp] = await db.selectFrom('hcps').select(['id', 'seq']).orderBy('id').limit(1).execute();
    const [rep] = await db.selectFrom('users').select('id').where('role', '=', 'rep').limit(1).execute();
    const [template] = await db.selectFrom('templates').select('id').limit(1).execute();
    const assets = await db.selectFrom('assets').select('id').limit(2).execute();
    // One asset without an approval code (its code is then `key@version`).
    await db.updateTable('assets').set({ approval_code: null }).where('id', '=', assets[1]!.id).execute();
    const at = (n: number) => new Date(Date.UTC(2026, 2, 4, 0, 0, n)).toISOString();
    const row = (n: number, fields: Partial<InteractionsTable>): InteractionsTable => ({
      id: `int_zz_awkward_${String(n).padStart(3, '0')}`,
      hcp_id: hcp!.id,
      hcp_seq: hcp!.seq,
      channel: 'phone',
      direction: 'outbound',
      kind: 'call',
      occurred_at: at(n),
      rep_id: null,
      summary: null,
      topics_json: '[]',
      products_json: '[]',
      source: 'export-lines-test',
      external_id: `awkward-${n}`,
      template_id: null,
      asset_ids_json: '[]',
      message_id: null,
      status: null,
      created_at: at(n),
      updated_at: at(n),
      import_id: null,
      ...fields,
    });
    const awkward: InteractionsTable[] = [
      ...AWKWARD_TEXTS.map((summary, n) =>
        row(n, {
          summary,
          rep_id: rep!.id,
          topics_json: JSON.stringify([summary, 'plain']),
          products_json: JSON.stringify([summary]),
          external_id: `awkward "${n}", ${summary.slice(0, 8)}`,
        }),
      ),
      // Nulls and empty lists everywhere; a rep and a template that no longer exist.
      row(20, { rep_id: 'usr_gone', template_id: 'tpl_gone', status: 'read' }),
      // A template, assets (one unknown), an empty topic.
      row(21, {
        template_id: template!.id,
        asset_ids_json: JSON.stringify([assets[0]!.id, 'ast_gone', assets[1]!.id]),
        topics_json: '[""]',
        products_json: '["a","",""]',
        status: 'delivered',
      }),
      // Lists stored in another JSON spelling than JSON.stringify's: written as the parse gives them.
      row(22, { topics_json: '[ "spaced" ,"x" ]', products_json: '["\\u00e9t\\u00e9"]' }),
    ];
    await db.insertInto('interactions').values(awkward).execute();
  }, 60_000);
  afterAll(async () => {
    await p?.destroy();
  });

  async function textOf(generator: AsyncGenerator<string>): Promise<string> {
    let text = '';
    for await (const chunk of generator) text += chunk;
    return text;
  }

  async function referenceRecords() {
    const records = [];
    for await (const record of exportRecords(p.context.db, 'interactions')) records.push(record);
    return records;
  }

  it('writes the JSON lines of the record builder, byte for byte, whatever the page size', async () => {
    const records = await referenceRecords();
    expect(records.length).toBe(1200 + AWKWARD_TEXTS.length + 3);
    const expected = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    for (const pageSize of [7, 1000, 10_000])
      expect(await textOf(exportText(p.store, 'interactions', { format: 'jsonl', pageSize }))).toBe(expected);
    for (const summary of AWKWARD_TEXTS) expect(expected).toContain(JSON.stringify(summary));
  });

  it('writes the CSV of csv-stringify over toCsvRow, byte for byte, header first', async () => {
    const records = await referenceRecords();
    const expected = stringify(
      records.map((r) => toCsvRow('interactions', r)),
      { header: true, columns: [...EXPORT_COLUMNS.interactions] },
    );
    for (const pageSize of [7, 10_000])
      expect(await textOf(exportText(p.store, 'interactions', { format: 'csv', pageSize }))).toBe(expected);
    expect(expected).toContain('"He said ""call me back"", then left"');
  });

  it('takes the record builder for changes since a time, with the same lines in both formats', async () => {
    const since = '2026-03-04T00:00:05.000Z';
    const records = [];
    for await (const record of exportRecords(p.context.db, 'interactions', { since })) records.push(record);
    expect(records.length).toBeGreaterThan(0);
    expect(await textOf(exportText(p.store, 'interactions', { format: 'jsonl', since }))).toBe(
      records.map((r) => `${JSON.stringify(r)}\n`).join(''),
    );
    expect(await textOf(exportText(p.store, 'interactions', { format: 'csv', since }))).toBe(
      stringify(
        records.map((r) => toCsvRow('interactions', r)),
        { header: true, columns: [...EXPORT_COLUMNS.interactions] },
      ),
    );
  });

  it('writes consents and messages as csv-stringify would, header first, even with no rows', async () => {
    for (const kind of ['consents', 'messages'] as const) {
      const records = [];
      for await (const record of exportRecords(p.context.db, kind)) records.push(record);
      expect(await textOf(exportText(p.store, kind, { format: 'csv' }))).toBe(
        stringify(
          records.map((r) => toCsvRow(kind, r)),
          { header: true, columns: [...EXPORT_COLUMNS[kind]] },
        ),
      );
    }
  });
});

describe('a CSV cell', () => {
  it('is what csv-stringify writes for the same text, for any text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom(...AWKWARD_TEXTS)), {
          minLength: 1,
        }),
        (cells) => {
          expect(csvLine(cells)).toBe(stringify([cells]));
          for (const cell of cells) expect(csvCell(cell)).toBe(stringify([[cell]]).slice(0, -1));
        },
      ),
      { numRuns: 500 },
    );
  });
});
