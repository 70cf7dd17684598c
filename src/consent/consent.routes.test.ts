import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley, type TestWorld } from '../test-support/index.js';
import { insertOutbound } from './consent-fixtures.test-support.js';

type UserKey = keyof TestWorld['users'];
type HcpKey = keyof TestWorld['hcps'];

describe.each(DIALECTS)('consent and preferences over HTTP on %s', (dialect) => {
  let p: TestParley;
  const tokens = new Map<UserKey, string>();

  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p.destroy();
  });

  async function call(
    user: UserKey,
    method: 'GET' | 'POST' | 'PUT',
    hcp: HcpKey,
    path: string,
    payload?: unknown,
  ) {
    if (!tokens.has(user)) tokens.set(user, await p.world.tokenFor(user));
    return p.app.inject({
      method,
      url: `/api/hcps/${p.world.hcps[hcp].id}/${path}`,
      headers: { authorization: `Bearer ${tokens.get(user)}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  }

  const grant = {
    channel: 'whatsapp',
    purpose: 'service',
    status: 'granted',
    source: 'written_form',
    evidence: 'DOC-2026-001',
    wordingVersion: 'wa-consent-v3',
  };

  it('lists every channel × purpose as none, and an empty ledger, before anything is recorded', async () => {
    const res = await call('rep1', 'GET', 'br1b', 'consent');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ledger).toEqual([]);
    expect(body.current).toHaveLength(20);
    expect(
      body.current.every((c: { status: string; since: null }) => c.status === 'none' && c.since === null),
    ).toBe(true);
  });

  it('records a rep’s grant for an HCP of their own territory, audited and on the timeline', async () => {
    const res = await call('rep1', 'POST', 'br1a', 'consent', grant);
    expect(res.statusCode).toBe(201);
    const entry = res.json();
    expect(entry).toMatchObject({
      hcpId: p.world.hcps.br1a.id,
      channel: 'whatsapp',
      purpose: 'service',
      status: 'granted',
      source: 'written_form',
      capturedBy: p.world.users.rep1.id,
      evidence: 'DOC-2026-001',
      wordingVersion: 'wa-consent-v3',
      capturedAt: p.clock.now().toISOString(),
    });
    const view = (await call('rep1', 'GET', 'br1a', 'consent')).json();
    expect(view.current).toContainEqual({
      channel: 'whatsapp',
      purpose: 'service',
      status: 'granted',
      since: entry.capturedAt,
    });
    expect(view.ledger.map((e: { id: string }) => e.id)).toContain(entry.id);
    const audit = await p.context.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'consent.recorded')
      .where('target_id', '=', entry.id)
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ subject_id: p.world.hcps.br1a.id, actor_id: p.world.users.rep1.id });
    const interaction = await p.context.db
      .selectFrom('interactions')
      .selectAll()
      .where('source', '=', 'parley')
      .where('external_id', '=', entry.id)
      .executeTakeFirstOrThrow();
    expect(interaction).toMatchObject({
      kind: 'consent_change',
      channel: 'whatsapp',
      hcp_id: p.world.hcps.br1a.id,
    });
  });

  it('stores a verbal grant as pending until the HCP confirms', async () => {
    const res = await call('rep1', 'POST', 'br1a', 'consent', {
      ...grant,
      purpose: 'promotional',
      source: 'verbal',
      evidence: 'call on 3 March',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().status).toBe('pending');
    const view = (await call('rep1', 'GET', 'br1a', 'consent')).json();
    expect(view.current).toContainEqual(
      expect.objectContaining({ channel: 'whatsapp', purpose: 'promotional', status: 'pending' }),
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['refuses a grant without evidence', { ...grant, evidence: undefined }, 'body.evidence'],
    ['refuses an unknown channel', { ...grant, channel: 'fax' }, 'body.channel'],
    ['refuses a posted pending status', { ...grant, status: 'pending' }, 'body.status'],
    [
      'refuses a grant claimed to come from the HCP’s own reply',
      { ...grant, source: 'double_opt_in' },
      'body.source',
    ],
    ['refuses a capture in the future', { ...grant, capturedAt: '2030-01-01T00:00:00Z' }, 'body.capturedAt'],
    [
      'refuses an expiry before the capture',
      { ...grant, expiresAt: '2020-01-01T00:00:00Z' },
      'body.expiresAt',
    ],
  ])('%s', async (_name, payload, path) => {
    const res = await call('rep1', 'POST', 'br1a', 'consent', payload);
    expect(res.statusCode).toBe(400);
    const error = res.json().error;
    expect(error.code).toBe('validation_failed');
    expect(error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it.each<[string, UserKey, HcpKey, string, number]>([
    ['lets compliance grant for any HCP', 'compliance', 'es1a', 'granted', 201],
    ['lets an admin grant for any HCP', 'admin', 'br2a', 'granted', 201],
    ['hides an HCP of another territory from a rep who tries to grant', 'rep2', 'br1a', 'granted', 404],
    ['forbids a manager to grant', 'manager', 'br1a', 'granted', 403],
    [
      'lets a manager withdraw: withdrawing is never harder than granting',
      'manager',
      'br1a',
      'withdrawn',
      201,
    ],
    ['forbids an MSL to grant', 'msl', 'br1b', 'granted', 403],
    ['lets an MSL record a refusal', 'msl', 'br1b', 'refused', 201],
    ['lets a rep withdraw for their own HCP', 'rep2', 'br2a', 'withdrawn', 201],
    ['hides the HCP from brand', 'brand', 'br1a', 'withdrawn', 404],
    ['hides an HCP of another territory from a rep, even to withdraw', 'repEs', 'br1a', 'withdrawn', 404],
  ])('%s', async (_name, user, hcp, status, expected) => {
    const res = await call(user, 'POST', hcp, 'consent', { ...grant, purpose: 'events', status });
    expect(res.statusCode).toBe(expected);
  });

  it('takes no more from a withdrawal than from a grant: the same fields, less the evidence', async () => {
    const minimalGrant = {
      channel: 'email',
      purpose: 'non_promotional',
      status: 'granted',
      source: 'web_form',
      evidence: 'web-7',
    };
    const minimalWithdrawal = {
      channel: 'email',
      purpose: 'non_promotional',
      status: 'withdrawn',
      source: 'web_form',
    };
    expect(Object.keys(minimalWithdrawal).length).toBeLessThan(Object.keys(minimalGrant).length);
    expect((await call('rep1', 'POST', 'br1b', 'consent', minimalGrant)).statusCode).toBe(201);
    p.clock.advance(1000);
    expect((await call('rep1', 'POST', 'br1b', 'consent', minimalWithdrawal)).statusCode).toBe(201);
    const view = (await call('rep1', 'GET', 'br1b', 'consent')).json();
    expect(view.current).toContainEqual(
      expect.objectContaining({ channel: 'email', purpose: 'non_promotional', status: 'withdrawn' }),
    );
  });

  it('writes an out-of-scope attempt to the security log', async () => {
    const res = await call('rep2', 'GET', 'br1b', 'consent');
    expect(res.statusCode).toBe(404);
    const logged = await p.context.db
      .selectFrom('security_log')
      .selectAll()
      .where('kind', '=', 'out_of_scope')
      .where('actor_id', '=', p.world.users.rep2.id)
      .where('target', '=', p.world.hcps.br1b.id)
      .execute();
    expect(logged.length).toBeGreaterThanOrEqual(1);
  });

  it('cancels the HCP’s unsent WhatsApp messages when WhatsApp consent is withdrawn, and nothing else', async () => {
    const hcp = p.world.hcps.br1b.id;
    const other = p.world.hcps.br1a.id;
    const at = p.clock.now().toISOString();
    await insertOutbound(p.context.db, {
      id: `m_q_${dialect}`,
      hcpId: hcp,
      status: 'queued',
      createdAt: at,
      outbox: 'pending',
    });
    await insertOutbound(p.context.db, {
      id: `m_s_${dialect}`,
      hcpId: hcp,
      status: 'scheduled',
      createdAt: at,
      outbox: 'pending',
    });
    await insertOutbound(p.context.db, {
      id: `m_r_${dialect}`,
      hcpId: hcp,
      status: 'pending_review',
      createdAt: at,
    });
    await insertOutbound(p.context.db, {
      id: `m_d_${dialect}`,
      hcpId: hcp,
      status: 'delivered',
      createdAt: at,
      outbox: 'done',
    });
    await insertOutbound(p.context.db, {
      id: `m_o_${dialect}`,
      hcpId: other,
      status: 'queued',
      createdAt: at,
      outbox: 'pending',
    });

    const res = await call('rep1', 'POST', 'br1b', 'consent', {
      channel: 'whatsapp',
      purpose: 'promotional',
      status: 'withdrawn',
      source: 'verbal',
    });
    expect(res.statusCode).toBe(201);

    const messages = await p.context.db
      .selectFrom('messages')
      .leftJoin('outbox', 'outbox.message_id', 'messages.id')
      .select(['messages.id', 'messages.status', 'outbox.state'])
      .where(
        'messages.id',
        'in',
        ['m_q', 'm_s', 'm_r', 'm_d', 'm_o'].map((m) => `${m}_${dialect}`),
      )
      .orderBy('messages.id')
      .execute();
    const byId = Object.fromEntries(messages.map((m) => [m.id.slice(0, 3), [m.status, m.state]]));
    expect(byId).toEqual({
      m_d: ['delivered', 'done'],
      m_o: ['queued', 'pending'],
      m_q: ['cancelled', 'cancelled'],
      m_r: ['cancelled', null],
      m_s: ['cancelled', 'cancelled'],
    });
    const cancelledAudit = await p.context.db
      .selectFrom('audit_events')
      .select('target_id')
      .where('action', '=', 'message.cancelled')
      .where('subject_id', '=', hcp)
      .execute();
    expect(cancelledAudit.map((a) => a.target_id).sort()).toEqual([
      `m_q_${dialect}`,
      `m_r_${dialect}`,
      `m_s_${dialect}`,
    ]);
  });

  it('answers default preferences before any are stated', async () => {
    const res = await call('rep1', 'GET', 'br1b', 'preferences');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      preferredChannels: {},
      contactWindows: [],
      language: 'pt-BR',
      frequencyLimit: null,
    });
  });

  it('replaces preferences, audited, and reads them back', async () => {
    const preferences = {
      preferredChannels: { service: 'whatsapp', promotional: 'email' },
      contactWindows: [{ days: [5, 1, 3], from: '08:00', to: '12:30' }],
      language: 'pt-BR',
      frequencyLimit: { perWeek: 1 },
    };
    const put = await call('rep1', 'PUT', 'br1a', 'preferences', preferences);
    expect(put.statusCode).toBe(200);
    const expected = { ...preferences, contactWindows: [{ days: [1, 3, 5], from: '08:00', to: '12:30' }] };
    expect(put.json()).toEqual(expected);
    expect((await call('manager', 'GET', 'br1a', 'preferences')).json()).toEqual(expected);
    const audit = await p.context.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'preferences.updated')
      .where('subject_id', '=', p.world.hcps.br1a.id)
      .execute();
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]?.changes_json ?? '{}').after).toEqual(expected);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'refuses an hour that does not exist',
      { contactWindows: [{ days: [1], from: '25:00', to: '26:00' }] },
      'body.contactWindows.0.from',
    ],
    [
      'refuses a weekday outside 1–7',
      { contactWindows: [{ days: [8], from: '08:00', to: '09:00' }] },
      'body.contactWindows.0.days.0',
    ],
    [
      'refuses an empty window',
      { contactWindows: [{ days: [1], from: '08:00', to: '08:00' }] },
      'body.contactWindows.0.to',
    ],
    [
      'refuses an unknown channel',
      { preferredChannels: { service: 'pigeon' } },
      'body.preferredChannels.service',
    ],
    [
      'refuses a negative frequency limit',
      { frequencyLimit: { perWeek: -1 } },
      'body.frequencyLimit.perWeek',
    ],
  ])('%s', async (_name, change, path) => {
    const res = await call('rep1', 'PUT', 'br1a', 'preferences', {
      preferredChannels: {},
      contactWindows: [],
      language: 'pt-BR',
      frequencyLimit: null,
      ...change,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('hides the preferences of an HCP out of scope', async () => {
    const res = await call('rep2', 'PUT', 'br1a', 'preferences', {
      preferredChannels: {},
      contactWindows: [],
      language: 'pt-BR',
      frequencyLimit: null,
    });
    expect(res.statusCode).toBe(404);
  });
});
