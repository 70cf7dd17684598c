/**
 * THE AUTHORIZATION MATRIX (RELIABILITY 30 and 31): every registered route × every role × in / out of
 * scope, through the real app on both dialects.
 *
 * HOW TO ADD YOUR ROUTE — one entry in `MATRIX` below, keyed `'METHOD /url/:pattern'` exactly as you
 * registered it (a registered route missing here fails the test, and so does an entry whose route no
 * longer exists). `roles` must equal the route's `config.access`. Pick the kind:
 * - `object`: the route names one object (an HCP, a message, a case…). `objects` returns instances,
 *   each with the users who may see it; `hcpObjects` covers routes whose id is an HCP id, and
 *   `ownedByHcp(hcpKey, id)` marks any object that belongs to an HCP as visible exactly to those who
 *   see that HCP. `request(id)` says where the id goes (default: the `:id` url parameter, or the one
 *   `param` names; for a body-scoped route return `{ payload }`); other url parameters get `x`. The
 *   test asserts: in scope → neither 401, 403, 404 nor 5xx (narrow it with `inScope`); out of scope
 *   (and a made-up id) → 404 `not_found` plus an `out_of_scope` security-log line for that user.
 * - `list`: the route lists rows tied to HCPs. `hcpIdsOf(body)` maps the answer to the HCP ids it
 *   shows; the test asserts each caller sees no HCP outside their scope (`exact: true`: exactly theirs).
 * - `none`: no object id (login, rulebook, analytics…): only the function-level check.
 * For every kind, a role outside `roles` gets 403 `forbidden` (never a 2xx), and a role inside never gets
 * 401/403/5xx. Build extra data (a case, a message) in `objects`, through `f.p.context`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Access } from './index.js';
import { registeredRoutes, ROLES } from './index.js';
import { newId } from '../platform/crypto/index.js';
import {
  bareMessageRow,
  bareTemplateRow,
  DIALECTS,
  startTestParley,
  type TestParley,
  type TestWorld,
} from '../test-support/index.js';

type UserKey = keyof TestWorld['users'];
type HcpKey = keyof TestWorld['hcps'];

const USERS: readonly UserKey[] = [
  'rep1',
  'rep2',
  'repEs',
  'manager',
  'msl',
  'pv',
  'compliance',
  'brand',
  'medical',
  'digital',
  'admin',
];

/**
 * Who sees which HCP of the test world, written out by hand from CONTRACT.md's "Who sees what" (never
 * computed from the code under test): reps their territory; the manager both BR reps' territories; the
 * BR msl the BR market; pv only HCPs linked to a case (the fixture opens one for br1a); compliance and
 * admin all; brand, medical and digital none.
 */
const SEES: Record<UserKey, readonly HcpKey[]> = {
  rep1: ['br1a', 'br1b'],
  rep2: ['br2a'],
  repEs: ['es1a'],
  manager: ['br1a', 'br1b', 'br2a'],
  msl: ['br1a', 'br1b', 'br2a'],
  pv: ['br1a'],
  compliance: ['br1a', 'br1b', 'br2a', 'es1a'],
  admin: ['br1a', 'br1b', 'br2a', 'es1a'],
  brand: [],
  medical: [],
  digital: [],
};

const HCP_KEYS: readonly HcpKey[] = ['br1a', 'br1b', 'br2a', 'es1a'];

interface MatrixFixture {
  p: TestParley;
  hcpId: Record<HcpKey, string>;
}

interface ObjectInstance {
  id: string;
  visibleTo: readonly UserKey[];
}

interface Probe {
  url?: string;
  payload?: unknown;
}

type Entry = { roles: Access } & (
  | {
      kind: 'object';
      /** The url parameter that names the object; default `id`. */
      param?: string;
      objects: (f: MatrixFixture) => Promise<ObjectInstance[]> | ObjectInstance[];
      request?: (id: string, f: MatrixFixture) => Probe;
      /** Statuses an in-scope call may answer; default: anything but 401, 403, 404 and 5xx. */
      inScope?: readonly number[];
    }
  | {
      kind: 'list';
      query?: string;
      hcpIdsOf: (body: unknown) => string[];
      exact?: boolean;
    }
  | { kind: 'none'; probe?: (f: MatrixFixture) => Probe }
);

