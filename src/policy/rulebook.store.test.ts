import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail, type AuditTrail } from '../audit/index.js';
import { ManualClock } from '../platform/clock/index.js';
import { createPersonalDataCipher } from '../platform/crypto/index.js';
import { DIALECTS, openTestStore, type TestStore } from '../test-support/index.js';
import { DEFAULT_RULEBOOK_YAML } from './default-rulebook.js';
import { currentRulebook, ensureRulebook, latestRulebook, saveRulebook } from './rulebook.store.js';

describe.each(DIALECTS)('the rulebook store on %s', (dialect) => {
  let store: TestStore;
  let deps: { clock: ManualClock; audit: AuditTrail };
  beforeAll(async () => {
    // A bare store (no Parley started), so that nothing has installed a rulebook yet.
    store = await openTestStore(dialect);
    const clock = new ManualClock('2026-03-03T14:00:00.000Z');
    const cipher = createPersonalDataCipher('rulebook-store-test-key-0123456789abcdef');
    deps = { clock, audit: createAuditTrail({ dialect, cipher, clock }) };
  });
  afterAll(async () => {
    await store?.destroy();
  });

  it('has no rulebook before the first start', async () => {
    await expect(currentRulebook(store.db)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(latestRulebook(store.db)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('installs the default once, however many instances start at the same moment', async () => {
    await Promise.all([1, 2, 3, 4].map(() => ensureRulebook(store.db, deps)));
    const versions = await store.db.selectFrom('rulebooks').select('version').execute();
    expect(versions.map((v) => Number(v.version))).toEqual([1]);
    const installs = await store.db
      .selectFrom('audit_events')
      .select('actor_id')
      .where('action', '=', 'rulebook.installed')
      .execute();
    expect(installs).toEqual([{ actor_id: null }]);
  });

  it('serves the latest version, parsed, and keeps the earlier ones', async () => {
    const saved = await saveRulebook(
      store.db,
      deps,
      { id: 'usr_compliance', role: 'compliance' },
      {
        yaml: DEFAULT_RULEBOOK_YAML.replace('max_assets: 2', 'max_assets: 1'),
        comment: 'one asset',
      },
    );
    expect(saved.stored.version).toBe(2);
    const current = await currentRulebook(store.db);
    expect(current.stored.version).toBe(2);
    expect(current.rulebook.document.global.format.max_assets).toBe(1);
    const first = await store.db
      .selectFrom('rulebooks')
      .select('yaml')
      .where('version', '=', 1)
      .executeTakeFirst();
    expect(first?.yaml).toBe(DEFAULT_RULEBOOK_YAML);
    expect((await deps.audit.verify(store.db)).ok).toBe(true);
  });

  it('gives decisions the latest version, read again when a newer one is saved, in a store of its own', async () => {
    const before = await latestRulebook(store.db);
    expect(before.version).toBe(2);
    expect(before.document.global.format.max_assets).toBe(1);
    // Version 2 of another store is another text: its rules are its own.
    const other = await openTestStore(dialect);
    try {
      await ensureRulebook(other.db, deps);
      await saveRulebook(
        other.db,
        deps,
        { id: 'usr_compliance', role: 'compliance' },
        { yaml: DEFAULT_RULEBOOK_YAML.replace('max_assets: 2', 'max_assets: 0'), comment: 'no assets' },
      );
      const otherRules = await latestRulebook(other.db);
      expect(otherRules.version).toBe(2);
      expect(otherRules.document.global.format.max_assets).toBe(0);
    } finally {
      await other.destroy();
    }
    await saveRulebook(
      store.db,
      deps,
      { id: 'usr_compliance', role: 'compliance' },
      { yaml: DEFAULT_RULEBOOK_YAML.replace('max_assets: 2', 'max_assets: 3'), comment: 'three' },
    );
    const after = await store.db.transaction().execute((tx) => latestRulebook(tx));
    expect(after.version).toBe(3);
    expect(after.document.global.format.max_assets).toBe(3);
  });
});
