import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../platform/config/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { exportCommandWith } from './export.command.js';
import { importCommandWith } from './import.command.js';

describe.each(DIALECTS)('parley import and export on %s', (dialect) => {
  let p: TestParley;
  let dir: string;
  let config: ReturnType<typeof parseConfig>;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
    const url =
      dialect === 'sqlite'
        ? p.store.url
        : `${p.store.url}?options=${encodeURIComponent(`-c search_path=${p.store.schema}`)}`;
    config = parseConfig({ PARLEY_DATABASE_URL: url, PARLEY_DEMO: '0' });
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const importer = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      command: importCommandWith({ out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false }),
    };
  };
  const exporter = () => {
    const chunks: string[] = [];
    const stdout = new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    return { text: () => chunks.join(''), command: exportCommandWith({ stdout, err: () => {} }) };
  };

  const header =
    'source,externalId,hcpCrmId,channel,kind,direction,occurredAt,repEmail,summary,topics,products';
  const rows = Array.from(
    { length: 25 },
    (_, i) =>
      `cli,X-${i},${i % 2 ? 'CRM-BR1A' : 'CRM-BR2A'},phone,call,outbound,2026-02-01T10:${String(i).padStart(2, '0')}:00Z,,note ${i},a;b,p1`,
  );

  it('rejects a file with a bad line, names it, applies nothing, exits 1', async () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(
      file,
      [header, ...rows.slice(0, 3), 'cli,X-99,CRM-NONE,phone,call,outbound,2026-02-01T10:00:00Z,,,,'].join(
        '\n',
      ),
    );
    const { out, err, command } = importer();
    expect(await command.run(['interactions', file], config)).toBe(1);
    expect(out.join('')).toContain('NOTHING APPLIED');
    expect(err.join('')).toContain('line 5: hcpCrmId: no HCP with CRM id CRM-NONE');
    const n = await p.context.db
      .selectFrom('interactions')
      .select('id')
      .where('source', '=', 'cli')
      .execute();
    expect(n).toHaveLength(0);
  });

  it('with --skip-invalid applies the good lines, writes the rejects file and exits 3', async () => {
    const file = join(dir, 'mixed.csv');
    const rejects = join(dir, 'rejects.jsonl');
    writeFileSync(
      file,
      [header, ...rows.slice(0, 3), 'cli,X-99,CRM-NONE,phone,call,outbound,2026-02-01T10:00:00Z,,,,'].join(
        '\n',
      ),
    );
    const { command } = importer();
    expect(await command.run(['interactions', file, '--skip-invalid', '--rejects', rejects], config)).toBe(3);
    const written = readFileSync(rejects, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(written).toEqual([
      expect.objectContaining({ line: 5, record: expect.objectContaining({ externalId: 'X-99' }) }),
    ]);
  });

  it('imports a whole file (exit 0), and exports every record once, as JSON Lines and as CSV', async () => {
    const file = join(dir, 'calls.csv');
    writeFileSync(file, [header, ...rows].join('\n'));
    const { out, command } = importer();
    expect(await command.run(['interactions', file, '--batch', '4'], config)).toBe(0);
    expect(out.join('')).toMatch(/inserted 22 · updated 0 · unchanged 3/);

    const jsonl = exporter();
    expect(await jsonl.command.run(['interactions'], config)).toBe(0);
    const records = jsonl
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ours = records.filter((r) => r.source === 'cli');
    expect(ours.map((r) => r.externalId).sort()).toEqual(rows.map((_, i) => `X-${i}`).sort());
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    expect(ours.find((r) => r.externalId === 'X-1')).toMatchObject({
      hcpCrmId: 'CRM-BR1A',
      channel: 'phone',
      kind: 'call',
      direction: 'outbound',
      occurredAt: '2026-02-01T10:01:00.000Z',
      repEmail: null,
      summary: 'note 1',
      topics: ['a', 'b'],
      products: ['p1'],
      templateKey: null,
      assetCodes: [],
    });

    const csv = exporter();
    expect(await csv.command.run(['interactions', '--format', 'csv'], config)).toBe(0);
    const table = parse(csv.text(), { columns: true }) as Record<string, string>[];
    expect(table).toHaveLength(records.length);
    expect(table.find((r) => r.externalId === 'X-1')).toMatchObject({ topics: 'a;b', hcpCrmId: 'CRM-BR1A' });
  });

  it('exports only what changed since --since', async () => {
    // The command line runs on the system clock, so "since" is a moment of real time.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const since = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const file = join(dir, 'later.jsonl');
    writeFileSync(
      file,
      JSON.stringify({
        source: 'cli',
        externalId: 'LATE-1',
        hcpCrmId: 'CRM-BR1A',
        channel: 'email',
        kind: 'email_sent',
        direction: 'outbound',
        occurredAt: '2026-01-01T00:00:00Z',
      }) + '\n',
    );
    const { command } = importer();
    expect(await command.run(['interactions', file], config)).toBe(0);
    const all = exporter();
    await all.command.run(['interactions', '--since', '2000-01-01T00:00:00Z'], config);
    const later = exporter();
    await later.command.run(['interactions', '--since', since], config);
    const ids = later
      .text()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { externalId: string }).externalId);
    expect(ids).toEqual(['LATE-1']);
    expect(all.text().split('\n').length).toBeGreaterThan(ids.length + 1);
  });

  it('exports consent entries and refuses an unknown kind', async () => {
    const out = exporter();
    expect(await out.command.run(['consents', '--format', 'csv'], config)).toBe(0);
    expect(out.text().split('\n')[0]).toBe(
      'id,hcpId,hcpCrmId,channel,purpose,status,source,capturedByEmail,capturedAt,evidence,wordingVersion,messageId,expiresAt,recordedAt',
    );
    expect(await exporter().command.run(['widgets'], config)).toBe(2);
  });
});
