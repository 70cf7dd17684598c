import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { DEFAULT_RULEBOOK_YAML } from './default-rulebook.js';

describe.each(DIALECTS)('the rulebook over HTTP on %s', (dialect) => {
  let p: TestParley;
  const auth = async (user: Parameters<TestParley['world']['tokenFor']>[0]) => ({
    authorization: `Bearer ${await p.world.tokenFor(user)}`,
  });
  const put = async (user: Parameters<TestParley['world']['tokenFor']>[0], yaml: string, query = '') =>
    p.app.inject({
      method: 'PUT',
      url: `/api/rulebook${query}`,
      headers: { ...(await auth(user)), 'content-type': 'text/yaml' },
      payload: yaml,
    });

  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('installs the shipped default as version 1, audited once', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/rulebook', headers: await auth('rep1') });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ version: 1, yaml: DEFAULT_RULEBOOK_YAML, createdBy: null });
    expect(body.rules.global.frequency.per_hcp.max_in_rolling).toBe(2);
    const audits = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('action', '=', 'rulebook.installed')
      .execute();
    expect(audits).toHaveLength(1);
  });

  it.each([
    ['BR', true],
    ['ES', false],
  ])('shows the rules in force in %s with ?market= (promotional WhatsApp %s)', async (market, on) => {
    const res = await p.app.inject({
      method: 'GET',
      url: `/api/rulebook?market=${market}`,
      headers: await auth('rep1'),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().effective.promotional.whatsapp_allowed).toBe(on);
    expect(res.json().effective.frequency.per_hcp.max_in_rolling).toBe(2);
  });

  it('answers the YAML text itself to Accept: text/yaml', async () => {
    const res = await p.app.inject({
      method: 'GET',
      url: '/api/rulebook',
      headers: { ...(await auth('manager')), accept: 'text/yaml' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/yaml');
    expect(res.body).toBe(DEFAULT_RULEBOOK_YAML);
  });

  it.each(['rep1', 'manager', 'admin', 'brand'] as const)(
    'refuses a rulebook change by %s (403)',
    async (user) => {
      const res = await put(user, DEFAULT_RULEBOOK_YAML);
      expect(res.statusCode).toBe(403);
    },
  );

  it('saves a change by compliance as a new version, audited with the versions before and after', async () => {
    const changed = DEFAULT_RULEBOOK_YAML.replace('max_per_local_day: 1', 'max_per_local_day: 2');
    const res = await put('compliance', changed, '?comment=Two%20a%20day%20after%20legal%20review');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      version: 2,
      comment: 'Two a day after legal review',
      createdBy: p.world.users.compliance.id,
    });
    const audit = await p.context.db
      .selectFrom('audit_events')
      .select(['actor_id', 'changes_json', 'target_id'])
      .where('action', '=', 'rulebook.updated')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]?.actor_id).toBe(p.world.users.compliance.id);
    expect(JSON.parse(audit[0]?.changes_json ?? '{}')).toEqual({
      before: { version: 1 },
      after: { version: 2 },
    });
    const current = await p.app.inject({ method: 'GET', url: '/api/rulebook', headers: await auth('rep1') });
    expect(current.json().rules.global.frequency.per_hcp.max_per_local_day).toBe(2);
    expect((await p.context.audit.verify(p.context.db)).ok).toBe(true);
  });

  it('refuses invalid YAML with 400 naming the line and the field, and stores nothing', async () => {
    const broken = DEFAULT_RULEBOOK_YAML.replace('max_assets: 2', 'max_assets: -1');
    const line = broken.slice(0, broken.indexOf('max_assets: -1')).split('\n').length;
    const res = await put('compliance', broken);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details).toEqual([
      expect.objectContaining({ path: 'body.global.format.max_assets', line }),
    ]);
    expect(body.error.message).toContain(`line ${line}`);
    const versions = await p.context.db.selectFrom('rulebooks').select('version').execute();
    expect(versions).toHaveLength(2);
  });

  it('refuses a YAML syntax error with its line', async () => {
    const res = await put('compliance', 'global:\n  purposes: [oops\n');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].line).toBeGreaterThanOrEqual(2);
  });

  it('refuses a save based on a stale version (409)', async () => {
    const res = await put('compliance', DEFAULT_RULEBOOK_YAML, '?baseVersion=1');
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('conflict');
  });

  it('lists every version newest first, with cursor pagination, and serves an old one', async () => {
    const first = await p.app.inject({
      method: 'GET',
      url: '/api/rulebook/versions?limit=1',
      headers: await auth('rep1'),
    });
    expect(first.statusCode).toBe(200);
    expect(first.json().items.map((v: { version: number }) => v.version)).toEqual([2]);
    const second = await p.app.inject({
      method: 'GET',
      url: `/api/rulebook/versions?limit=1&cursor=${first.json().nextCursor}`,
      headers: await auth('rep1'),
    });
    expect(second.json()).toMatchObject({ items: [{ version: 1, createdBy: null }], nextCursor: null });
    const old = await p.app.inject({
      method: 'GET',
      url: '/api/rulebook/versions/1',
      headers: await auth('rep1'),
    });
    expect(old.json().yaml).toBe(DEFAULT_RULEBOOK_YAML);
    const missing = await p.app.inject({
      method: 'GET',
      url: '/api/rulebook/versions/99',
      headers: await auth('rep1'),
    });
    expect(missing.statusCode).toBe(404);
  });

  it('keeps versions gap-free and audits each save once when compliance officers save at the same moment', async () => {
    const before = await p.context.db.selectFrom('rulebooks').select('version').execute();
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        put(
          'compliance',
          DEFAULT_RULEBOOK_YAML.replace('max_assets: 2', `max_assets: ${n}`),
          `?comment=race${n}`,
        ),
      ),
    );
    const saved = results.filter((r) => r.statusCode === 200);
    expect(results.every((r) => r.statusCode === 200 || r.statusCode === 409)).toBe(true);
    expect(saved.length).toBeGreaterThanOrEqual(1);
    const versions = (
      await p.context.db.selectFrom('rulebooks').select('version').orderBy('version').execute()
    ).map((r) => Number(r.version));
    expect(versions).toEqual(Array.from({ length: before.length + saved.length }, (_, i) => i + 1));
    const audits = await p.context.db
      .selectFrom('audit_events')
      .select('reason')
      .where('action', '=', 'rulebook.updated')
      .where('reason', 'like', 'race%')
      .execute();
    expect(audits).toHaveLength(saved.length);
    expect((await p.context.audit.verify(p.context.db)).ok).toBe(true);
  });

  it('requires sign-in to read it', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/rulebook' });
    expect(res.statusCode).toBe(401);
  });
});
