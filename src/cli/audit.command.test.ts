import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail, hashAuditRow } from '../audit/index.js';
import { ManualClock } from '../platform/clock/index.js';
import { parseConfig } from '../platform/config/index.js';
import { createPersonalDataCipher } from '../platform/crypto/index.js';
import { DIALECTS, openTestStore, type TestStore } from '../test-support/index.js';
import { removeAuditGuards } from '../test-support/rogue-dba.js';
import { auditCommandWith } from './audit.command.js';

/** The URL `PARLEY_DATABASE_URL` would hold for a test store (its own schema, for PostgreSQL). */
function urlOf(store: TestStore): string {
  if (!store.schema) return store.url;
  return `${store.url}?options=${encodeURIComponent(`-c search_path=${store.schema}`)}`;
}

async function run(store: TestStore, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const command = auditCommandWith({ out: (t) => out.push(t), err: (t) => err.push(t) });
  const code = await command.run(args, parseConfig({ PARLEY_DATABASE_URL: urlOf(store), PARLEY_DEMO: '0' }));
  return { code, out: out.join(''), err: err.join('') };
}

describe.each(DIALECTS)('parley audit verify on %s', (dialect) => {
  const stores: TestStore[] = [];
  const withEvents = async (n: number) => {
    const store = await openTestStore(dialect);
    stores.push(store);
    const trail = createAuditTrail({
      dialect,
      cipher: createPersonalDataCipher('cli-test-key-0123456789abcdef'),
      clock: new ManualClock('2026-03-03T14:00:00.000Z'),
    });
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1)
      ids.push(
        (
          await trail.record(store.db, {
            actor: null,
            action: 'test.done',
            target: { type: 'test', id: `${i}` },
          })
        ).id,
      );
    return { store, ids };
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.destroy();
  });

  it('exits 0 and prints the count and the head when the chain is whole', async () => {
    const { store } = await withEvents(5);
    const result = await run(store, ['verify']);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toMatch(/^audit chain verified: 5 events; head seq 5, hash [0-9a-f]{64}\n$/);
  });

  it('exits 1 naming the first broken row by seq and id', async () => {
    const { store, ids } = await withEvents(6);
    await removeAuditGuards(store);
    await store.db.deleteFrom('audit_events').where('seq', '=', 3).execute();
    const result = await run(store, ['verify']);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toContain(`audit chain BROKEN at seq 4, id ${ids[3]} [gap]`);
    expect(result.err).toContain('expected seq 3');
  });

  it('exits 1 when the chain no longer passes through a head given with --anchor', async () => {
    const { store } = await withEvents(4);
    const earlier = await run(store, ['verify', '--json']);
    const head = JSON.parse(earlier.out).head as { seq: number; hash: string };
    expect((await run(store, ['verify', '--anchor', `${head.seq}:${head.hash}`])).code).toBe(0);
    await removeAuditGuards(store);
    // A rewrite of the last row with its hash (and the head) recomputed: only the anchor can tell.
    const last = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '=', 4)
      .executeTakeFirstOrThrow();
    const hash = hashAuditRow({ ...last, action: 'test.rewritten' });
    await store.db
      .updateTable('audit_events')
      .set({ action: 'test.rewritten', hash })
      .where('seq', '=', 4)
      .execute();
    await store.db.updateTable('audit_head').set({ hash }).execute();
    expect((await run(store, ['verify'])).code).toBe(0);
    const anchored = await run(store, ['verify', '--anchor', `${head.seq}:${head.hash}`]);
    expect(anchored.code).toBe(1);
    expect(anchored.err).toContain('[anchor_mismatch]');
  });

  it('prints the report as JSON with --json', async () => {
    const { store, ids } = await withEvents(3);
    await removeAuditGuards(store);
    await store.db.updateTable('audit_events').set({ action: 'test.undone' }).where('seq', '=', 2).execute();
    const result = await run(store, ['verify', '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.err)).toMatchObject({
      ok: false,
      checked: 1,
      firstBrokenSeq: 2,
      firstBrokenId: ids[1],
      problem: 'hash_mismatch',
    });
  });
});

describe('parley audit, misused', () => {
  it.each([
    [[]],
    [['check']],
    [['verify', '--force']],
    [['verify', '--anchor']],
    [['verify', '--anchor', '5:abc']],
  ])('exits 2 with the usage for %j', async (args) => {
    const err: string[] = [];
    const command = auditCommandWith({ out: () => {}, err: (t) => err.push(t) });
    expect(await command.run(args, parseConfig({ PARLEY_DEMO: '0' }))).toBe(2);
    expect(err.join('')).toContain('Usage: parley audit verify');
  });

  it('exits 2 when the database holds no audit trail (not migrated)', async () => {
    const err: string[] = [];
    const command = auditCommandWith({ out: () => {}, err: (t) => err.push(t) });
    const config = parseConfig({ PARLEY_DATABASE_URL: 'sqlite::memory:', PARLEY_DEMO: '0' });
    expect(await command.run(['verify'], config)).toBe(2);
    expect(err.join('')).toContain('cannot read the audit trail');
  });
});