/** An object that belongs to one HCP: visible exactly to those who see that HCP. */
const ownedByHcp = (hcp: HcpKey, id: string): ObjectInstance => ({
  id,
  visibleTo: USERS.filter((u) => SEES[u].includes(hcp)),
});

/** Every world HCP, each visible to the users SEES names. */
const hcpObjects = (f: MatrixFixture): ObjectInstance[] =>
  HCP_KEYS.map((key) => ownedByHcp(key, f.hcpId[key]));

const ALL_ROLES: Access = 'user';
const itemsHcpIds = (field: string) => (body: unknown) =>
  ((body as { items: Array<Record<string, string>> }).items ?? []).map((i) => i[field]!);

/** The four review steps of a content library, each probed on a made-up id (a 404 for allowed roles). */
function contentReviewEntries(kind: 'templates' | 'assets', noneId: string): Record<string, Entry> {
  const steps: Array<[string, Access, unknown]> = [
    ['submit', ['brand', 'medical'], {}],
    ['approve', ['compliance', 'medical'], { password: 'not checked before the 404' }],
    ['reject', ['compliance', 'medical'], { comment: 'x' }],
    ['withdraw', ['compliance', 'brand', 'medical'], { reason: 'x' }],
  ];
  return Object.fromEntries(
    steps.map(([step, roles, payload]) => [
      `POST /api/${kind}/:id/${step}`,
      { kind: 'none', roles, probe: () => ({ url: `/api/${kind}/${noneId}/${step}`, payload }) },
    ]),
  );
}

/** An approved template every user may read, for the render route's per-HCP probe. */
let renderTemplateId = '';
async function approvedTemplateFor(f: MatrixFixture): Promise<string> {
  const now = f.p.clock.now().toISOString();
  const id = newId('tpl');
  await f.p.context.db
    .insertInto('templates')
    .values(
      bareTemplateRow({
        id,
        key: 'matrix_render',
        body: 'Olá {{hcp_name}}.',
        parameters_json: JSON.stringify([{ name: 'hcp_name', type: 'hcp_name' }]),
        approval_code: 'BR-MATRIX-RENDER-V1',
        author_id: f.p.world.users.brand.id,
        approved_by: f.p.world.users.compliance.id,
        approved_at: now,
        created_at: now,
      }),
    )
    .execute();
  return id;
}

/** A sent message to one HCP of the world, written straight into the store (the send path has its own tests). */
async function outboundMessageFor(f: MatrixFixture, hcp: HcpKey): Promise<string> {
  const now = f.p.clock.now().toISOString();
  const id = newId('msg');
  await f.p.context.db
    .insertInto('messages')
    .values(
      bareMessageRow({
        id,
        hcp_id: f.hcpId[hcp],
        rep_id: f.p.world.users.rep1.id,
        direction: 'outbound',
        phone_number_id: f.p.context.config.whatsapp.phoneNumberId,
        type: 'text',
        body_enc: f.p.context.cipher.seal('Olá'),
        provenance_json: JSON.stringify({
          template: null,
          bodyParameters: [],
          assets: [],
          purpose: 'service',
          consentEntryId: null,
          reviewedBy: null,
          kind: 'rep',
        }),
        status: 'sent',
        created_at: now,
      }),
    )
    .execute();
  return id;
}

/** An inbound image from one HCP of the world, waiting in the media review queue (whatsapp). */
async function inboundMediaFor(f: MatrixFixture, hcp: HcpKey): Promise<string> {
  const now = f.p.clock.now().toISOString();
  const id = newId('msg');
  await f.p.context.db
    .insertInto('messages')
    .values(
      bareMessageRow({
        id,
        hcp_id: f.hcpId[hcp],
        direction: 'inbound',
        wamid: `wamid.matrix-${id}`,
        phone_number_id: f.p.context.config.whatsapp.phoneNumberId,
        type: 'image',
        provenance_json: JSON.stringify({
          media: { id: '1003383421387256', mimeType: 'image/jpeg', sha256: null },
        }),
        status: 'needs_review',
        meta_timestamp: now,
        created_at: now,
      }),
    )
    .execute();
  return id;
}

/**
 * Cases of each kind, all on br1a (pv's scope is "HCPs linked to a case", so a case on another HCP would
 * widen it): adverse events and complaints are pv's, medical inquiries the BR msl's, compliance sees all.
 */
