import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../platform/clock/index.js';
import { createPersonalDataCipher } from '../platform/crypto/index.js';
import { DIALECTS, openTestStore, type TestStore } from '../test-support/index.js';
import { removeAuditGuards } from '../test-support/rogue-dba.js';
import {
  createAuditTrail,
  erasePersonalAuditValues,
  GENESIS_HASH,
  hashAuditRow,
  listAuditEvents,
  personalAuditValuesOf,
  verifyAuditChain,
  type AuditTrail,
} from './index.js';

const cipher = createPersonalDataCipher('audit-test-key-0123456789abcdef');
const compliance = { id: 'usr_compliance', role: 'compliance' };

function trailFor(store: TestStore, clock = new ManualClock('2026-03-03T14:00:00.000Z')): AuditTrail {
  return createAuditTrail({ dialect: store.dialect, cipher, clock });
}

/** Ten varied events, one a second, as capabilities would record them. */
async function appendTen(store: TestStore, trail = trailFor(store)): Promise<{ ids: string[] }> {
  const ids: string[] = [];
  for (let i = 1; i <= 10; i += 1) {
    const { id } = await trail.record(store.db, {
      actor: i % 3 === 0 ? null : compliance,
      action: i % 2 ? 'template.approved' : 'consent.recorded',
      target: { type: i % 2 ? 'template' : 'consent', id: `obj_${i}` },
      subjectId: i % 2 ? null : 'hcp_a',
      reason: i % 4 === 0 ? 'MLR review' : null,
      before: { status: 'in_review' },
      after: { status: 'approved' },
      ...(i % 5 === 0 ? { personal: { email: `person${i}@example.com` } } : {}),
    });
    ids.push(id);
  }
  return { ids };
}

