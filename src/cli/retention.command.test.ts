import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import { parseConfig } from '../platform/config/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { retentionCommandWith } from './retention.command.js';

describe.each(DIALECTS)('parley retention run on %s', (dialect) => {
  let p: TestParley;
  const oldInbox = newId('whk');
  const youngInbox = newId('whk');

  beforeAll(async () => {
    p = await startTestParley(dialect);
    await p.context.db
      .insertInto('webhook_inbox')
      .values(
        [
          [oldInbox, '2025-11-01T12:00:00.000Z'],
          [youngInbox, '2026-03-01T12:00:00.000Z'],
        ].map(([id, at]) => ({
          id: id!,
          body_sha256: `sha-${id}`,
          body: p.context.cipher.seal('{}'),
          received_at: at!,
          state: 'processed' as const,
          attempts: 1,
          processed_at: at!,
          error: null,
        })),
      )
      .execute();
  });
  afterAll(async () => {
    await p.destroy();
  });

  const run = async (args: string[]) => {
    const url = p.store.schema
      ? `${p.store.url}?options=${encodeURIComponent(`-c search_path=${p.store.schema}`)}`
      : p.store.url;
    const out: string[] = [];
    const err: string[] = [];
    const command = retentionCommandWith({ out: (t) => out.push(t), err: (t) => err.push(t) }, p.clock);
    const code = await command.run(args, parseConfig({ PARLEY_DATABASE_URL: url, PARLEY_DEMO: '0' }));
    return { code, out: out.join(''), err: err.join('') };
  };
  const inbox = async () =>
    (await p.context.db.selectFrom('webhook_inbox').select('id').orderBy('id').execute()).map((r) => r.id);
  const applied = async () =>
    (
      await p.context.db
        .selectFrom('audit_events')
        .select('changes_json')
        .where('action', '=', 'retention.applied')
        .execute()
    ).map((e) => JSON.parse(e.changes_json) as { after: { kind: string; ids: string[] } });

  it('--dry-run --json reports what is past its period and changes nothing', async () => {
    const result = await run(['run', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.out) as { dryRun: boolean; kinds: Record<string, { ids: string[] }> };
    expect(report.dryRun).toBe(true);
    expect(report.kinds.webhook_inbox!.ids).toEqual([oldInbox]);
    expect(await inbox()).toEqual([oldInbox, youngInbox].sort());
    expect(await applied()).toEqual([]);
  });

  it('removes it for real, audited as metadata, and says what it removed', async () => {
    const result = await run(['run']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('webhook_inbox: removed 1');
    expect(await inbox()).toEqual([youngInbox]);
    expect((await applied()).map((e) => e.after)).toEqual([
      expect.objectContaining({ kind: 'webhook_inbox', ids: [oldInbox] }),
    ]);
    expect(await p.context.audit.verify(p.context.db)).toMatchObject({ ok: true });
  });

  it.each([[[]], [['clean']], [['run', '--force']]])('exits 2 with the usage for %j', async (args) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.err).toContain('Usage: parley retention run');
  });
});
