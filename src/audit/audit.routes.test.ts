import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { removeAuditGuards } from '../test-support/rogue-dba.js';

describe.each(DIALECTS)('the audit routes on %s', (dialect) => {
  let p: TestParley;
  const get = async (user: Parameters<TestParley['world']['tokenFor']>[0] | null, url: string) => {
    const headers = user ? { authorization: `Bearer ${await p.world.tokenFor(user)}` } : {};
    return p.app.inject({ method: 'GET', url, headers });
  };
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  describe('GET /api/audit/verify', () => {
    it.each(['compliance', 'admin'] as const)('lets %s verify the whole chain', async (user) => {
      const res = await get(user, '/api/audit/verify');
      expect(res.statusCode).toBe(200);
      const body = res.json();
      const events = await p.context.db.selectFrom('audit_events').select('seq').execute();
      expect(events.length).toBeGreaterThanOrEqual(4); // the world's HCPs, at least
      expect(body).toMatchObject({ ok: true, checked: events.length, head: { seq: events.length } });
      expect(body.firstBrokenId).toBeUndefined();
      expect(p.logs.join('\n')).toContain('audit chain verified');
    });

    it.each(['rep1', 'manager', 'msl', 'pv', 'brand', 'medical', 'digital'] as const)(
      'refuses %s with 403',
      async (user) => {
        const res = await get(user, '/api/audit/verify');
        expect(res.statusCode).toBe(403);
        expect(res.json().error.code).toBe('forbidden');
      },
    );

    it('refuses an anonymous caller with 401', async () => {
      expect((await get(null, '/api/audit/verify')).statusCode).toBe(401);
    });

    it('checks the chain against heads recorded earlier (?anchor=seq:hash), and names a malformed one', async () => {
      const { head } = (await get('compliance', '/api/audit/verify')).json();
      const anchored = await get(
        'compliance',
        `/api/audit/verify?anchor=0:${'0'.repeat(64)},${head.seq}:${head.hash}`,
      );
      expect(anchored.json()).toMatchObject({ ok: true });
      const wrong = await get('compliance', `/api/audit/verify?anchor=${head.seq}:${'e'.repeat(64)}`);
      expect(wrong.json()).toMatchObject({ ok: false, firstBrokenSeq: head.seq, problem: 'anchor_mismatch' });
      const bad = await get('compliance', '/api/audit/verify?anchor=12:nothex');
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.details[0].path).toMatch(/^querystring\.anchor/);
    });

    it('is not itself a state change: verifying writes no audit event', async () => {
      const before = await p.context.audit.verify(p.context.db);
      await get('compliance', '/api/audit/verify');
      expect((await p.context.audit.verify(p.context.db)).checked).toBe(before.checked);
    });
  });

  describe('GET /api/audit', () => {
    it('pages through events with actor, action, target, before/after, reason and time, and no personal values', async () => {
      const seen: Array<Record<string, unknown>> = [];
      let url = '/api/audit?targetType=hcp&order=asc&limit=3';
      for (let pages = 0; pages < 5; pages += 1) {
        const res = await get('compliance', url);
        expect(res.statusCode).toBe(200);
        const body = res.json();
        seen.push(...body.items);
        if (!body.nextCursor) break;
        url = `/api/audit?targetType=hcp&order=asc&limit=3&cursor=${body.nextCursor}`;
      }
      expect(seen.map((e) => e.target)).toEqual(
        Object.values(p.world.hcps).map((h) => ({ type: 'hcp', id: h.id })),
      );
      const seqs = seen.map((e) => e.seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seen[0]).toMatchObject({
        actor: null,
        action: 'hcp.created',
        subjectId: p.world.hcps.br1a.id,
        reason: null,
        before: null,
        after: { crmId: 'CRM-BR1A', market: 'BR', territoryIds: ['ter_br1'] },
        hasPersonalValues: true,
        at: '2026-03-03T14:00:00.000Z',
      });
      const text = JSON.stringify(seen);
      for (const personal of ['+5511987654321', '5511987654321', 'ana.souza@example.com.br', 'Ana Souza'])
        expect(text).not.toContain(personal);
    });

    it('filters by subject and by time window', async () => {
      const mine = await get('admin', `/api/audit?subjectId=${p.world.hcps.es1a.id}`);
      expect(mine.json().items.map((e: { target: { id: string } }) => e.target.id)).toEqual([
        p.world.hcps.es1a.id,
      ]);
      const none = await get('admin', '/api/audit?from=2026-03-04T00:00:00Z');
      expect(none.json()).toEqual({ items: [], nextCursor: null });
      // The world was built at 14:00; one event later in the day falls outside a window ending at 15:00.
      p.clock.set('2026-03-03T16:30:00.000Z');
      await p.context.audit.record(p.context.db, {
        actor: null,
        action: 'test.later',
        target: { type: 'test', id: 'later' },
      });
      const all = await p.context.db.selectFrom('audit_events').select(['seq', 'at']).execute();
      const inWindow = all
        .filter((e) => e.at >= '2026-03-03T13:00:00.000Z' && e.at < '2026-03-03T15:00:00.000Z')
        .map((e) => e.seq)
        .sort((a, b) => b - a);
      expect(inWindow.length).toBe(all.length - 1);
      const window = await get(
        'admin',
        '/api/audit?from=2026-03-03T13:00:00%2B00:00&to=2026-03-03T15:00:00Z&limit=2',
      );
      expect(window.json().items.map((e: { seq: number }) => e.seq)).toEqual(inWindow.slice(0, 2));
      const later = await get('admin', '/api/audit?from=2026-03-03T16:00:00Z');
      expect(later.json().items.map((e: { action: string }) => e.action)).toEqual(['test.later']);
    });

    it.each([
      ['a cursor it never gave out', '/api/audit?cursor=not-a-cursor', 'querystring.cursor'],
      ['a time that is not ISO-8601', '/api/audit?from=yesterday', 'querystring.from'],
      ['a limit over 500', '/api/audit?limit=501', 'querystring.limit'],
      ['an unknown order', '/api/audit?order=sideways', 'querystring.order'],
    ])('answers 400 naming the field for %s', async (_case, url, path) => {
      const res = await get('compliance', url);
      expect(res.statusCode).toBe(400);
      const { error } = res.json();
      expect(error.code).toBe('validation_failed');
      expect(error.details.map((d: { path: string }) => d.path)).toContain(path);
    });

    it.each(['rep1', 'manager', 'brand'] as const)('refuses %s with 403', async (user) => {
      expect((await get(user, '/api/audit')).statusCode).toBe(403);
    });
  });

  it('describes both routes in the OpenAPI document', async () => {
    const res = await get(null, '/api/docs');
    expect(res.statusCode).toBe(200);
    const paths = res.json().paths;
    expect(paths['/api/audit/verify'].get.responses['200']).toBeDefined();
    expect(paths['/api/audit'].get.parameters.map((q: { name: string }) => q.name)).toEqual(
      expect.arrayContaining(['targetType', 'targetId', 'subjectId', 'from', 'to', 'limit', 'cursor']),
    );
  });

  describe('a tampered trail', () => {
    it('is reported over HTTP with the first broken row, and logged as an error', async () => {
      await removeAuditGuards({ db: p.context.db, dialect: p.context.dialect });
      const second = await p.context.db
        .selectFrom('audit_events')
        .select('id')
        .where('seq', '=', 2)
        .executeTakeFirstOrThrow();
      await p.context.db
        .updateTable('audit_events')
        .set({ target_id: 'hcp_someone_else' })
        .where('seq', '=', 2)
        .execute();
      const res = await get('compliance', '/api/audit/verify');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        ok: false,
        checked: 1,
        firstBrokenId: second.id,
        firstBrokenSeq: 2,
        problem: 'hash_mismatch',
      });
      expect(p.logs.join('\n')).toMatch(/audit chain broken: seq 2/);
    });
  });
});
