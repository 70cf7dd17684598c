import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NUL_REFUSED } from '../platform/text/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { recordInteraction } from './interactions.store.js';

describe.each(DIALECTS)('interactions and the timeline on %s', (dialect) => {
  let p: TestParley;
  let rep1: string;
  let rep2: string;
  let compliance: string;
  let brand: string;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    [rep1, rep2, compliance, brand] = await Promise.all([
      p.world.tokenFor('rep1'),
      p.world.tokenFor('rep2'),
      p.world.tokenFor('compliance'),
      p.world.tokenFor('brand'),
    ]);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const post = (token: string, payload: Record<string, unknown>) =>
    p.app.inject({
      method: 'POST',
      url: '/api/interactions',
      headers: { authorization: `Bearer ${token}` },
      payload,
    });
  const get = (token: string, url: string) =>
    p.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  it('answers an empty body with 400 and the bad fields named', async () => {
    const res = await post(rep1, {});
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('validation_failed');
    expect(typeof body.error.message).toBe('string');
    const paths = (body.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(['body.hcpId', 'body.channel', 'body.kind', 'body.occurredAt']),
    );
  });

  it('answers text holding a NUL with 400 and its path (PostgreSQL cannot store one), writing nothing', async () => {
    const res = await post(rep1, {
      hcpId: p.world.hcps.br1a.id,
      channel: 'f2f',
      kind: 'call',
      occurredAt: '2026-03-02T10:00:00-03:00',
      summary: 'Discussed\u0000dosing',
      source: 'veeva',
      externalId: 'CALL-NUL',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual({
      code: 'validation_failed',
      message: `The body is not valid: body.summary: ${NUL_REFUSED}`,
      details: [{ path: 'body.summary', message: NUL_REFUSED }],
    });
    const timeline = await get(rep1, `/api/hcps/${p.world.hcps.br1a.id}/timeline?rep=%00`);
    expect(timeline.statusCode).toBe(400);
    expect(timeline.json().error.details).toEqual([{ path: 'querystring.rep', message: NUL_REFUSED }]);
    const stored = await p.context.db
      .selectFrom('interactions')
      .select('id')
      .where('external_id', '=', 'CALL-NUL')
      .execute();
    expect(stored).toEqual([]);
  });

  it('logs a call for an own HCP: 201, the contract shape, one audit event without the note in clear', async () => {
    const hcpId = p.world.hcps.br1a.id;
    const res = await post(rep1, {
      hcpId,
      channel: 'f2f',
      kind: 'call',
      occurredAt: '2026-03-02T10:00:00-03:00',
      summary: 'Discussed dosing',
      topics: ['dosing'],
      products: ['cardiozen'],
      source: 'veeva',
      externalId: 'CALL-1',
    });
    expect(res.statusCode).toBe(201);
    const i = res.json();
    expect(i).toMatchObject({
      hcpId,
      channel: 'f2f',
      direction: 'outbound',
      kind: 'call',
      occurredAt: '2026-03-02T13:00:00.000Z',
      repId: p.world.users.rep1.id,
      summary: 'Discussed dosing',
      topics: ['dosing'],
      products: ['cardiozen'],
      source: 'veeva',
      externalId: 'CALL-1',
      templateId: null,
      assetIds: [],
    });
    const audits = await p.context.db
      .selectFrom('audit_events')
      .selectAll()
      .where('target_id', '=', i.id)
      .execute();
    expect(audits.map((a) => a.action)).toEqual(['interaction.logged']);
    expect(audits[0]!.changes_json).not.toContain('Discussed dosing');
  });

  it('answers a repeat of (source, externalId) with 200 and the same object, writing nothing', async () => {
    const payload = {
      hcpId: p.world.hcps.br1a.id,
      channel: 'email',
      kind: 'email_sent',
      occurredAt: '2026-03-01T09:00:00Z',
      source: 'veeva',
      externalId: 'MAIL-7',
    };
    const first = await post(rep1, payload);
    expect(first.statusCode).toBe(201);
    const auditsBefore = await p.context.db.selectFrom('audit_events').select('seq').execute();
    const again = await Promise.all([post(rep1, payload), post(rep1, payload)]);
    expect(again.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(again.map((r) => r.json())).toEqual([first.json(), first.json()]);
    const rows = await p.context.db
      .selectFrom('interactions')
      .selectAll()
      .where('external_id', '=', 'MAIL-7')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.updated_at).toBe(rows[0]!.created_at);
    const auditsAfter = await p.context.db.selectFrom('audit_events').select('seq').execute();
    expect(auditsAfter).toHaveLength(auditsBefore.length);
  });

  it('updates in place when a repeat carries a change, with one interaction.updated event', async () => {
    const payload = {
      hcpId: p.world.hcps.br1b.id,
      channel: 'virtual',
      kind: 'meeting',
      occurredAt: '2026-03-01T11:00:00Z',
      source: 'salesforce',
      externalId: 'EV-1',
    };
    const first = (await post(rep1, payload)).json();
    const res = await post(rep1, { ...payload, topics: ['follow-up'] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: first.id, topics: ['follow-up'] });
    const actions = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', first.id)
      .orderBy('seq')
      .execute();
    expect(actions.map((a) => a.action)).toEqual(['interaction.logged', 'interaction.updated']);
  });

  it.each([
    ['a rep logging for an HCP of another territory', 'rep2', 'br1a', 404],
    ['a brand user, who sees aggregates only', 'brand', 'br1a', 403],
  ] as const)('refuses %s', async (_name, user, hcp, status) => {
    const token = user === 'rep2' ? rep2 : brand;
    const res = await post(token, {
      hcpId: p.world.hcps[hcp].id,
      channel: 'phone',
      kind: 'call',
      occurredAt: '2026-03-01T11:00:00Z',
    });
    expect(res.statusCode).toBe(status);
  });

  it('lets a manager log for a rep they lead, and no one else', async () => {
    const manager = await p.world.tokenFor('manager');
    const base = {
      hcpId: p.world.hcps.br1a.id,
      channel: 'phone',
      kind: 'call',
      occurredAt: '2026-03-01T12:00:00Z',
    };
    const ok = await post(manager, { ...base, repId: p.world.users.rep1.id });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().repId).toBe(p.world.users.rep1.id);
    expect((await post(manager, { ...base, repId: p.world.users.repEs.id })).statusCode).toBe(400);
  });

  it('refuses to move a (source, externalId) onto another HCP', async () => {
    const base = {
      channel: 'phone',
      kind: 'call',
      occurredAt: '2026-03-01T11:00:00Z',
      source: 'veeva',
      externalId: 'MOVE-1',
    };
    expect((await post(compliance, { ...base, hcpId: p.world.hcps.br1a.id })).statusCode).toBe(201);
    const res = await post(compliance, { ...base, hcpId: p.world.hcps.br2a.id });
    expect(res.statusCode).toBe(409);
  });

  it('opens a case when a call note mentions an adverse event, with the clock at the call, and none on a repeat', async () => {
    const payload = {
      hcpId: p.world.hcps.br1b.id,
      channel: 'f2f',
      kind: 'call',
      occurredAt: '2026-03-03T09:00:00Z',
      summary: 'My patient developed a rash and swelling after starting the new dose',
      source: 'veeva',
      externalId: 'AE-NOTE-1',
    };
    const first = await post(rep1, payload);
    expect(first.statusCode).toBe(201);
    const casesOf = () =>
      p.context.db
        .selectFrom('cases')
        .select(['kind', 'aware_at', 'verbatim_enc'])
        .where('interaction_id', '=', first.json().id)
        .execute();
    const opened = await casesOf();
    expect(opened.map((c) => c.kind)).toContain('adverse_event');
    expect(opened.every((c) => c.aware_at === '2026-03-03T09:00:00.000Z')).toBe(true);
    expect(opened.map((c) => c.verbatim_enc).join()).not.toContain('rash');
    expect((await post(rep1, payload)).statusCode).toBe(200);
    expect(await casesOf()).toHaveLength(opened.length);
  });

  it('shows a timeline newest first, with what, who and filters', async () => {
    const hcpId = p.world.hcps.br2a.id;
    for (const [i, channel, kind] of [
      [1, 'f2f', 'call'],
      [2, 'email', 'email_sent'],
      [3, 'event', 'event_attended'],
    ] as const) {
      expect(
        (
          await post(rep2, {
            hcpId,
            channel,
            kind,
            occurredAt: `2026-02-0${i}T10:00:00Z`,
            products: i === 2 ? ['cardio_zen'] : ['other'],
          })
        ).statusCode,
      ).toBe(201);
    }
    const all = (await get(rep2, `/api/hcps/${hcpId}/timeline`)).json();
    expect(all.items.map((x: { kind: string }) => x.kind)).toEqual(['event_attended', 'email_sent', 'call']);
    expect(all.items[2]).toMatchObject({ what: 'Call (face to face)', repName: 'Test rep2', template: null });
    expect(all.nextCursor).toBeNull();
    const emails = (
      await get(rep2, `/api/hcps/${hcpId}/timeline?channel=email,event&kind=email_sent`)
    ).json();
    expect(emails.items.map((x: { kind: string }) => x.kind)).toEqual(['email_sent']);
    const period = (
      await get(rep2, `/api/hcps/${hcpId}/timeline?from=2026-02-02T00:00:00Z&to=2026-02-03T00:00:00Z`)
    ).json();
    expect(period.items.map((x: { kind: string }) => x.kind)).toEqual(['email_sent']);
    // `_` is a LIKE wildcard: the product filter must match the exact element, not "cardioXzen".
    const product = (await get(rep2, `/api/hcps/${hcpId}/timeline?product=cardio_zen`)).json();
    expect(product.items).toHaveLength(1);
    const byRep = (await get(rep2, `/api/hcps/${hcpId}/timeline?rep=${p.world.users.rep1.id}`)).json();
    expect(byRep.items).toHaveLength(0);
    expect((await get(rep2, `/api/hcps/${hcpId}/timeline?channel=fax`)).statusCode).toBe(400);
    expect((await get(rep2, `/api/hcps/${hcpId}/timeline?cursor=nonsense`)).statusCode).toBe(400);
  });

  it("hides another territory's timeline behind a 404 and logs the attempt", async () => {
    const res = await get(rep1, `/api/hcps/${p.world.hcps.br2a.id}/timeline`);
    expect(res.statusCode).toBe(404);
    const logged = await p.context.db
      .selectFrom('security_log')
      .select('target')
      .where('kind', '=', 'out_of_scope')
      .where('target', '=', p.world.hcps.br2a.id)
      .execute();
    expect(logged.length).toBeGreaterThan(0);
  });

  it('pages through every row once, in order, while rows are inserted concurrently', async () => {
    const hcpId = p.world.hcps.es1a.id;
    const base = Date.parse('2025-06-01T00:00:00Z');
    const seeded: string[] = [];
    for (let i = 0; i < 60; i++) {
      // Several rows share a moment, so the id tie-breaker is exercised.
      const at = new Date(base + Math.floor(i / 3) * 60_000).toISOString();
      const { interaction } = await recordInteraction(p.context.db, p.context, {
        hcpId,
        channel: 'phone',
        direction: 'outbound',
        kind: 'call',
        occurredAt: at,
        source: 'seed',
        externalId: `S-${i}`,
      });
      seeded.push(interaction.id);
    }
    const token = await p.world.tokenFor('compliance');
    const seen: { id: string; occurredAt: string }[] = [];
    let cursor: string | null = null;
    let n = 0;
    do {
      const url: string = `/api/hcps/${hcpId}/timeline?limit=7${cursor ? `&cursor=${cursor}` : ''}`;
      const [page] = await Promise.all([
        get(token, url),
        // Newer, older and same-moment rows land between pages.
        recordInteraction(p.context.db, p.context, {
          hcpId,
          channel: 'web',
          direction: 'inbound',
          kind: 'click',
          occurredAt: new Date(base + ((n * 37) % 25) * 60_000 - 30_000).toISOString(),
          source: 'concurrent',
          externalId: `C-${n++}`,
        }),
      ]);
      const body = page.json() as { items: { id: string; occurredAt: string }[]; nextCursor: string | null };
      seen.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor);
    const ids = seen.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => seeded.includes(id)).sort()).toEqual([...seeded].sort());
    const keys = seen.map((s) => `${s.occurredAt}|${s.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });
});
