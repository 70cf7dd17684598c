import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsOf } from '../platform/config/index.js';
import { DIALECTS, startTestParley, TEST_PASSWORD, type TestParley } from '../test-support/index.js';

// RELIABILITY 28: whatever a request carries, the log lines hold no phone number, email, token,
// password or secret. The requests below are the ones most likely to leak: sign-in (good and bad),
// search by number, creating an HCP with a number and an email, and failures that echo input.
const NEW_NUMBER = '+5511944443333';
const NEW_EMAIL = 'leak.canary@example.org';
const WRONG_PASSWORD = 'hunter2-wrong-password';

describe.each(DIALECTS)('log lines on %s', (dialect) => {
  let p: TestParley;
  const tokens: string[] = [];

  beforeAll(async () => {
    p = await startTestParley(dialect);
    const inject = (options: InjectOptions) => p.app.inject(options);

    const good = await inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'admin@test.parley', password: TEST_PASSWORD },
    });
    const admin = good.json().token as string;
    tokens.push(admin);
    await inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'rep1@test.parley', password: WRONG_PASSWORD },
    });
    await inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'ghost.user@test.parley', password: WRONG_PASSWORD },
    });
    const auth = { authorization: `Bearer ${admin}` };
    for (const q of ['+5511987654321', '5511987654321', '+55 11 98765-4321', 'ana.souza@example.com.br'])
      await inject({ method: 'GET', url: `/api/hcps?q=${encodeURIComponent(q)}`, headers: auth });
    await inject({
      method: 'POST',
      url: '/api/hcps',
      headers: auth,
      payload: {
        name: 'Dr. Canary',
        market: 'BR',
        timeZone: 'America/Sao_Paulo',
        language: 'pt-BR',
        whatsappNumber: NEW_NUMBER,
        email: NEW_EMAIL,
        territoryIds: ['ter_br1'],
      },
    });
    // Failures that carry personal values in the request.
    await inject({
      method: 'POST',
      url: '/api/hcps',
      headers: auth,
      payload: { name: 'x', market: 'BR', whatsappNumber: '+55119444', email: 'broken@@example.org' },
    });
    await inject({
      method: 'POST',
      url: '/api/hcps',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: `{"email":"${NEW_EMAIL}",`,
    });
    const rep2 = await p.world.tokenFor('rep2');
    tokens.push(rep2);
    await inject({
      method: 'GET',
      url: `/api/hcps/${p.world.hcps.br1a.id}`,
      headers: { authorization: `Bearer ${rep2}` },
    });
    await inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: 'Bearer not-a-real-token-0123456789' },
    });
    await inject({
      method: 'GET',
      url: `/api/me?email=${encodeURIComponent(NEW_EMAIL)}`,
      cookies: { parley_session: admin },
    });
    await inject({ method: 'POST', url: '/api/auth/logout', headers: auth });
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('wrote log lines for the requests (the check below is not vacuous)', () => {
    // Two lines per request at least (incoming, completed).
    expect(p.logs.filter((l) => l.includes('request completed')).length).toBeGreaterThanOrEqual(12);
  });

  it('holds no phone number in any written form', () => {
    const text = p.logs.join('\n');
    for (const n of ['5511987654321', '5511944443333', '98765-4321', '11 98765', '5521998765432'])
      expect(text).not.toContain(n);
  });

  it('holds no email, of an HCP or of a user', () => {
    const text = p.logs.join('\n');
    for (const e of [NEW_EMAIL, 'ana.souza@example.com.br', 'admin@test.parley', 'ghost.user@test.parley'])
      expect(text).not.toContain(e);
    expect(text).not.toContain(encodeURIComponent(NEW_EMAIL));
  });

  it('holds no token, password or configured secret', () => {
    const text = p.logs.join('\n');
    for (const t of tokens) expect(text).not.toContain(t);
    expect(text).not.toContain('not-a-real-token-0123456789');
    expect(text).not.toContain(TEST_PASSWORD);
    expect(text).not.toContain(WRONG_PASSWORD);
    for (const s of secretsOf(p.context.config)) expect(text).not.toContain(s);
  });
});
