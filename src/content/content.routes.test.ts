import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_RULEBOOK_YAML } from '../policy/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  bareMessageRow,
  DIALECTS,
  startTestParley,
  TEST_PASSWORD,
  type TestParley,
} from '../test-support/index.js';
import { createTrackedLink, expireDueContent } from './index.js';

type User =
  'rep1' | 'rep2' | 'manager' | 'compliance' | 'brand' | 'medical' | 'digital' | 'admin' | 'pv' | 'msl';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

describe.each(DIALECTS)('content control over HTTP on %s', (dialect) => {
  let p: TestParley;
  let keySeq = 0;

  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  async function call(user: User | null, method: 'GET' | 'POST' | 'HEAD', url: string, payload?: unknown) {
    // A fresh session per call: some tests move the clock past a session's lifetime.
    const token = user ? await p.world.tokenFor(user) : undefined;
    const res = await p.app.inject({
      method,
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    // Answers are read loosely here; their shapes are checked by the routes' response schemas.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.statusCode, body: res.body ? (safeJson(res.body) as Record<string, any>) : {}, res };
  }

  const templateInput = (over: Record<string, unknown> = {}) => ({
    key: `visit_reminder_${++keySeq}`,
    type: 'reminder',
    classification: 'non_promotional',
    whatsappCategory: 'utility',
    whatsappName: `visit_reminder_${keySeq}`,
    whatsappLanguage: 'pt_BR',
    market: 'BR',
    language: 'pt-BR',
    brand: 'Cardiozen',
    body: 'Olá {{hcp_name}}, lembrete da nossa visita em {{date}} às {{time}}.',
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'date', type: 'date' },
      { name: 'time', type: 'time' },
    ],
    buttons: ['Confirmar', 'Remarcar'],
    ...over,
  });
  const assetInput = (over: Record<string, unknown> = {}) => ({
    key: `cardiozen_leaflet_${++keySeq}`,
    title: 'Cardiozen — folheto',
    kind: 'leaflet',
    url: 'https://assets.example.com/cardiozen/leaflet-v1.pdf',
    classification: 'promotional',
    market: 'BR',
    brand: 'Cardiozen',
    topics: ['dosing'],
    ...over,
  });

  /** Creates, submits and approves a template (or asset); returns the approved object. */
  async function approved(kind: 'templates' | 'assets', input: Record<string, unknown>) {
    const created = await call('brand', 'POST', `/api/${kind}`, input);
    expect(created.status).toBe(201);
    expect((await call('brand', 'POST', `/api/${kind}/${created.body.id}/submit`, {})).status).toBe(200);
    const ok = await call('compliance', 'POST', `/api/${kind}/${created.body.id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(ok.status).toBe(200);
    return ok.body;
  }

  async function auditActions(targetId: string) {
    const rows = await p.context.db
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', targetId)
      .orderBy('seq')
      .execute();
    return rows.map((r) => r.action);
  }

  it('lets brand create a draft, 201 with the object, and a new version of the same key', async () => {
    const first = await call('brand', 'POST', '/api/templates', templateInput());
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      version: 1,
      status: 'draft',
      whatsappStatus: 'pending',
      authorId: 'usr_brand',
    });
    const second = await call(
      'medical',
      'POST',
      '/api/templates',
      templateInput({ key: first.body.key, body: 'Olá {{hcp_name}}, até {{date}} às {{time}}.' }),
    );
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ key: first.body.key, version: 2, status: 'draft' });
    expect((await call('brand', 'GET', `/api/templates/${first.body.id}`)).body.body).toBe(first.body.body);
    expect(await auditActions(first.body.id)).toEqual(['template.created']);
  });

  it('ignores mass-assigned fields such as status, author or approval code', async () => {
    const res = await call('brand', 'POST', '/api/templates', {
      ...templateInput(),
      status: 'approved',
      authorId: 'usr_compliance',
      approvalCode: 'FAKE',
      createdAt: '2020-01-01T00:00:00.000Z',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'draft', authorId: 'usr_brand', approvalCode: null });
    expect(res.body.createdAt).toBe(p.clock.now().toISOString());
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a placeholder that is not declared',
      { body: 'Olá {{hcp_name}} {{date}} {{time}} {{venue}}' },
      'body.body',
    ],
    [
      'a text parameter without an MLR maximum length',
      {
        body: 'Olá {{hcp_name}} {{date}} {{time}} {{note}}',
        parameters: [
          { name: 'hcp_name', type: 'hcp_name' },
          { name: 'date', type: 'date' },
          { name: 'time', type: 'time' },
          { name: 'note', type: 'text' },
        ],
      },
      'body.parameters.3',
    ],
    ['a key with capitals and spaces', { key: 'Visit Reminder' }, 'body.key'],
    ['an unknown parameter type', { parameters: [{ name: 'x', type: 'url' }] }, 'body.parameters.0.type'],
    ['an expiry already past', { expiresAt: '2026-01-01' }, 'body.expiresAt'],
  ])('refuses a template with %s (400, naming the field)', async (_name, change, path) => {
    const res = await call('brand', 'POST', '/api/templates', templateInput(change));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it.each<[User, 'POST', string]>([
    ['rep1', 'POST', '/api/templates'],
    ['compliance', 'POST', '/api/templates'],
    ['digital', 'POST', '/api/assets'],
    ['manager', 'POST', '/api/assets'],
  ])('refuses %s creating content (403)', async (user, method, url) => {
    const res = await call(user, method, url, url.endsWith('templates') ? templateInput() : assetInput());
    expect(res.status).toBe(403);
  });

  it('runs draft → in_review → approved with an e-signature, lint flags for the reviewer, and audits each step', async () => {
    const created = await call(
      'brand',
      'POST',
      '/api/templates',
      templateInput({ body: 'Olá {{hcp_name}}, vc confirma {{date}} às {{time}}?' }),
    );
    const id = created.body.id as string;
    const submitted = await call('brand', 'POST', `/api/templates/${id}/submit`, {});
    expect(submitted.status).toBe(200);
    expect(submitted.body.status).toBe('in_review');
    expect(submitted.body.lint).toEqual([expect.objectContaining({ rule: 'abbreviation', found: ['vc'] })]);

    const approvedRes = await call('compliance', 'POST', `/api/templates/${id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(approvedRes.status).toBe(200);
    expect(approvedRes.body).toMatchObject({
      status: 'approved',
      approvedBy: 'usr_compliance',
      approvedAt: p.clock.now().toISOString(),
      approvalCode: `BR-${(created.body.key as string).toUpperCase().replace(/_/g, '-')}-V1`,
    });
    expect(approvedRes.body.signatures).toEqual([
      {
        signerId: 'usr_compliance',
        signerName: 'Test compliance',
        role: 'compliance',
        meaning: 'approved for use in BR',
        signedAt: p.clock.now().toISOString(),
      },
    ]);
    expect(await auditActions(id)).toEqual(['template.created', 'template.submitted', 'template.approved']);
  });

  it('refuses an approval with a wrong password: 401 e_signature_failed, security log, nothing signed', async () => {
    const created = await call('brand', 'POST', '/api/templates', templateInput());
    const id = created.body.id as string;
    await call('brand', 'POST', `/api/templates/${id}/submit`, {});
    const wrong = await call('compliance', 'POST', `/api/templates/${id}/approve`, {
      password: 'not my password',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('e_signature_failed');
    const missing = await call('compliance', 'POST', `/api/templates/${id}/approve`, {});
    expect(missing.status).toBe(400);
    const log = await p.context.db.selectFrom('security_log').selectAll().where('target', '=', id).execute();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ kind: 'invalid_signature', actor_id: 'usr_compliance' });
    const after = await call('compliance', 'GET', `/api/templates/${id}`);
    expect(after.body).toMatchObject({ status: 'in_review', signatures: [] });
    expect(await auditActions(id)).toEqual(['template.created', 'template.submitted']);
  });

  it('refuses further signatures after five failures in fifteen minutes (429), then accepts again', async () => {
    const created = await call('brand', 'POST', '/api/templates', templateInput());
    const id = created.body.id as string;
    await call('brand', 'POST', `/api/templates/${id}/submit`, {});
    p.clock.advance(16 * 60_000); // clear of the previous test's failure
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (await call('compliance', 'POST', `/api/templates/${id}/approve`, { password: `guess ${i}` })).status,
      );
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const right = await call('compliance', 'POST', `/api/templates/${id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(right.status).toBe(429);
    p.clock.advance(16 * 60_000);
    const later = await call('compliance', 'POST', `/api/templates/${id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(later.body.status).toBe('approved');
  });

  it('rejects with comments; a rejection needs them; a rejected version cannot be resubmitted', async () => {
    const created = await call('brand', 'POST', '/api/templates', templateInput());
    const id = created.body.id as string;
    await call('brand', 'POST', `/api/templates/${id}/submit`, {});
    expect((await call('compliance', 'POST', `/api/templates/${id}/reject`, { comment: '  ' })).status).toBe(
      400,
    );
    const rejected = await call('compliance', 'POST', `/api/templates/${id}/reject`, {
      comment: 'Cite the study.',
    });
    expect(rejected.body).toMatchObject({ status: 'rejected', reviewComment: 'Cite the study.' });
    const again = await call('brand', 'POST', `/api/templates/${id}/submit`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_transition');
    const [event] = await p.context.db
      .selectFrom('audit_events')
      .select(['action', 'reason'])
      .where('target_id', '=', id)
      .where('action', '=', 'template.rejected')
      .execute();
    expect(event).toEqual({ action: 'template.rejected', reason: 'Cite the study.' });
  });

  it.each<[string, User, string, number]>([
    ['a rep cannot approve', 'rep1', 'approve', 403],
    ['brand cannot approve', 'brand', 'approve', 403],
    ['compliance cannot submit (only the author does)', 'compliance', 'submit', 403],
    ['another author cannot submit', 'medical', 'submit', 403],
    ['a rep cannot withdraw', 'rep1', 'withdraw', 403],
  ])('%s', async (_name, user, action, status) => {
    const created = await call('brand', 'POST', '/api/templates', templateInput());
    const id = created.body.id as string;
    if (action !== 'submit') await call('brand', 'POST', `/api/templates/${id}/submit`, {});
    const res = await call(user, 'POST', `/api/templates/${id}/${action}`, {
      password: TEST_PASSWORD,
      reason: 'x',
    });
    expect(res.status).toBe(status);
  });

  it('shows reps only approved-once content: a draft is 404, and the library leaves drafts out', async () => {
    const draft = await call('brand', 'POST', '/api/templates', templateInput());
    expect((await call('rep1', 'GET', `/api/templates/${draft.body.id}`)).status).toBe(404);
    const live = await approved('templates', templateInput());
    expect((await call('rep1', 'GET', `/api/templates/${live.id}`)).body.status).toBe('approved');
    const repList = await call('rep1', 'GET', '/api/templates?limit=200');
    const ids = repList.body.items.map((t: { id: string }) => t.id);
    expect(ids).toContain(live.id);
    expect(ids).not.toContain(draft.body.id);
    expect(
      repList.body.items.every(
        (t: { status: string }) => !['draft', 'in_review', 'rejected'].includes(t.status),
      ),
    ).toBe(true);
  });

  it('filters and pages the library with a stable cursor', async () => {
    const key = `paged_${++keySeq}`;
    for (let i = 0; i < 3; i++)
      await call('brand', 'POST', '/api/templates', templateInput({ key, whatsappName: key }));
    const first = await call(
      'brand',
      'GET',
      `/api/templates?key=${key}&limit=2&status=draft&market=BR&type=reminder&language=pt-BR`,
    );
    expect(first.body.items.map((t: { version: number }) => t.version)).toEqual([3, 2]);
    const second = await call(
      'brand',
      'GET',
      `/api/templates?key=${key}&limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items.map((t: { version: number }) => t.version)).toEqual([1]);
    expect(second.body.nextCursor).toBeNull();
    expect((await call('brand', 'GET', `/api/templates?cursor=nonsense`)).status).toBe(400);
    expect((await call('brand', 'GET', `/api/templates?key=${key}&market=ES`)).body.items).toEqual([]);
  });

  it('filters the asset library by kind and status, and shows reps approved assets only', async () => {
    const guide = await approved('assets', assetInput({ kind: 'dosing_guide', brand: 'Lipex' }));
    const draft = await call(
      'brand',
      'POST',
      '/api/assets',
      assetInput({ kind: 'dosing_guide', brand: 'Lipex' }),
    );
    const forBrand = await call('brand', 'GET', '/api/assets?type=dosing_guide&brand=Lipex&market=BR');
    expect(forBrand.body.items.map((a: { id: string }) => a.id).sort()).toEqual(
      [guide.id, draft.body.id].sort(),
    );
    const forRep = await call('rep1', 'GET', '/api/assets?type=dosing_guide&brand=Lipex');
    expect(forRep.body.items.map((a: { id: string }) => a.id)).toEqual([guide.id]);
    const approvedOnly = await call(
      'brand',
      'GET',
      '/api/assets?type=dosing_guide&brand=Lipex&status=approved',
    );
    expect(approvedOnly.body.items.map((a: { id: string }) => a.id)).toEqual([guide.id]);
    expect((await call('rep1', 'GET', `/api/assets/${draft.body.id}`)).status).toBe(404);
    expect(guide).toMatchObject({
      kind: 'dosing_guide',
      status: 'approved',
      products: [],
      topics: ['dosing'],
    });
  });

  it('never changes an approved version when a new one is made, and supersedes it when the new one is approved', async () => {
    const v1 = await approved('templates', templateInput());
    const v2 = await call(
      'brand',
      'POST',
      '/api/templates',
      templateInput({ key: v1.key, body: 'Olá {{hcp_name}}, nos vemos em {{date}} às {{time}}.' }),
    );
    expect((await call('rep1', 'GET', `/api/templates/${v1.id}`)).body).toMatchObject({
      status: 'approved',
      body: v1.body,
    });
    await call('brand', 'POST', `/api/templates/${v2.body.id}/submit`, {});
    await call('compliance', 'POST', `/api/templates/${v2.body.id}/approve`, { password: TEST_PASSWORD });
    const old = await call('rep1', 'GET', `/api/templates/${v1.id}`);
    expect(old.body).toMatchObject({ status: 'superseded', replacedBy: { id: v2.body.id, version: 2 } });
    expect(await auditActions(v1.id)).toEqual([
      'template.created',
      'template.submitted',
      'template.approved',
      'template.superseded',
    ]);

    const diff = await call('compliance', 'GET', `/api/templates/${v2.body.id}/diff?against=${v1.id}`);
    expect(diff.status).toBe(200);
    expect(diff.body.body).toEqual([
      { change: 'removed', text: v1.body },
      { change: 'added', text: 'Olá {{hcp_name}}, nos vemos em {{date}} às {{time}}.' },
    ]);
    expect((await call('rep1', 'GET', `/api/templates/${v2.body.id}/diff?against=${v1.id}`)).status).toBe(
      403,
    );
  });

  it('expires on its date at midnight in the market’s time zone, with no one acting, and points to the newer version', async () => {
    const start = p.clock.now();
    const v1 = await approved('templates', templateInput({ expiresAt: '2026-03-20' }));
    expect(v1.expiresAt).toBe('2026-03-20T03:00:00.000Z'); // 00:00 in São Paulo

    p.clock.set('2026-03-20T02:59:59.999Z');
    expect((await call('rep1', 'GET', `/api/templates/${v1.id}`)).body.status).toBe('approved');
    p.clock.set('2026-03-20T03:00:00.000Z');
    // Read-time expiry: the job has not run, yet the template already reads expired everywhere.
    expect((await call('rep1', 'GET', `/api/templates/${v1.id}`)).body.status).toBe('expired');
    const live = await call('rep1', 'GET', `/api/templates?status=approved&key=${v1.key}`);
    expect(live.body.items).toEqual([]);
    const gone = await call('rep1', 'GET', `/api/templates?status=expired&key=${v1.key}`);
    expect(gone.body.items.map((t: { id: string }) => t.id)).toEqual([v1.id]);

    expect(await expireDueContent(p.context.db, p.context)).toBeGreaterThanOrEqual(1);
    expect(await expireDueContent(p.context.db, p.context)).toBe(0);
    const row = await p.context.db
      .selectFrom('templates')
      .select('status')
      .where('id', '=', v1.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('expired');
    const expiredEvents = await p.context.db
      .selectFrom('audit_events')
      .select(['actor_id', 'action'])
      .where('target_id', '=', v1.id)
      .where('action', '=', 'template.expired')
      .execute();
    expect(expiredEvents).toEqual([{ actor_id: null, action: 'template.expired' }]);

    const v2 = await approved('templates', templateInput({ key: v1.key }));
    const old = await call('rep1', 'GET', `/api/templates/${v1.id}`);
    expect(old.body).toMatchObject({ status: 'expired', replacedBy: { id: v2.id, version: 2 } });
    p.clock.set(start);
  });

  it('renders the text exactly as the HCP will read it, with the name from the HCP record', async () => {
    const asset = await approved('assets', assetInput());
    const template = await approved(
      'templates',
      templateInput({
        type: 'resource_link',
        body: 'Olá {{hcp_name}}, segue o material: {{leaflet}}',
        parameters: [
          { name: 'hcp_name', type: 'hcp_name' },
          { name: 'leaflet', type: 'asset_link' },
        ],
      }),
    );
    const hcpId = p.world.hcps.br1a.id;
    const params = encodeURIComponent(JSON.stringify({ leaflet: asset.id }));
    const res = await call(
      'rep1',
      'GET',
      `/api/templates/${template.id}/render?hcpId=${hcpId}&parameters=${params}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.text).toBe(
      `Olá Dra. Ana Souza, segue o material: ${p.context.config.publicUrl}/l/${'x'.repeat(24)}`,
    );
    expect(res.body.assetIds).toEqual([asset.id]);

    const typedName = encodeURIComponent(JSON.stringify({ leaflet: asset.id, hcp_name: 'Ana' }));
    const bad = await call(
      'rep1',
      'GET',
      `/api/templates/${template.id}/render?hcpId=${hcpId}&parameters=${typedName}`,
    );
    expect(bad.body).toMatchObject({ ok: false, text: null });
    expect(bad.body.problems).toEqual([
      expect.objectContaining({ code: 'invalid_parameter', parameter: 'hcp_name' }),
    ]);

    // Another territory's HCP is out of scope for rep1: 404, and a security-log line.
    const other = await call(
      'rep1',
      'GET',
      `/api/templates/${template.id}/render?hcpId=${p.world.hcps.br2a.id}&parameters=${params}`,
    );
    expect(other.status).toBe(404);
    expect(
      (await call('rep1', 'GET', `/api/templates/${template.id}/render?parameters=%7Bnope`)).status,
    ).toBe(400);
  });

  async function sentMessage(hcpId: string, templateId: string | null, status: string) {
    const id = newId('msg');
    const now = p.clock.now().toISOString();
    await p.context.db
      .insertInto('messages')
      .values(
        bareMessageRow({
          id,
          hcp_id: hcpId,
          rep_id: 'usr_rep1',
          direction: 'outbound',
          phone_number_id: p.context.config.whatsapp.phoneNumberId,
          template_id: templateId,
          status,
          created_at: now,
        }),
      )
      .execute();
    return id;
  }

  async function clicksOf(hcpId: string) {
    return (
      p.context.db
        .selectFrom('interactions')
        .selectAll()
        .where('hcp_id', '=', hcpId)
        .where('kind', '=', 'click')
        // Clicks of one test moment share created_at (the manual clock); ids (UUIDv7) keep creation order.
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    );
  }

  it('counts a tracked-link click on the HCP’s timeline and redirects; previews, scanners and HEAD count nothing', async () => {
    const asset = await approved('assets', assetInput());
    const hcpId = p.world.hcps.br1b.id;
    const messageId = await sentMessage(hcpId, null, 'delivered');
    const link = await createTrackedLink(p.context.db, p.context, { messageId, assetId: asset.id, hcpId });
    expect(link.code).toMatch(/^[A-Za-z0-9_-]{24}$/); // 144 random bits
    expect(await createTrackedLink(p.context.db, p.context, { messageId, assetId: asset.id, hcpId })).toEqual(
      link,
    );

    for (const agent of [
      'WhatsApp/2.24.6.77 A',
      'facebookexternalhit/1.1',
      'Slackbot-LinkExpanding 1.0',
      'Mimecast-URL-Protect/1.0',
    ]) {
      const res = await p.app.inject({ method: 'GET', url: link.path, headers: { 'user-agent': agent } });
      expect(res.statusCode).toBe(302);
    }
    await p.app.inject({ method: 'HEAD', url: link.path, headers: { 'user-agent': IPHONE } });
    await p.app.inject({
      method: 'GET',
      url: link.path,
      headers: { 'user-agent': IPHONE, 'sec-purpose': 'prefetch' },
    });
    expect(await clicksOf(hcpId)).toHaveLength(0);

    const human = await p.app.inject({ method: 'GET', url: link.path, headers: { 'user-agent': IPHONE } });
    expect(human.statusCode).toBe(302);
    expect(human.headers.location).toBe(asset.url);
    expect(human.headers['cache-control']).toBe('no-store');
    // A double tap within the same minute is one click.
    await p.app.inject({ method: 'GET', url: link.path, headers: { 'user-agent': IPHONE } });
    const clicks = await clicksOf(hcpId);
    expect(clicks).toHaveLength(1);
    expect(clicks[0]).toMatchObject({
      channel: 'whatsapp',
      direction: 'inbound',
      kind: 'click',
      message_id: messageId,
      rep_id: 'usr_rep1',
      asset_ids_json: JSON.stringify([asset.id]),
      status: 'opened',
    });
    const timeline = await call('rep1', 'GET', `/api/hcps/${hcpId}/timeline?kind=click`);
    expect(timeline.status).toBe(200);
    expect(
      timeline.body.items.map((i: { kind: string; messageId: string }) => [i.kind, i.messageId]),
    ).toEqual([['click', messageId]]);
  });

  it('shows a friendly page for a withdrawn asset, pointing to the current version, and records the attempt', async () => {
    const v1 = await approved('assets', assetInput({ title: 'Guia de dose <v1>' }));
    const hcpId = p.world.hcps.br1a.id;
    const messageId = await sentMessage(hcpId, null, 'read');
    const link = await createTrackedLink(p.context.db, p.context, { messageId, assetId: v1.id, hcpId });
    const v2 = await approved(
      'assets',
      assetInput({ key: v1.key, title: 'Guia de dose v2', url: 'https://assets.example.com/v2.pdf' }),
    );
    expect((await call('compliance', 'GET', `/api/assets/${v1.id}`)).body.status).toBe('superseded');

    p.clock.advance(120_000);
    const before = (await clicksOf(hcpId)).length;
    const page = await p.app.inject({ method: 'GET', url: link.path, headers: { 'user-agent': IPHONE } });
    expect(page.statusCode).toBe(410);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBeDefined();
    expect(page.body).toContain('Guia de dose &#60;v1&#62;');
    expect(page.body).not.toContain('<v1>');
    const href = /href="(\/l\/[A-Za-z0-9_-]+)"/.exec(page.body)?.[1];
    expect(href).toBeDefined();
    const next = await p.app.inject({ method: 'GET', url: href!, headers: { 'user-agent': IPHONE } });
    expect(next.statusCode).toBe(302);
    expect(next.headers.location).toBe(v2.url);
    const clicks = (await clicksOf(hcpId)).slice(before);
    expect(clicks.map((c) => c.status)).toEqual(['superseded', 'opened']);

    const withdrawn = await call('compliance', 'POST', `/api/assets/${v2.id}/withdraw`, {
      reason: 'Label change',
    });
    expect(withdrawn.body.status).toBe('withdrawn');
    const nothing = await p.app.inject({ method: 'GET', url: href!, headers: { 'user-agent': IPHONE } });
    expect(nothing.statusCode).toBe(410);
    expect(nothing.body).toContain('Não há uma versão atual');

    const unknown = await p.app.inject({ method: 'GET', url: '/l/AAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^text\/html/);
  });

  it('stops a link to an asset the instant its expiry is reached, before the expiry job has run', async () => {
    const start = p.clock.now();
    const asset = await approved('assets', assetInput({ expiresAt: '2026-04-01' }));
    const hcpId = p.world.hcps.br1b.id;
    const messageId = await sentMessage(hcpId, null, 'delivered');
    const link = await createTrackedLink(p.context.db, p.context, { messageId, assetId: asset.id, hcpId });
    p.clock.set('2026-04-01T02:59:59.000Z');
    expect(
      (await p.app.inject({ method: 'GET', url: link.path, headers: { 'user-agent': IPHONE } })).statusCode,
    ).toBe(302);
    p.clock.set('2026-04-01T03:00:00.000Z');
    const page = await p.app.inject({ method: 'GET', url: link.path, headers: { 'user-agent': IPHONE } });
    expect(page.statusCode).toBe(410);
    const row = await p.context.db
      .selectFrom('assets')
      .select('status')
      .where('id', '=', asset.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('approved'); // not yet written down, already not usable
    const clicks = await clicksOf(hcpId);
    expect(clicks.slice(-2).map((c) => c.status)).toEqual(['opened', 'expired']);
    p.clock.set(start);
  });

  it('gives two authors racing on one key two different versions', async () => {
    const key = `race_${++keySeq}`;
    const results = await Promise.all(
      (['brand', 'medical', 'brand', 'medical'] as const).map((user) =>
        call(user, 'POST', '/api/templates', templateInput({ key, whatsappName: key })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(results.map((r) => r.body.version as number).sort()).toEqual([1, 2, 3, 4]);
  });

  it('keeps a key in its market: a new version cannot move to another market', async () => {
    const first = await call('brand', 'POST', '/api/templates', templateInput());
    const moved = await call(
      'brand',
      'POST',
      '/api/templates',
      templateInput({ key: first.body.key, market: 'ES', language: 'es-ES' }),
    );
    expect(moved.status).toBe(409);
  });

  it('lists every HCP who received a version (sent or later): the recall list, for compliance only', async () => {
    const template = await approved('templates', templateInput());
    const { br1a, br1b, br2a } = p.world.hcps;
    const sent = await sentMessage(br1a.id, template.id, 'sent');
    const read = await sentMessage(br2a.id, template.id, 'read');
    await sentMessage(br1b.id, template.id, 'queued');
    await sentMessage(br1b.id, template.id, 'failed');
    const res = await call('compliance', 'GET', `/api/templates/${template.id}/recipients`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((r: { messageId: string }) => r.messageId).sort()).toEqual([sent, read].sort());
    expect(res.body.items.map((r: { hcpId: string }) => r.hcpId).sort()).toEqual([br1a.id, br2a.id].sort());
    const firstPage = await call('compliance', 'GET', `/api/templates/${template.id}/recipients?limit=1`);
    const secondPage = await call(
      'compliance',
      'GET',
      `/api/templates/${template.id}/recipients?limit=1&cursor=${firstPage.body.nextCursor}`,
    );
    expect([...firstPage.body.items, ...secondPage.body.items]).toEqual(res.body.items);
    for (const user of ['rep1', 'brand', 'manager'] as const)
      expect((await call(user, 'GET', `/api/templates/${template.id}/recipients`)).status).toBe(403);
  });

  it('lists every HCP whose sent message carried an asset version through its tracked link', async () => {
    const asset = await approved('assets', assetInput());
    const { br1a, br1b, br2a } = p.world.hcps;
    const delivered = await sentMessage(br1a.id, null, 'delivered');
    const queued = await sentMessage(br1b.id, null, 'queued');
    const withoutLink = await sentMessage(br2a.id, null, 'read');
    for (const [messageId, hcpId] of [
      [delivered, br1a.id],
      [queued, br1b.id],
    ] as const)
      await createTrackedLink(p.context.db, p.context, { messageId, assetId: asset.id, hcpId });
    const res = await call('compliance', 'GET', `/api/assets/${asset.id}/recipients`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((r: { messageId: string }) => r.messageId)).toEqual([delivered]);
    expect(res.body.items.map((r: { messageId: string }) => r.messageId)).not.toContain(withoutLink);
    expect((await call('rep1', 'GET', `/api/assets/${asset.id}/recipients`)).status).toBe(403);
  });

  it('withdraws an approved template with a reason, after which it is no longer usable', async () => {
    const template = await approved('templates', templateInput());
    expect((await call('compliance', 'POST', `/api/templates/${template.id}/withdraw`, {})).status).toBe(400);
    const res = await call('compliance', 'POST', `/api/templates/${template.id}/withdraw`, {
      reason: 'Recall',
    });
    expect(res.body.status).toBe('withdrawn');
    expect(await auditActions(template.id)).toEqual([
      'template.created',
      'template.submitted',
      'template.approved',
      'template.withdrawn',
    ]);
  });

  it('refuses to approve an older version once a newer one is in force (409)', async () => {
    const v1 = await call('brand', 'POST', '/api/templates', templateInput());
    await call('brand', 'POST', `/api/templates/${v1.body.id}/submit`, {});
    const v2 = await approved('templates', templateInput({ key: v1.body.key }));
    const late = await call('compliance', 'POST', `/api/templates/${v1.body.id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('invalid_transition');
    expect((await call('compliance', 'GET', `/api/templates/${v2.id}`)).body.status).toBe('approved');
    expect((await call('compliance', 'GET', `/api/templates/${v1.body.id}`)).body).toMatchObject({
      status: 'in_review',
      signatures: [],
    });
  });

  it('lists the venues a market keeps, for the venue parameter', async () => {
    const res = await call('rep1', 'GET', '/api/venues?market=BR');
    expect(res.status).toBe(200);
    expect(res.body.items).toContainEqual({
      id: 'br-sp-office',
      name: 'Escritório São Paulo — Av. Paulista, 1000',
    });
    expect(res.body.nextCursor).toBeNull();
    expect((await call('rep1', 'GET', '/api/venues?market=XX')).body.items).toEqual([]);
    expect((await call('rep1', 'GET', '/api/venues')).status).toBe(400);
  });

  it('describes its routes in the OpenAPI document', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys((res.json() as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/api/templates',
        '/api/templates/{id}/approve',
        '/api/assets/{id}/recipients',
      ]),
    );
  });

  it('needs every approver role the market’s rulebook names, and an author never approves own work', async () => {
    const current = await p.context.db
      .selectFrom('rulebooks')
      .select(['version', 'yaml'])
      .orderBy('version', 'desc')
      .executeTakeFirst();
    const doc = parse(current?.yaml ?? DEFAULT_RULEBOOK_YAML) as {
      markets?: Record<string, Record<string, unknown>>;
    };
    doc.markets = {
      ...doc.markets,
      BR: { ...doc.markets?.BR, approvers: { roles: ['compliance', 'medical'] } },
    };
    await p.context.db
      .insertInto('rulebooks')
      .values({
        version: (current?.version ?? 0) + 1,
        yaml: stringify(doc),
        comment: 'BR needs medical sign-off too',
        created_by: null,
        created_at: p.clock.now().toISOString(),
      })
      .execute();

    const own = await call('medical', 'POST', '/api/templates', templateInput());
    await call('medical', 'POST', `/api/templates/${own.body.id}/submit`, {});
    const self = await call('medical', 'POST', `/api/templates/${own.body.id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(self.status).toBe(403);
    expect(self.body.error.message).toMatch(/author never approves own work/);

    const other = await call('brand', 'POST', '/api/templates', templateInput());
    await call('brand', 'POST', `/api/templates/${other.body.id}/submit`, {});
    const first = await call('compliance', 'POST', `/api/templates/${other.body.id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(first.body).toMatchObject({ status: 'in_review', approvalCode: null });
    const twice = await call('compliance', 'POST', `/api/templates/${other.body.id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(twice.status).toBe(409);
    const last = await call('medical', 'POST', `/api/templates/${other.body.id}/approve`, {
      password: TEST_PASSWORD,
    });
    expect(last.body.status).toBe('approved');
    expect(last.body.signatures.map((s: { role: string; meaning: string }) => [s.role, s.meaning])).toEqual([
      ['compliance', 'approved for use in BR (compliance review)'],
      ['medical', 'approved for use in BR (medical review)'],
    ]);
    expect(await auditActions(other.body.id)).toEqual([
      'template.created',
      'template.submitted',
      'template.signed',
      'template.approved',
    ]);
  });

  it('keeps the audit chain whole through all of it', async () => {
    expect((await p.context.audit.verify(p.context.db)).ok).toBe(true);
  });
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}
