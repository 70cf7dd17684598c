import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';

const validHcp = {
  name: 'Dra. Elena Prado',
  market: 'BR',
  timeZone: 'America/Sao_Paulo',
  language: 'pt-BR',
  whatsappNumber: '+5511955554444',
  email: 'elena.prado@example.com.br',
  specialty: 'Nephrology',
  institution: 'Hospital das Clínicas',
  crmId: 'CRM-NEW-1',
  segment: 'A',
  territoryIds: ['ter_br1'],
};

describe.each(DIALECTS)('the HCP directory over HTTP on %s', (dialect) => {
  let p: TestParley;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    p = await startTestParley(dialect);
    for (const u of ['rep1', 'rep2', 'admin', 'compliance', 'manager', 'msl', 'brand'] as const)
      tokens[u] = await p.world.tokenFor(u);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const get = (user: string, url: string) =>
    p.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens[user]}` } });
  const create = (user: string, payload: unknown) =>
    p.app.inject({
      method: 'POST',
      url: '/api/hcps',
      headers: { authorization: `Bearer ${tokens[user]}` },
      payload: payload as object,
    });
  const ids = (res: { json(): { items: Array<{ id: string }> } }) => res.json().items.map((h) => h.id);

  describe('POST /api/hcps', () => {
    it('creates an HCP (admin): 201 with the HCP, sealed at rest, one audit event by the admin', async () => {
      const res = await create('admin', validHcp);
      expect(res.statusCode).toBe(201);
      const hcp = res.json();
      expect(hcp).toEqual({
        id: expect.stringMatching(/^hcp_/),
        crmId: 'CRM-NEW-1',
        name: 'Dra. Elena Prado',
        specialty: 'Nephrology',
        institution: 'Hospital das Clínicas',
        whatsappNumber: '+5511955554444',
        email: 'elena.prado@example.com.br',
        market: 'BR',
        timeZone: 'America/Sao_Paulo',
        language: 'pt-BR',
        segment: 'A',
        territoryIds: ['ter_br1'],
        whatsappStatus: 'active',
        marketingStopped: false,
        erased: false,
      });
      const row = await p.context.db
        .selectFrom('hcps')
        .selectAll()
        .where('id', '=', hcp.id)
        .executeTakeFirstOrThrow();
      expect(row.whatsapp_number_enc).not.toContain('5511955554444');
      expect(row.email_enc).not.toContain('elena');
      const events = await p.context.db
        .selectFrom('audit_events')
        .selectAll()
        .where('target_id', '=', hcp.id)
        .execute();
      expect(events.map((e) => [e.action, e.actor_id])).toEqual([['hcp.created', p.world.users.admin.id]]);
      expect(events[0]!.changes_json).not.toMatch(/5511955554444|elena/);
      // The rep of that territory now finds it; the other rep does not.
      expect((await get('rep1', `/api/hcps/${hcp.id}`)).statusCode).toBe(200);
      expect((await get('rep2', `/api/hcps/${hcp.id}`)).statusCode).toBe(404);
    });

    it.each(['rep1', 'compliance', 'manager', 'brand'])('refuses %s with 403 (admin only)', async (user) => {
      const res = await create(user, { ...validHcp, crmId: `CRM-BY-${user}` });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    });

    it.each([
      ['a time zone that is not IANA', { timeZone: 'Mars/Olympus' }, 'body.timeZone'],
      ['an offset instead of a zone', { timeZone: 'GMT+25' }, 'body.timeZone'],
      ['a number that is not E.164', { whatsappNumber: '011 98765-4321' }, 'body.whatsappNumber'],
      ['a number that cannot exist', { whatsappNumber: '+5500000' }, 'body.whatsappNumber'],
      ['an email that is not one', { email: 'not-an-email' }, 'body.email'],
      ['a market that does not exist', { market: 'ZZ' }, 'body.market'],
      ['a market code of the wrong form', { market: 'brazil' }, 'body.market'],
      ['a territory that does not exist', { territoryIds: ['ter_nowhere'] }, 'body.territoryIds.0'],
      ['a territory of another market', { territoryIds: ['ter_br1', 'ter_es1'] }, 'body.territoryIds.1'],
      ['no territory at all', { territoryIds: [] }, 'body.territoryIds'],
      ['an empty name', { name: '' }, 'body.name'],
      ['a language that is not a tag', { language: 'Portuguese!' }, 'body.language'],
    ])('rejects %s with 400 naming the field, and stores nothing', async (_name, change, path) => {
      const count = async () =>
        Number(
          (
            await p.context.db
              .selectFrom('hcps')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await count();
      const res = await create('admin', { ...validHcp, crmId: undefined, ...change });
      expect(res.statusCode).toBe(400);
      const { error } = res.json();
      expect(error.code).toBe('validation_failed');
      expect(error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect(await count()).toBe(before);
    });

    it('names every bad field at once', async () => {
      const res = await create('admin', { market: 'BR', timeZone: 'Nowhere', whatsappNumber: '12' });
      expect(res.statusCode).toBe(400);
      const paths = res.json().error.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'body.name',
          'body.timeZone',
          'body.language',
          'body.whatsappNumber',
          'body.territoryIds',
        ]),
      );
    });

    it('answers 409 for a CRM id already in use, and writes nothing', async () => {
      const before = await p.context.db.selectFrom('audit_events').select('seq').execute();
      const res = await create('admin', { ...validHcp, crmId: 'CRM-BR1A', whatsappNumber: null });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('conflict');
      const after = await p.context.db.selectFrom('audit_events').select('seq').execute();
      expect(after.length).toBe(before.length);
    });

    it('ignores fields a client may not set (id, status, erasure)', async () => {
      const res = await create('admin', {
        ...validHcp,
        crmId: 'CRM-MASS-1',
        id: 'hcp_chosen',
        whatsappStatus: 'suspended',
        erased: true,
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ whatsappStatus: 'active', erased: false });
      expect(res.json().id).not.toBe('hcp_chosen');
    });
  });

  describe('GET /api/hcps', () => {
    it.each([
      ['a part of the name, in any case', 'rep1', 'q=souza', ['br1a']],
      ['a CRM id', 'rep1', 'q=CRM-BR1B', ['br1b']],
      ['a CRM id out of scope (nothing)', 'rep2', 'q=CRM-BR1B', []],
      ['a CRM id outside the market asked for (nothing)', 'compliance', 'market=ES&q=CRM-BR1B', []],
      ['a part of a CRM id (CRM ids match exactly: nothing)', 'rep1', 'q=BR1B', []],
      ['an exact E.164 number', 'rep1', `q=${encodeURIComponent('+5511987654321')}`, ['br1a']],
      ['a number written with spaces', 'rep1', `q=${encodeURIComponent('+55 11 98765-4321')}`, ['br1a']],
      ['a number of an HCP out of scope (nothing)', 'rep2', `q=${encodeURIComponent('+5511987654321')}`, []],
      ['a name out of scope (nothing)', 'rep2', 'q=Souza', []],
      ['a market', 'compliance', 'market=ES', ['es1a']],
      ['a market and a name', 'compliance', 'market=BR&q=dr.%20bruno', ['br1b']],
      ['a part of a number (no partial number matches)', 'rep1', 'q=98765', []],
    ] as const)('finds HCPs by %s', async (_name, user, query, expected) => {
      const res = await get(user, `/api/hcps?${query}`);
      expect(res.statusCode).toBe(200);
      expect(ids(res).sort()).toEqual(expected.map((k) => p.world.hcps[k].id).sort());
    });

    it('walks every visible HCP page by page, each once, with nextCursor null at the end', async () => {
      const all = ids(await get('compliance', '/api/hcps?limit=200'));
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await get(
          'compliance',
          `/api/hcps?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(res.statusCode).toBe(200);
        seen.push(...ids(res));
        cursor = res.json().nextCursor;
        pages += 1;
      } while (cursor && pages < 50);
      expect(seen).toEqual(all);
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBe(Math.ceil(all.length / 2));
    });

    it.each([
      ['a limit that is not a number', 'limit=abc', 'querystring.limit'],
      ['a limit above 200', 'limit=1000', 'querystring.limit'],
      ['a market of the wrong form', 'market=Brazil', 'querystring.market'],
    ])('rejects %s with 400 naming the field', async (_name, query, path) => {
      const res = await get('rep1', `/api/hcps?${query}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.details.map((d: { path: string }) => d.path)).toContain(path);
    });

    it('rejects a cursor that is not one of ours with 400', async () => {
      const res = await get('rep1', '/api/hcps?cursor=bm90LWEtY3Vyc29y');
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    });

    it('shows brand, medical and digital no HCP at all (aggregates only)', async () => {
      const res = await get('brand', '/api/hcps');
      expect(res.json()).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('GET /api/hcps/:id', () => {
    it('shows an HCP in scope with its number and email opened', async () => {
      const res = await get('rep1', `/api/hcps/${p.world.hcps.br1a.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        crmId: 'CRM-BR1A',
        whatsappNumber: '+5511987654321',
        email: 'ana.souza@example.com.br',
        territoryIds: ['ter_br1'],
      });
    });

    it('answers 404 out of scope, with an out_of_scope line naming who and what', async () => {
      const res = await get('rep2', `/api/hcps/${p.world.hcps.br1a.id}`);
      expect(res.statusCode).toBe(404);
      const line = await p.context.db
        .selectFrom('security_log')
        .selectAll()
        .where('kind', '=', 'out_of_scope')
        .where('actor_id', '=', p.world.users.rep2.id)
        .where('target', '=', p.world.hcps.br1a.id)
        .executeTakeFirst();
      expect(line).toMatchObject({ method: 'GET', route: '/api/hcps/:id' });
    });

    it('hides an erased HCP from the rep who saw it, but not from compliance', async () => {
      const hcp = (await create('admin', { ...validHcp, crmId: 'CRM-ERASED', whatsappNumber: null })).json();
      await p.context.db
        .updateTable('hcps')
        .set({ erased_at: p.clock.now().toISOString() })
        .where('id', '=', hcp.id)
        .execute();
      expect((await get('rep1', `/api/hcps/${hcp.id}`)).statusCode).toBe(404);
      expect((await get('compliance', `/api/hcps/${hcp.id}`)).json().erased).toBe(true);
    });
  });

  it('throttles bulk extraction: a user reading the directory too fast gets 429 and an alert', async () => {
    const token = await p.world.tokenFor('msl');
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) {
      const res = await p.app.inject({
        method: 'GET',
        url: `/api/hcps?limit=1&q=n${i}`,
        headers: { authorization: `Bearer ${token}` },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, 120).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(120).every((s) => s === 429)).toBe(true);
    const alert = await p.context.db
      .selectFrom('security_log')
      .selectAll()
      .where('kind', '=', 'throttled')
      .where('actor_id', '=', p.world.users.msl.id)
      .execute();
    expect(alert.length).toBeGreaterThan(0);
    expect(JSON.parse(alert[0]!.detail_json)).toMatchObject({ rule: 'hcp_reads_per_user' });
    // Another user is not held back by it.
    expect((await get('rep1', '/api/hcps')).statusCode).toBe(200);
  });
});