async function rowAt(store: TestStore, seq: number) {
  return store.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

describe.each(DIALECTS)('the audit trail on %s', (dialect) => {
  const stores: TestStore[] = [];
  const fresh = async () => {
    const store = await openTestStore(dialect);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.destroy();
  });

  describe('append-only by construction', () => {
    // One store with ten events for all refusals: a refused change leaves it as it was (checked each time).
    let guarded: TestStore;
    beforeAll(async () => {
      guarded = await openTestStore(dialect);
      await appendTen(guarded);
    });
    afterAll(async () => {
      await guarded?.destroy();
    });

    it('starts with a head at seq 0 and the genesis hash, and an empty chain verifies', async () => {
      const store = await fresh();
      const head = await store.db.selectFrom('audit_head').selectAll().execute();
      expect(head).toEqual([{ id: 1, seq: 0, hash: '0'.repeat(64) }]);
      expect(await verifyAuditChain(store.db)).toEqual({
        ok: true,
        checked: 0,
        head: head[0] && { seq: 0, hash: head[0].hash },
      });
    });

    it.each([
      [
        'updating an event',
        (s: TestStore) =>
          s.db.updateTable('audit_events').set({ reason: 'x' }).where('seq', '=', 2).execute(),
      ],
      ['deleting an event', (s: TestStore) => s.db.deleteFrom('audit_events').where('seq', '=', 2).execute()],
      ['deleting every event', (s: TestStore) => s.db.deleteFrom('audit_events').execute()],
      ['deleting the head', (s: TestStore) => s.db.deleteFrom('audit_head').execute()],
      [
        'adding a second head',
        (s: TestStore) => s.db.insertInto('audit_head').values({ id: 2, seq: 0, hash: 'x' }).execute(),
      ],
      ['moving the head back', (s: TestStore) => s.db.updateTable('audit_head').set({ seq: 9 }).execute()],
      [
        'changing the head hash',
        (s: TestStore) =>
          s.db
            .updateTable('audit_head')
            .set({ hash: 'f'.repeat(64) })
            .execute(),
      ],
      [
        'pointing the head at a row that does not exist',
        (s: TestStore) =>
          s.db
            .updateTable('audit_head')
            .set({ seq: 11, hash: 'f'.repeat(64) })
            .execute(),
      ],
      [
        'inserting an event that does not extend the head',
        async (s: TestStore) => {
          const last = await rowAt(s, 10);
          await s.db
            .insertInto('audit_events')
            .values({ ...last, seq: 11, id: 'aud_forged', prev_hash: 'f'.repeat(64) })
            .execute();
        },
      ],
      [
        'inserting an event at a seq already taken',
        async (s: TestStore) => {
          const last = await rowAt(s, 10);
          await s.db
            .insertInto('audit_events')
            .values({ ...last, seq: 5, id: 'aud_forged' })
            .execute();
        },
      ],
      ...(dialect === 'postgres'
        ? ([['truncating the events', (s: TestStore) => sql`truncate audit_events`.execute(s.db)]] as const)
        : []),
    ] as const)('the database refuses %s', async (_case, attempt) => {
      const store = guarded;
      // Refused by migration 0002's triggers, not by some other constraint that happens to fail.
      await expect(attempt(store)).rejects.toThrow(
        /append-only|must extend the chain head|audit_head (cannot|has exactly|may only)/,
      );
      const check = await verifyAuditChain(store.db);
      expect(check).toMatchObject({ ok: true, checked: 10, head: { seq: 10 } });
    });

    it('leaves no event, no personal values and the head unmoved when the change is rolled back', async () => {
      const store = await fresh();
      await appendTen(store);
      const trail = trailFor(store);
      await expect(
        store.db.transaction().execute(async (tx) => {
          await trail.record(tx, {
            actor: compliance,
            action: 'consent.recorded',
            target: { type: 'consent', id: 'c1' },
            subjectId: 'hcp_z',
            personal: { email: 'z@example.com' },
          });
          throw new Error('the change itself failed');
        }),
      ).rejects.toThrow('the change itself failed');
      expect(await personalAuditValuesOf(store.db, cipher, 'hcp_z')).toEqual([]);
      expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 10, head: { seq: 10 } });
      expect(
        (await trail.record(store.db, { actor: null, action: 'x.y', target: { type: 'x', id: '1' } })).seq,
      ).toBe(11);
    });

    it('appends a run of events in order as record() would one by one, past one server-side call of them', async () => {
      const store = await fresh();
      await appendTen(store);
      const trail = trailFor(store);
      // More than one call of parley_audit_append on PostgreSQL (a thousand events each).
      const entries = Array.from({ length: 2_345 }, (_, i) => ({
        actor: null,
        action: 'case.opened',
        target: { type: 'case', id: `case_${i}` },
        subjectId: `hcp_${i % 500}`,
        after: { n: i },
        ...(i % 500 === 0 ? { personal: { note: `note ${i}` } } : {}),
      }));
      const appended = await store.db.transaction().execute((tx) => trail.recordAll(tx, entries));
      expect(appended.map((a) => a.seq)).toEqual(entries.map((_, i) => 11 + i));
      const rows = await store.db
        .selectFrom('audit_events')
        .select(['seq', 'id', 'target_id', 'changes_json', 'personal_ref'])
        .where('seq', '>', 10)
        .orderBy('seq')
        .execute();
      expect(rows.map((r) => [r.seq, r.id, r.target_id])).toEqual(
        appended.map((a, i) => [a.seq, a.id, `case_${i}`]),
      );
      expect(rows.map((r) => JSON.parse(r.changes_json) as unknown)).toEqual(
        entries.map((e) => ({ before: null, after: e.after })),
      );
      expect(rows.filter((r) => r.personal_ref !== null)).toHaveLength(5);
      expect(await personalAuditValuesOf(store.db, cipher, 'hcp_0')).toHaveLength(5);
      expect(await verifyAuditChain(store.db)).toMatchObject({
        ok: true,
        checked: 2_355,
        head: { seq: 2_355 },
      });
      // Nothing for nothing, and the chain goes on from there.
      expect(await store.db.transaction().execute((tx) => trail.recordAll(tx, []))).toEqual([]);
      expect(
        (await trail.record(store.db, { actor: null, action: 'x.y', target: { type: 'x', id: '1' } })).seq,
      ).toBe(2_356);
    });

    it('still lets record() extend the chain and erasure delete personal values', async () => {
      const store = await fresh();
      await appendTen(store);
      const trail = trailFor(store);
      await trail.record(store.db, {
        actor: null,
        action: 'hcp.erased',
        target: { type: 'hcp', id: 'hcp_a' },
      });
      expect(await erasePersonalAuditValues(store.db, 'hcp_a')).toBe(1);
      expect(await trail.verify(store.db)).toEqual({ ok: true, checked: 11 });
    });

    it('offers no update or delete path on audit_events anywhere in the application code', () => {
      const offenders: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) {
            if (name !== 'test-support') walk(path);
          } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !path.includes('migrations')) {
            const text = readFileSync(path, 'utf8');
            if (/(updateTable|deleteFrom)\(\s*['"`]audit_events/.test(text)) offenders.push(path);
            if (/(update|delete\s+from)\s+audit_events/i.test(text)) offenders.push(path);
            if (/(updateTable|deleteFrom)\(\s*['"`]audit_head/.test(text) && !path.endsWith('audit.store.ts'))
              offenders.push(path);
          }
        }
      };
      walk(join(import.meta.dirname, '..'));
      expect(offenders).toEqual([]);
    });
  });

  describe('tamper evidence, with the guards removed as a rogue DBA would', () => {
    // One unguarded store for every case (fewer PostgreSQL schemas made and dropped): each case starts
    // from an emptied trail with ten fresh events.
    let unguarded: TestStore;
    beforeAll(async () => {
      unguarded = await openTestStore(dialect);
      await removeAuditGuards(unguarded);
    });
    afterAll(async () => {
      await unguarded?.destroy();
    });

    /** A store with ten events and no triggers left to stop anyone. */
    const tampered = async () => {
      const store = unguarded;
      await store.db.deleteFrom('audit_events').execute();
      await store.db.deleteFrom('audit_personal').execute();
      await store.db.deleteFrom('audit_head').execute();
      await store.db.insertInto('audit_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();
      const { ids } = await appendTen(store);
      return { store, ids };
    };

    it('names the changed row when one field of a middle row is modified', async () => {
      const { store, ids } = await tampered();
      await store.db
        .updateTable('audit_events')
        .set({ actor_id: 'usr_someone_else' })
        .where('seq', '=', 4)
        .execute();
      expect(await verifyAuditChain(store.db)).toMatchObject({
        ok: false,
        checked: 3,
        firstBrokenSeq: 4,
        firstBrokenId: ids[3],
        problem: 'hash_mismatch',
      });
    });

    it('names the row after a modified one whose hash was recomputed to hide the change', async () => {
      const { store, ids } = await tampered();
      const row = await rowAt(store, 4);
      const forged = {
        ...row,
        changes_json: JSON.stringify({ before: null, after: { status: 'rejected' } }),
      };
      await store.db
        .updateTable('audit_events')
        .set({ changes_json: forged.changes_json, hash: hashAuditRow(forged) })
        .where('seq', '=', 4)
        .execute();
      expect(await verifyAuditChain(store.db)).toMatchObject({
        ok: false,
        firstBrokenSeq: 5,
        firstBrokenId: ids[4],
        problem: 'broken_link',
      });
    });

    it('names the row after a deleted middle row and says a row is missing', async () => {
      const { store, ids } = await tampered();
      await store.db.deleteFrom('audit_events').where('seq', '=', 5).execute();
      const report = await verifyAuditChain(store.db);
      expect(report).toMatchObject({
        ok: false,
        checked: 4,
        firstBrokenSeq: 6,
        firstBrokenId: ids[5],
        problem: 'gap',
      });
      expect(report.message).toContain('expected seq 5');
    });

    it('names the missing seq when the last row is deleted', async () => {
      const { store } = await tampered();
      await store.db.deleteFrom('audit_events').where('seq', '=', 10).execute();
      const report = await verifyAuditChain(store.db);
      expect(report).toMatchObject({ ok: false, checked: 9, firstBrokenSeq: 10, problem: 'head_mismatch' });
      expect(report.firstBrokenId).toBeUndefined();
    });

    it('names the first of two rows whose contents were swapped', async () => {
      const { store, ids } = await tampered();
      const [three, seven] = [await rowAt(store, 3), await rowAt(store, 7)];
      const { seq: _3, ...threeContent } = three;
      const { seq: _7, ...sevenContent } = seven;
      // ids are unique: park one aside while the contents trade places.
      await store.db.updateTable('audit_events').set({ id: 'aud_parked' }).where('seq', '=', 3).execute();
      await store.db.updateTable('audit_events').set(threeContent).where('seq', '=', 7).execute();
      await store.db.updateTable('audit_events').set(sevenContent).where('seq', '=', 3).execute();
      expect(await verifyAuditChain(store.db)).toMatchObject({
        ok: false,
        checked: 2,
        firstBrokenSeq: 3,
        firstBrokenId: ids[6],
        problem: 'broken_link',
      });
    });

    it.each([
      ['its hash is edited', { hash: 'f'.repeat(64) }, 10],
      ['it is moved back to the row before', { seq: 9 }, 10],
    ] as const)('reports the head when %s', async (_case, edit, seq) => {
      const { store, ids } = await tampered();
      await store.db.updateTable('audit_head').set(edit).where('id', '=', 1).execute();
      expect(await verifyAuditChain(store.db)).toMatchObject({
        ok: false,
        firstBrokenSeq: seq,
        firstBrokenId: ids[seq - 1],
        problem: 'head_mismatch',
      });
    });

    it('passes a full rewrite with every hash recomputed, unless checked against a head recorded earlier', async () => {
      const { store, ids } = await tampered();
      const recorded = (await verifyAuditChain(store.db)).head!;
      let prev = (await rowAt(store, 3)).hash;
      for (let seq = 4; seq <= 10; seq += 1) {
        const row = { ...(await rowAt(store, seq)), reason: 'rewritten', prev_hash: prev };
        const hash = hashAuditRow(row);
        await store.db
          .updateTable('audit_events')
          .set({ reason: row.reason, prev_hash: prev, hash })
          .where('seq', '=', seq)
          .execute();
        prev = hash;
      }
      await store.db.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
      expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 10 });
      expect(await verifyAuditChain(store.db, { anchors: [recorded] })).toMatchObject({
        ok: false,
        firstBrokenSeq: 10,
        firstBrokenId: ids[9],
        problem: 'anchor_mismatch',
      });
    });

    it('reports a deleted head while events exist', async () => {
      const { store, ids } = await tampered();
      await store.db.deleteFrom('audit_head').execute();
      expect(await verifyAuditChain(store.db)).toMatchObject({
        ok: false,
        firstBrokenSeq: 1,
        firstBrokenId: ids[0],
        problem: 'head_mismatch',
      });
    });
  });

  describe('concurrent appends', () => {
    it('never forks: 2 × 100 concurrent appends from two instances give seqs 1..200 and a whole chain', async () => {
      const first = await fresh();
      // Two stores with their own connections on the same data: on PostgreSQL two pools (two Parley
      // instances); on SQLite one store, as SQLite is served by one process.
      const second = dialect === 'postgres' ? await openTestStore(dialect, { sameAs: first }) : first;
      try {
        const append = (store: TestStore, instance: string, i: number) =>
          trailFor(store).record(store.db, {
            actor: null,
            action: 'test.appended',
            target: { type: 'test', id: `${instance}-${i}` },
            ...(i % 10 === 0 ? { personal: { note: `${instance}-${i}` } } : {}),
          });
        const results = await Promise.all([
          ...Array.from({ length: 100 }, (_, i) => append(first, 'a', i)),
          ...Array.from({ length: 100 }, (_, i) => append(second, 'b', i)),
        ]);
        expect(results.map((r) => r.seq).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 200 }, (_, i) => i + 1),
        );
        const seqs = await first.db.selectFrom('audit_events').select('seq').orderBy('seq').execute();
        expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(await verifyAuditChain(second.db)).toMatchObject({
          ok: true,
          checked: 200,
          head: { seq: 200 },
        });
      } finally {
        if (second !== first) await second.destroy();
      }
    });

    it('never forks when appends run inside callers’ own concurrent transactions', async () => {
      const store = await fresh();
      const trail = trailFor(store);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.db.transaction().execute(async (tx) => {
            await trail.record(tx, {
              actor: compliance,
              action: 'test.first',
              target: { type: 'test', id: `${i}` },
            });
            await trail.record(tx, {
              actor: compliance,
              action: 'test.second',
              target: { type: 'test', id: `${i}` },
            });
          }),
        ),
      );
      expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 100 });
      // Both events of one transaction are adjacent: the head lock is held until commit.
      const rows = await store.db
        .selectFrom('audit_events')
        .select(['seq', 'action', 'target_id'])
        .orderBy('seq')
        .execute();
      for (let i = 0; i < rows.length; i += 2) {
        expect([rows[i]!.action, rows[i + 1]!.action]).toEqual(['test.first', 'test.second']);
        expect(rows[i]!.target_id).toBe(rows[i + 1]!.target_id);
      }
    });

    it('verifies while appends are still going on, without reporting the busy end as truncated', async () => {
      const store = await fresh();
      await appendTen(store);
      const trail = trailFor(store);
      const writes = Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          trail.record(store.db, {
            actor: null,
            action: 'test.appended',
            target: { type: 'test', id: `${i}` },
          }),
        ),
      );
      const checks = await Promise.all([verifyAuditChain(store.db), verifyAuditChain(store.db)]);
      await writes;
      for (const check of checks) expect(check.ok).toBe(true);
      expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 70 });
    });
  });

  describe('personal values outside the chain', () => {
    let store: TestStore;
    let trail: AuditTrail;
    beforeAll(async () => {
      store = await openTestStore(dialect);
      trail = trailFor(store);
      for (const [subject, email] of [
        ['hcp_a', 'ana@example.com'],
        ['hcp_b', 'bruno@example.com'],
      ] as const) {
        await trail.record(store.db, {
          actor: compliance,
          action: 'hcp.created',
          target: { type: 'hcp', id: subject },
          subjectId: subject,
          after: { market: 'BR' },
          personal: { email, whatsappNumber: subject === 'hcp_a' ? '+5511987654321' : '+5521998765432' },
        });
        await trail.record(store.db, {
          actor: compliance,
          action: 'hcp.updated',
          target: { type: 'hcp', id: subject },
          subjectId: subject,
          before: { segment: 'A' },
          after: { segment: 'B' },
        });
      }
    });
    afterAll(async () => {
      await store?.destroy();
    });

    it('keeps personal values sealed and out of the chain rows', async () => {
      const rows = await store.db.selectFrom('audit_events').selectAll().execute();
      const chainText = JSON.stringify(rows);
      const personalText = JSON.stringify(await store.db.selectFrom('audit_personal').selectAll().execute());
      for (const value of ['ana@example.com', '+5511987654321', '5511987654321']) {
        expect(chainText).not.toContain(value);
        expect(personalText).not.toContain(value);
      }
    });

    it("reads one subject's personal values, opened, for an access request, and nobody else's", async () => {
      const values = await personalAuditValuesOf(store.db, cipher, 'hcp_a');
      expect(values).toEqual([
        expect.objectContaining({
          action: 'hcp.created',
          target: { type: 'hcp', id: 'hcp_a' },
          values: { email: 'ana@example.com', whatsappNumber: '+5511987654321' },
        }),
      ]);
      expect(JSON.stringify(values)).not.toContain('bruno');
    });

    it('erases one subject: the sealed values are gone, the other subject keeps theirs, the chain verifies', async () => {
      const erased = await store.db.transaction().execute(async (tx) => {
        const n = await erasePersonalAuditValues(tx, 'hcp_a');
        await trail.record(tx, {
          actor: compliance,
          action: 'hcp.erased',
          target: { type: 'hcp', id: 'hcp_a' },
          subjectId: 'hcp_a',
        });
        return n;
      });
      expect(erased).toBe(1);
      expect(await personalAuditValuesOf(store.db, cipher, 'hcp_a')).toEqual([]);
      const left = await store.db.selectFrom('audit_personal').selectAll().execute();
      expect(left.map((r) => r.subject_id)).toEqual(['hcp_b']);
      expect(left.map((r) => cipher.open(r.payload_enc)).join()).not.toContain('ana@example.com');
      expect((await personalAuditValuesOf(store.db, cipher, 'hcp_b'))[0]?.values).toMatchObject({
        email: 'bruno@example.com',
      });
      // The chain rows, pointers included, are untouched: the trail still verifies end to end.
      expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 5 });
      const events = await listAuditEvents(store.db, { subjectId: 'hcp_a', order: 'asc', limit: 10 });
      expect(events.items.map((e) => e.action)).toEqual(['hcp.created', 'hcp.updated', 'hcp.erased']);
      expect(await erasePersonalAuditValues(store.db, 'hcp_a')).toBe(0);
    });
  });

  describe('listing events', () => {
    it('filters by target, subject, actor, action and time, and pages by cursor in both orders', async () => {
      const store = await fresh();
      const clock = new ManualClock('2026-03-03T14:00:00.000Z');
      const trail = trailFor(store, clock);
      for (let i = 1; i <= 7; i += 1) {
        await trail.record(store.db, {
          actor: i % 2 ? compliance : null,
          action: i % 2 ? 'template.approved' : 'template.withdrawn',
          target: { type: 'template', id: i <= 4 ? 'tpl_1' : 'tpl_2' },
          subjectId: i === 7 ? 'hcp_a' : null,
          reason: `reason ${i}`,
          before: { status: 'x' },
          after: { status: `v${i}` },
        });
        clock.advance(60_000);
      }
      const list = (q: Partial<Parameters<typeof listAuditEvents>[1]>) =>
        listAuditEvents(store.db, { limit: 50, ...q }).then((p) => p.items.map((e) => e.seq));
      expect(await list({})).toEqual([7, 6, 5, 4, 3, 2, 1]);
      expect(await list({ targetType: 'template', targetId: 'tpl_2' })).toEqual([7, 6, 5]);
      expect(await list({ subjectId: 'hcp_a' })).toEqual([7]);
      expect(await list({ actorId: compliance.id })).toEqual([7, 5, 3, 1]);
      expect(await list({ action: 'template.withdrawn' })).toEqual([6, 4, 2]);
      expect(await list({ from: '2026-03-03T14:02:00.000Z', to: '2026-03-03T14:04:00.000Z' })).toEqual([
        4, 3,
      ]);

      const seen: number[] = [];
      let afterSeq: number | undefined;
      for (let pages = 0; pages < 10; pages += 1) {
        const page = await listAuditEvents(store.db, { order: 'asc', limit: 3, afterSeq });
        seen.push(...page.items.map((e) => e.seq));
        if (!page.nextCursor) break;
        afterSeq = page.items[page.items.length - 1]!.seq;
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);

      const [newest] = (await listAuditEvents(store.db, { limit: 1 })).items;
      expect(newest).toMatchObject({
        seq: 7,
        at: '2026-03-03T14:06:00.000Z',
        actor: compliance,
        action: 'template.approved',
        target: { type: 'template', id: 'tpl_2' },
        subjectId: 'hcp_a',
        reason: 'reason 7',
        before: { status: 'x' },
        after: { status: 'v7' },
        hasPersonalValues: false,
      });
    });
  });
});
