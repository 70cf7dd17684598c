import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, TEST_PASSWORD, type TestParley } from '../test-support/index.js';

/** The `parley_session` cookie a response sets, with its attributes, or undefined. */
function sessionCookieOf(res: { headers: Record<string, unknown> }): string | undefined {
  const header = res.headers['set-cookie'];
  const all = Array.isArray(header) ? header : header === undefined ? [] : [String(header)];
  return all.find((c: string) => c.startsWith('parley_session='));
}

const cookieValue = (setCookie: string) => setCookie.split(';')[0]!.slice('parley_session='.length);

describe.each(DIALECTS)('sign-in and sessions on %s', (dialect) => {
  let p: TestParley;
  // Each test signs in from its own address, so the per-IP throttle of one never trips another.
  let nextIp = 1;
  const freshIp = () => `198.51.100.${nextIp++}`;

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SESSION_HOURS: '2' } });
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const login = (email: string, password: string, ip = freshIp(), headers: Record<string, string> = {}) =>
    p.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'x-forwarded-for': ip, ...headers },
      payload: { email, password },
    });

  const securityLines = async (kind: string) =>
    p.context.db.selectFrom('security_log').selectAll().where('kind', '=', kind).execute();

  it('signs in with a bearer token, the /api/me user and an HttpOnly, SameSite=Strict cookie', async () => {
    const res = await login('rep1@test.parley', TEST_PASSWORD);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.token).toEqual(expect.any(String));
    expect(body.user).toEqual({
      id: p.world.users.rep1.id,
      email: 'rep1@test.parley',
      name: 'Test rep1',
      role: 'rep',
      markets: ['BR'],
      territories: [{ id: 'ter_br1', name: 'São Paulo Centro' }],
    });
    const cookie = sessionCookieOf(res);
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).toMatch(/Max-Age=7200/);
    // Not behind TLS in this configuration.
    expect(cookie).not.toMatch(/Secure/i);
    expect(cookieValue(cookie!)).toBe(body.token);

    const me = await p.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${body.token}` },
    });
    expect(me.json()).toEqual(body.user);
    const byCookie = await p.app.inject({
      method: 'GET',
      url: '/api/me',
      cookies: { parley_session: body.token },
    });
    expect(byCookie.json()).toEqual(body.user);
  });

  it('accepts the email in any case and with surrounding spaces', async () => {
    const res = await login('  REP2@Test.Parley ', TEST_PASSWORD);
    expect(res.statusCode).toBe(200);
    expect(res.json().user.id).toBe(p.world.users.rep2.id);
  });

  it('starts a new session on every sign-in: a cookie planted before sign-in is never kept', async () => {
    const planted = 'attacker-chosen-session-value';
    const first = await login('rep1@test.parley', TEST_PASSWORD, freshIp(), {
      cookie: `parley_session=${planted}`,
    });
    const second = await login('rep1@test.parley', TEST_PASSWORD);
    const [a, b] = [cookieValue(sessionCookieOf(first)!), cookieValue(sessionCookieOf(second)!)];
    expect(a).not.toBe(planted);
    expect(a).not.toBe(b);
    const sessions = await p.context.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', p.world.users.rep1.id)
      .execute();
    expect(new Set(sessions.map((s) => s.id)).size).toBe(sessions.length);
    expect(sessions.length).toBeGreaterThanOrEqual(2);
  });

  it('records each sign-in in the audit trail, without the token', async () => {
    const res = await login('compliance@test.parley', TEST_PASSWORD);
    const events = await p.context.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'session.started')
      .where('actor_id', '=', p.world.users.compliance.id)
      .execute();
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(res.json().token);
  });

  it('answers an unknown email and a wrong password alike, and logs both as login_failed', async () => {
    const before = (await securityLines('login_failed')).length;
    const unknown = await login('nobody@test.parley', TEST_PASSWORD);
    const wrong = await login('rep1@test.parley', 'not the password');
    expect([unknown.statusCode, wrong.statusCode]).toEqual([401, 401]);
    expect(unknown.json()).toEqual(wrong.json());
    expect(unknown.json().error.code).toBe('unauthenticated');
    expect(sessionCookieOf(unknown)).toBeUndefined();
    const lines = await securityLines('login_failed');
    expect(lines.length - before).toBe(2);
    expect(JSON.stringify(lines)).not.toContain('nobody@test.parley');
  });

  it('takes about as long for an unknown email as for a wrong password (no account enumeration)', async () => {
    const time = async (email: string) => {
      const started = performance.now();
      await login(email, 'wrong password');
      return performance.now() - started;
    };
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 3; i++) {
      unknown.push(await time(`ghost${i}@test.parley`));
      wrong.push(await time('rep2@test.parley'));
    }
    // Both run scrypt once; without the decoy hash the unknown email would answer in a fraction of it.
    expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...wrong) * 0.3);
  });

  it('refuses an inactive user with the same answer as a wrong password', async () => {
    await p.context.db
      .updateTable('users')
      .set({ active: 0 })
      .where('id', '=', p.world.users.digital.id)
      .execute();
    const res = await login('digital@test.parley', TEST_PASSWORD);
    await p.context.db
      .updateTable('users')
      .set({ active: 1 })
      .where('id', '=', p.world.users.digital.id)
      .execute();
    expect(res.statusCode).toBe(401);
    expect(res.json().error.message).toBe('The email or password is not right.');
  });

  it('logs out: the session is revoked, the cookie cleared, and the token and cookie then get 401', async () => {
    const { token } = (await login('manager@test.parley', TEST_PASSWORD)).json();
    const out = await p.app.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(out.statusCode).toBe(204);
    const cleared = sessionCookieOf(out);
    expect(cleared).toMatch(/^parley_session=;/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
    const byBearer = await p.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${token}` },
    });
    const byCookie = await p.app.inject({
      method: 'GET',
      url: '/api/me',
      cookies: { parley_session: token },
    });
    expect([byBearer.statusCode, byCookie.statusCode]).toEqual([401, 401]);
    expect(byCookie.json().error.code).toBe('unauthenticated');
    const ended = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('action', '=', 'session.ended')
      .where('actor_id', '=', p.world.users.manager.id)
      .execute();
    expect(ended).toHaveLength(1);
  });

  it('expires a session after PARLEY_SESSION_HOURS', async () => {
    const { token } = (await login('msl@test.parley', TEST_PASSWORD)).json();
    const me = () =>
      p.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `Bearer ${token}` } });
    p.clock.advance(2 * 3600_000 - 1);
    expect((await me()).statusCode).toBe(200);
    p.clock.advance(1);
    expect((await me()).statusCode).toBe(401);
  });

  describe('CSRF: a state change authenticated by cookie must come from Parley itself', () => {
    const newHcp = {
      name: 'Dr. Csrf Test',
      market: 'BR',
      timeZone: 'America/Sao_Paulo',
      language: 'pt-BR',
      territoryIds: ['ter_br1'],
    };

    it.each([
      ['from another origin', { origin: 'https://evil.example' }],
      ['with another site as referer', { referer: 'https://evil.example/page' }],
      ['with neither Origin nor Referer', {}],
      ['from a look-alike host', { origin: 'http://localhost.evil.example' }],
    ])('refuses a cookie-authenticated POST %s, and logs it', async (_name, headers) => {
      const { token } = (await login('admin@test.parley', TEST_PASSWORD)).json();
      const before = (await securityLines('csrf')).length;
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/hcps',
        headers: { host: 'localhost', ...headers },
        cookies: { parley_session: token },
        payload: newHcp,
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('csrf_rejected');
      expect((await securityLines('csrf')).length).toBe(before + 1);
      const created = await p.context.db
        .selectFrom('hcps')
        .select('id')
        .where('name', '=', newHcp.name)
        .execute();
      expect(created).toEqual([]);
    });

    it('accepts a cookie-authenticated POST behind a proxy that forwards the public host', async () => {
      const { token } = (await login('admin@test.parley', TEST_PASSWORD)).json();
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/hcps',
        headers: {
          host: '10.0.0.5:8080',
          'x-forwarded-host': 'parley.example.com',
          origin: 'https://parley.example.com',
        },
        cookies: { parley_session: token },
        payload: { ...newHcp, crmId: 'CRM-CSRF-PROXY' },
      });
      expect(res.statusCode).toBe(201);
    });

    it('refuses a cross-site logout by cookie, so a forged request cannot sign a user out', async () => {
      const { token } = (await login('rep2@test.parley', TEST_PASSWORD)).json();
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/auth/logout',
        headers: { host: 'localhost', origin: 'https://evil.example' },
        cookies: { parley_session: token },
      });
      expect(res.statusCode).toBe(403);
      const still = await p.app.inject({ method: 'GET', url: '/api/me', cookies: { parley_session: token } });
      expect(still.statusCode).toBe(200);
    });

    it('accepts the same POST from its own origin, and a bearer token from anywhere', async () => {
      const { token } = (await login('admin@test.parley', TEST_PASSWORD)).json();
      const sameOrigin = await p.app.inject({
        method: 'POST',
        url: '/api/hcps',
        headers: { host: 'localhost', origin: 'http://localhost' },
        cookies: { parley_session: token },
        payload: { ...newHcp, crmId: 'CRM-CSRF-1' },
      });
      expect(sameOrigin.statusCode).toBe(201);
      const bearer = await p.app.inject({
        method: 'POST',
        url: '/api/hcps',
        headers: { authorization: `Bearer ${token}`, origin: 'https://integration.example' },
        payload: { ...newHcp, crmId: 'CRM-CSRF-2' },
      });
      expect(bearer.statusCode).toBe(201);
    });
  });

  it('sets Secure on the cookie when PARLEY_SECURE_COOKIES is on (behind TLS)', async () => {
    const secure = await startTestParley(dialect, { env: { PARLEY_SECURE_COOKIES: '1' } });
    try {
      const res = await secure.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'rep1@test.parley', password: TEST_PASSWORD },
      });
      expect(sessionCookieOf(res)).toMatch(/; Secure/i);
    } finally {
      await secure.destroy();
    }
  });

  describe('brute force', () => {
    it('throttles repeated attempts on one email, from any address, with 429 and a throttled line', async () => {
      const before = (await securityLines('throttled')).length;
      const answers: number[] = [];
      for (let i = 0; i < 11; i++) answers.push((await login('pv@test.parley', `guess ${i}`)).statusCode);
      expect(answers.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(answers[10]).toBe(429);
      // Even the right password waits now: the budget is per email, not per failure.
      const right = await login('pv@test.parley', TEST_PASSWORD);
      expect(right.statusCode).toBe(429);
      expect(right.json().error.code).toBe('rate_limited');
      const lines = await securityLines('throttled');
      expect(lines.length).toBeGreaterThan(before);
      expect(JSON.parse(lines.at(-1)!.detail_json)).toMatchObject({ rule: 'login_per_email' });
      expect(JSON.stringify(lines)).not.toContain('pv@test.parley');
    });

    it('throttles many attempts from one address across emails', async () => {
      const ip = freshIp();
      const answers: number[] = [];
      for (let i = 0; i < 31; i++)
        answers.push((await login(`spray${i}@test.parley`, 'password1', ip)).statusCode);
      expect(answers.slice(0, 30).every((s) => s === 401)).toBe(true);
      expect(answers[30]).toBe(429);
      const lines = await securityLines('throttled');
      expect(lines.some((l) => l.ip === ip && JSON.parse(l.detail_json).rule === 'login_per_ip')).toBe(true);
    });
  });

  it('names each bad field of a login body', async () => {
    const res = await p.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 42 } });
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('validation_failed');
    expect(error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'body.email',
      'body.password',
    ]);
  });

  it.each([
    ['rep1', [{ id: 'ter_br1', name: 'São Paulo Centro' }]],
    [
      'manager',
      [
        { id: 'ter_br2', name: 'Rio Sul' },
        { id: 'ter_br1', name: 'São Paulo Centro' },
      ],
    ],
    ['compliance', []],
  ] as const)('/api/me shows %s the territories they reach', async (user, territories) => {
    const token = await p.world.tokenFor(user);
    const res = await p.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.json().territories).toEqual(territories);
  });
});