async function casesFor(f: MatrixFixture): Promise<ObjectInstance[]> {
  const now = f.p.clock.now().toISOString();
  const kinds: Array<
    [
      'adverse_event' | 'medical_inquiry' | 'complaint',
      'safety' | 'medical_information' | 'quality',
      UserKey[],
    ]
  > = [
    ['adverse_event', 'safety', ['pv', 'compliance']],
    ['medical_inquiry', 'medical_information', ['msl', 'compliance']],
    ['complaint', 'quality', ['pv', 'compliance']],
  ];
  const out: ObjectInstance[] = [];
  for (const [kind, team, visibleTo] of kinds) {
    const id = newId('case');
    await f.p.context.db
      .insertInto('cases')
      .values({
        id,
        kind,
        hcp_id: f.hcpId.br1a,
        message_id: null,
        interaction_id: null,
        verbatim_enc: f.p.context.cipher.seal('matrix case'),
        product: null,
        market_code: 'BR',
        aware_at: now,
        due_at: now,
        status: 'open',
        owner_team: team,
        triage_json: '{"signals":[],"matched":[]}',
        created_at: now,
        updated_at: now,
      })
      .execute();
    out.push({ id, visibleTo });
  }
  return out;
}

const MATRIX: Record<string, Entry> = {
  // identity
  'POST /api/auth/login': {
    kind: 'none',
    roles: 'public',
    probe: () => ({ payload: { email: 'nobody@test.parley', password: 'not the password' } }),
  },
  'POST /api/auth/logout': { kind: 'none', roles: ALL_ROLES },
  'GET /api/me': { kind: 'none', roles: ALL_ROLES },

  // hcps
  'GET /api/hcps': { kind: 'list', roles: ALL_ROLES, hcpIdsOf: itemsHcpIds('id'), exact: true },
  'GET /api/hcps/:id': { kind: 'object', roles: ALL_ROLES, objects: hcpObjects, inScope: [200] },
  'POST /api/hcps': { kind: 'none', roles: ['admin'], probe: () => ({ payload: {} }) },

  // engagement
  'POST /api/interactions': {
    kind: 'object',
    roles: ['rep', 'manager', 'msl', 'pv', 'compliance', 'admin'],
    objects: hcpObjects,
    request: (hcpId) => ({
      payload: { hcpId, channel: 'f2f', kind: 'call', occurredAt: '2026-03-02T10:00:00.000Z' },
    }),
  },
  'GET /api/hcps/:id/timeline': { kind: 'object', roles: ALL_ROLES, objects: hcpObjects, inScope: [200] },
  'POST /api/imports/:kind': {
    kind: 'none',
    roles: ['admin'],
    probe: () => ({ url: '/api/imports/territories', payload: { not: 'a file' } }),
  },
  'GET /api/analytics/:report': {
    kind: 'none',
    roles: ['brand', 'medical', 'digital', 'manager', 'compliance'],
    probe: () => ({ url: '/api/analytics/overview' }),
  },

  // consent: a withdrawal as the probe, since anyone who sees the HCP may withdraw (grants are narrower,
  // tested in src/consent/consent.routes.test.ts)
  'GET /api/hcps/:id/consent': { kind: 'object', roles: ALL_ROLES, objects: hcpObjects, inScope: [200] },
  'POST /api/hcps/:id/consent': {
    kind: 'object',
    roles: ALL_ROLES,
    objects: hcpObjects,
    request: () => ({
      payload: { channel: 'email', purpose: 'events', status: 'withdrawn', source: 'verbal' },
    }),
    inScope: [201],
  },
  'GET /api/hcps/:id/preferences': { kind: 'object', roles: ALL_ROLES, objects: hcpObjects, inScope: [200] },
  'GET /api/consent/holds': { kind: 'none', roles: ['compliance'] },
  'POST /api/consent/holds/:id/resolve': {
    kind: 'none',
    roles: ['compliance'],
    probe: () => ({ url: '/api/consent/holds/chd_none/resolve', payload: { resolution: 'not_an_opt_out' } }),
  },
  'PUT /api/hcps/:id/preferences': {
    kind: 'object',
    roles: ['rep', 'manager', 'msl', 'compliance', 'admin'],
    objects: hcpObjects,
    request: () => ({
      payload: { preferredChannels: {}, contactWindows: [], language: 'pt-BR', frequencyLimit: null },
    }),
    inScope: [200],
  },

  // content (issue 3): the libraries are not HCP-scoped (function-level only); rendering for an HCP is.
  'GET /api/templates': { kind: 'none', roles: ALL_ROLES },
  'GET /api/assets': { kind: 'none', roles: ALL_ROLES },
  'GET /api/templates/:id': {
    kind: 'none',
    roles: ALL_ROLES,
    probe: () => ({ url: '/api/templates/tpl_none' }),
  },
  'GET /api/assets/:id': { kind: 'none', roles: ALL_ROLES, probe: () => ({ url: '/api/assets/ast_none' }) },
  'POST /api/templates': { kind: 'none', roles: ['brand', 'medical'], probe: () => ({ payload: {} }) },
  'POST /api/assets': { kind: 'none', roles: ['brand', 'medical'], probe: () => ({ payload: {} }) },
  ...contentReviewEntries('templates', 'tpl_none'),
  ...contentReviewEntries('assets', 'ast_none'),
  'GET /api/templates/:id/diff': {
    kind: 'none',
    roles: ['compliance', 'brand', 'medical'],
    probe: () => ({ url: '/api/templates/tpl_none/diff?against=tpl_none' }),
  },
  'GET /api/assets/:id/diff': {
    kind: 'none',
    roles: ['compliance', 'brand', 'medical'],
    probe: () => ({ url: '/api/assets/ast_none/diff?against=ast_none' }),
  },
  'GET /api/templates/:id/render': {
    kind: 'object',
    roles: ALL_ROLES,
    objects: async (f) => {
      renderTemplateId = await approvedTemplateFor(f);
      return hcpObjects(f);
    },
    request: (hcpId) => ({ url: `/api/templates/${renderTemplateId}/render?hcpId=${hcpId}` }),
    inScope: [200],
  },
  'GET /api/templates/:id/recipients': {
    kind: 'none',
    roles: ['compliance'],
    probe: () => ({ url: '/api/templates/tpl_none/recipients' }),
  },
  'GET /api/assets/:id/recipients': {
    kind: 'none',
    roles: ['compliance'],
    probe: () => ({ url: '/api/assets/ast_none/recipients' }),
  },
  'GET /l/:code': { kind: 'none', roles: 'public', probe: () => ({ url: '/l/AAAAAAAAAAAAAAAAAAAAAAAA' }) },
  'GET /api/venues': { kind: 'none', roles: ALL_ROLES, probe: () => ({ url: '/api/venues?market=BR' }) },

  // messaging
  'POST /api/messages/check': {
    kind: 'object',
    roles: ['rep', 'manager'],
    objects: hcpObjects,
    request: (hcpId) => ({ payload: { hcpId, text: 'Olá, doutora.' } }),
    inScope: [200],
  },
  'POST /api/messages': {
    kind: 'object',
    roles: ['rep'],
    objects: hcpObjects,
    request: (hcpId) => ({ payload: { hcpId, text: 'Olá, doutora.' } }),
    inScope: [202, 422],
  },
  'GET /api/messages/:id': {
    kind: 'object',
    roles: ALL_ROLES,
    objects: async (f) =>
      Promise.all(HCP_KEYS.map(async (key) => ownedByHcp(key, await outboundMessageFor(f, key)))),
    inScope: [200],
  },
  'GET /api/reviews': { kind: 'none', roles: ['compliance'] },
  'POST /api/reviews/:messageId/approve': {
    kind: 'none',
    roles: ['compliance'],
    probe: () => ({ url: '/api/reviews/msg_none/approve', payload: {} }),
  },
  'POST /api/reviews/:messageId/reject': {
    kind: 'none',
    roles: ['compliance'],
    probe: () => ({ url: '/api/reviews/msg_none/reject', payload: { comment: 'x' } }),
  },
  'GET /api/decisions': { kind: 'list', roles: ['compliance', 'manager'], hcpIdsOf: itemsHcpIds('hcpId') },
  'GET /api/decisions/:id/replay': {
    kind: 'none',
    roles: ['compliance'],
    probe: () => ({ url: '/api/decisions/dec_none/replay' }),
  },
  'GET /api/outbox/dead': { kind: 'none', roles: ['admin'] },
  'POST /api/outbox/:id/redrive': {
    kind: 'none',
    roles: ['admin'],
    probe: () => ({ url: '/api/outbox/obx_none/redrive' }),
  },
  'GET /api/outbox/halts': { kind: 'none', roles: ['admin', 'compliance'] },
  'POST /api/outbox/halts/:scope/lift': {
    kind: 'none',
    roles: ['admin'],
    probe: () => ({ url: '/api/outbox/halts/none/lift', payload: { reason: 'token rotated' } }),
  },

  // policy (issue 4): the rulebook is not HCP-scoped; reading is for every user, writing for compliance.
  'GET /api/rulebook': { kind: 'none', roles: ALL_ROLES },
  'PUT /api/rulebook': { kind: 'none', roles: ['compliance'], probe: () => ({ payload: {} }) },
  'GET /api/rulebook/versions': { kind: 'none', roles: ALL_ROLES },
  'GET /api/rulebook/versions/:version': {
    kind: 'none',
    roles: ALL_ROLES,
    probe: () => ({ url: '/api/rulebook/versions/1' }),
  },

  // whatsapp (webhook and the queues it fills) and assistant (cases)
  'GET /webhooks/whatsapp': {
    kind: 'none',
    roles: 'public',
    probe: (f) => ({
      url: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(f.p.context.config.whatsapp.verifyToken)}&hub.challenge=1`,
    }),
  },
  'POST /webhooks/whatsapp': {
    kind: 'none',
    roles: 'public',
    probe: () => ({ payload: { unsigned: true } }),
  },
  'GET /api/contacts/unknown': { kind: 'none', roles: ['admin', 'compliance'] },
  'GET /api/whatsapp/media-review': {
    kind: 'list',
    roles: ['pv', 'compliance'],
    hcpIdsOf: (body) => itemsHcpIds('hcpId')(body).filter(Boolean),
  },
  'POST /api/whatsapp/media-review/:messageId/reviewed': {
    kind: 'object',
    roles: ['pv', 'compliance'],
    param: 'messageId',
    objects: async (f) =>
      Promise.all(HCP_KEYS.map(async (key) => ownedByHcp(key, await inboundMediaFor(f, key)))),
    request: () => ({ payload: {} }),
    inScope: [200],
  },
  'GET /api/cases': {
    kind: 'list',
    roles: ['rep', 'manager', 'msl', 'pv', 'compliance'],
    hcpIdsOf: (body) => itemsHcpIds('hcpId')(body).filter(Boolean),
  },
  'PATCH /api/cases/:id': {
    kind: 'object',
    roles: ['pv', 'msl', 'compliance'],
    objects: casesFor,
    request: () => ({ payload: { status: 'in_progress' } }),
    inScope: [200],
  },

  // audit
  'GET /api/audit/verify': { kind: 'none', roles: ['compliance', 'admin'] },
  'GET /api/audit': { kind: 'none', roles: ['compliance', 'admin'] },

  // privacy: erasure is probed on the world's HCPs under a legal hold (an in-scope call answers 409
  // legal_hold and erases nothing, so the world stays whole for every other entry)
  'GET /api/hcps/:id/export': {
    kind: 'object',
    roles: ['compliance', 'admin'],
    objects: hcpObjects,
    inScope: [200],
  },
  'POST /api/hcps/:id/erasure': {
    kind: 'object',
    roles: ['compliance', 'admin'],
    objects: async (f) => {
      await f.p.context.db.updateTable('hcps').set({ legal_hold: 1 }).execute();
      return hcpObjects(f);
    },
    request: () => ({ payload: { reason: 'authorization matrix probe' } }),
    inScope: [409],
  },
  'POST /api/hcps/:id/legal-hold': {
    kind: 'object',
    roles: ['compliance'],
    objects: hcpObjects,
    request: () => ({ payload: { hold: true, reason: 'authorization matrix probe' } }),
    inScope: [200],
  },
  'GET /api/audit/inspection': {
    kind: 'object',
    roles: ['compliance'],
    objects: hcpObjects,
    request: (hcpId) => ({
      url: `/api/audit/inspection?hcpId=${encodeURIComponent(hcpId)}&from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z`,
    }),
    inScope: [200],
  },
};

/**
 * Meta's Cloud API stand-in (whatsapp/sandbox) answers as Meta does, to anyone: its routes are only
 * checked to declare `public`, and are not probed per role.
 */
const PUBLIC_PREFIXES = ['/sandbox/'];

/** The route's url with its object parameter set to `id` and any other parameter to a placeholder. */
const fill = (pattern: string, param: string, id: string) =>
  pattern.replace(/:(\w+)/g, (_m, name: string) => (name === param ? encodeURIComponent(id) : 'x'));

const rolesAllowed = (access: Access): readonly string[] =>
  access === 'public' || access === 'user' ? ROLES : access;

describe.each(DIALECTS)('the authorization matrix on %s', (dialect) => {
  let f: MatrixFixture;
  const tokens = {} as Record<UserKey, string>;

  beforeAll(async () => {
    const p = await startTestParley(dialect);
    const hcpId = Object.fromEntries(HCP_KEYS.map((k) => [k, p.world.hcps[k].id])) as Record<HcpKey, string>;
    // pv sees HCPs linked to a case: link br1a to one.
    const now = p.clock.now().toISOString();
    await p.context.db
      .insertInto('cases')
      .values({
        id: newId('case'),
        kind: 'adverse_event',
        hcp_id: hcpId.br1a,
        message_id: null,
        interaction_id: null,
        verbatim_enc: p.context.cipher.seal('patient reported a rash'),
        product: null,
        market_code: 'BR',
        aware_at: now,
        due_at: now,
        status: 'open',
        owner_team: 'safety',
        triage_json: '{}',
        created_at: now,
        updated_at: now,
      })
      .execute();
    for (const u of USERS) tokens[u] = await p.world.tokenFor(u);
    f = { p, hcpId };
  });
  afterAll(async () => {
    await f?.p.destroy();
  });

  const call = (method: string, url: string, user: UserKey | null, payload?: unknown, token?: string) =>
    f.p.app.inject({
      method: method as 'GET',
      url,
      headers: user ? { authorization: `Bearer ${token ?? tokens[user]}` } : {},
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  // Fixtures are built once per entry, however many tests use them.
  const built = new Map<Entry, Promise<ObjectInstance[]>>();
  const objectsOf = (entry: Extract<Entry, { kind: 'object' }>) => {
    if (!built.has(entry)) built.set(entry, Promise.resolve(entry.objects(f)));
    return built.get(entry)!;
  };

  const outOfScopeLines = async (user: UserKey) => {
    const row = await f.p.context.db
      .selectFrom('security_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'out_of_scope')
      .where('actor_id', '=', f.p.world.users[user].id)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  it('lists every registered route, and only those, with the access it declares', () => {
    const all = registeredRoutes(f.p.app);
    const underPublicPrefix = all.filter((r) => PUBLIC_PREFIXES.some((prefix) => r.url.startsWith(prefix)));
    expect(underPublicPrefix.filter((r) => r.access !== 'public')).toEqual([]);
    const registered = all.filter((r) => !underPublicPrefix.includes(r));
    const keys = new Set(registered.map((r) => `${r.method} ${r.url}`));
    const missing = [...keys].filter((k) => !(k in MATRIX));
    const stale = Object.keys(MATRIX).filter((k) => !keys.has(k));
    expect(missing, `routes missing from MATRIX (add one entry each): ${missing.join(', ')}`).toEqual([]);
    expect(stale, `MATRIX entries whose route is not registered: ${stale.join(', ')}`).toEqual([]);
    const declared = registered
      .filter((r) => `${r.method} ${r.url}` in MATRIX)
      .map((r) => [`${r.method} ${r.url}`, r.access]);
    const tabled = declared.map(([k, access]) => {
      const roles = MATRIX[k as string]!.roles;
      // Same roles in any order count as the same declaration.
      const same =
        typeof roles === 'string' || typeof access === 'string'
          ? roles === access
          : [...roles].sort().join() === [...(access as readonly string[])].sort().join();
      return [k, same ? access : roles];
    });
    expect(declared).toEqual(tabled);
  });

  it.each(Object.entries(MATRIX))('%s refuses every role it does not name with 403', async (key, entry) => {
    const [method, pattern] = key.split(' ') as [string, string];
    const allowed = rolesAllowed(entry.roles);
    const failures: string[] = [];
    for (const user of USERS) {
      const role = f.p.world.users[user].role;
      const probe = entry.kind === 'none' ? (entry.probe?.(f) ?? {}) : {};
      const someId = entry.kind === 'object' ? (await objectsOf(entry))[0]!.id : 'x';
      const objectProbe = entry.kind === 'object' ? (entry.request?.(someId, f) ?? {}) : {};
      const url =
        (objectProbe.url ??
          probe.url ??
          fill(pattern, entry.kind === 'object' ? (entry.param ?? 'id') : '', someId)) +
        (entry.kind === 'list' ? (entry.query ?? '') : '');
      // A fresh session per call: a probe of POST /api/auth/logout ends the session it is sent with.
      const res = await call(
        method,
        url,
        user,
        objectProbe.payload ?? probe.payload,
        await f.p.world.tokenFor(user),
      );
      if (!allowed.includes(role)) {
        if (res.statusCode !== 403 || res.json().error?.code !== 'forbidden')
          failures.push(`${user} (${role}) got ${res.statusCode}, expected 403`);
      } else if (
        // A public route may answer 401 for its own reasons (a wrong password); the guard never does.
        (entry.roles !== 'public' && res.statusCode === 401) ||
        res.statusCode === 403 ||
        res.statusCode >= 500
      ) {
        failures.push(`${user} (${role}) is allowed but got ${res.statusCode}: ${res.body.slice(0, 200)}`);
      }
    }
    if (entry.roles !== 'public') {
      const anonymous = await call(method, fill(pattern, '', 'x'), null);
      if (anonymous.statusCode !== 401) failures.push(`anonymous got ${anonymous.statusCode}, expected 401`);
    }
    expect(failures).toEqual([]);
  });

  const objectEntries = Object.entries(MATRIX).filter(
    (e): e is [string, Extract<Entry, { kind: 'object' }>] => e[1].kind === 'object',
  );
  it.each(objectEntries)(
    '%s answers 404 and writes the security log for every object out of scope',
    async (key, entry) => {
      const [method, pattern] = key.split(' ') as [string, string];
      const allowed = rolesAllowed(entry.roles);
      const instances = [...(await objectsOf(entry)), { id: newId('nope'), visibleTo: [] }];
      const failures: string[] = [];
      for (const user of USERS.filter((u) => allowed.includes(f.p.world.users[u].role))) {
        for (const { id, visibleTo } of instances) {
          const probe = entry.request?.(id, f) ?? {};
          const url = probe.url ?? fill(pattern, entry.param ?? 'id', id);
          const before = await outOfScopeLines(user);
          const res = await call(method, url, user, probe.payload);
          if (visibleTo.includes(user)) {
            const ok = entry.inScope
              ? entry.inScope.includes(res.statusCode)
              : ![401, 403, 404].includes(res.statusCode) && res.statusCode < 500;
            if (!ok) failures.push(`${user} in scope of ${id}: ${res.statusCode} ${res.body.slice(0, 200)}`);
          } else {
            if (res.statusCode !== 404 || res.json().error?.code !== 'not_found')
              failures.push(`${user} out of scope of ${id}: ${res.statusCode}, expected 404`);
            if ((await outOfScopeLines(user)) <= before)
              failures.push(`${user} out of scope of ${id}: no out_of_scope line in the security log`);
          }
        }
      }
      expect(failures).toEqual([]);
    },
  );

  const listEntries = Object.entries(MATRIX).filter(
    (e): e is [string, Extract<Entry, { kind: 'list' }>] => e[1].kind === 'list',
  );
  it.each(listEntries)('%s shows each role only rows in its scope', async (key, entry) => {
    const [method, pattern] = key.split(' ') as [string, string];
    const allowed = rolesAllowed(entry.roles);
    const failures: string[] = [];
    for (const user of USERS.filter((u) => allowed.includes(f.p.world.users[u].role))) {
      const res = await call(method, pattern + (entry.query ?? ''), user);
      if (res.statusCode !== 200) {
        failures.push(`${user}: ${res.statusCode}`);
        continue;
      }
      const seen = new Set(entry.hcpIdsOf(res.json()));
      const mine = new Set(SEES[user].map((k) => f.hcpId[k]));
      const leaked = [...seen].filter((id) => !mine.has(id));
      if (leaked.length) failures.push(`${user} sees out-of-scope HCPs ${leaked.join(', ')}`);
      if (entry.exact && seen.size !== mine.size) failures.push(`${user} sees ${seen.size} of ${mine.size}`);
    }
    expect(failures).toEqual([]);
  });

  it('hides existence: an out-of-scope HCP and a made-up id get the same answer', async () => {
    const outOfScope = await call('GET', `/api/hcps/${f.hcpId.es1a}`, 'rep1');
    const madeUp = await call('GET', `/api/hcps/${newId('hcp')}`, 'rep1');
    expect([outOfScope.statusCode, madeUp.statusCode]).toEqual([404, 404]);
    expect(outOfScope.json()).toEqual(madeUp.json());
  });
});
