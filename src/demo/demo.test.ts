import { sql } from 'kysely';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldConsent, listConsentEntries } from '../consent/index.js';
import { renderTemplate, type TemplateParameter } from '../content/index.js';
import { provenanceFromStorage } from '../messaging/index.js';
import {
  DEFAULT_RULEBOOK_YAML,
  parseRulebook,
  REASON_CODES,
  rulesForMarket,
  type ReasonCode,
} from '../policy/index.js';
import { findHcpByWhatsappNumber, listVisibleHcps, normaliseNumber, type Hcp } from '../hcps/index.js';
import { loadPrincipal, type Principal } from '../identity/index.js';
import { ManualClock } from '../platform/clock/index.js';
import { verifyPassword } from '../platform/crypto/index.js';
import { DomainError } from '../platform/errors/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import {
  CONSENT_PROFILES,
  DEMO_USERS,
  consentEntriesFor,
  demoHcp,
  interactionCountFor,
  isStoreEmpty,
  seedDemoWorld,
  type DemoWorldOptions,
  type SeedSummary,
} from './index.js';
import { assetRows, interactionsFor, templateRows } from './demo-world.js';
import { libraryOf } from './demo-whatsapp.js';

const NOW = '2026-03-03T14:00:00.000Z';
const SMALL = { seed: 7, hcps: 64, interactions: 64 * 30 };

const world = (seed: number, hcps = 200, interactions = 8000): DemoWorldOptions => ({
  seed,
  hcps,
  interactions,
  now: new Date(NOW),
  defaultPhoneNumberId: '106540352242922',
});

describe('the demo world, as pure functions of a seed', () => {
  it('gives the same HCPs, numbers and consent ledgers for the same seed', () => {
    const a = Array.from({ length: 200 }, (_, i) => demoHcp(world(11), i));
    const b = Array.from({ length: 200 }, (_, i) => demoHcp(world(11), i));
    expect(b).toEqual(a);
    expect(b.map((h) => consentEntriesFor(world(11), h))).toEqual(
      a.map((h) => consentEntriesFor(world(11), h)),
    );
  });

  it('gives a different world for a different seed', () => {
    const a = Array.from({ length: 50 }, (_, i) => demoHcp(world(11), i).name);
    const b = Array.from({ length: 50 }, (_, i) => demoHcp(world(12), i).name);
    expect(b).not.toEqual(a);
  });

  it('keeps the HCPs when only the amount of history changes', () => {
    const few = Array.from({ length: 30 }, (_, i) => demoHcp(world(3, 30, 300), i));
    const many = Array.from({ length: 30 }, (_, i) => demoHcp(world(3, 30, 90_000), i));
    expect(many).toEqual(few);
  });

  it('gives every HCP a valid, distinct WhatsApp number for its country', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 99_999 }),
        (seed, start) => {
          const hcps = Array.from({ length: 40 }, (_, i) => demoHcp(world(seed, 100_000), start + i));
          const numbers = hcps.flatMap((h) => (h.whatsappNumber ? [h.whatsappNumber] : []));
          for (const n of numbers) expect(normaliseNumber(n)).toBe(n);
          for (const h of hcps)
            if (h.whatsappNumber)
              expect(h.whatsappNumber.startsWith(`+${h.market.countryCallingCode}`)).toBe(true);
          expect(new Set(numbers).size).toBe(numbers.length);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('shares out exactly the requested number of interactions, none negative', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.nat(),
        (n, m, seed) => {
          const options = world(seed, n, m);
          const counts = Array.from({ length: n }, (_, i) => interactionCountFor(options, i));
          expect(counts.every((c) => c >= 0)).toBe(true);
          expect(counts.reduce((a, b) => a + b, 0)).toBe(m);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("the demo world's WhatsApp history, generated", () => {
  it('refuses some attempts at the weekly cap, each when two sends went out in the 7 days before', () => {
    const options = world(5, 300, 12_000);
    const { templates } = templateRows(options);
    const { assets } = assetRows(options);
    const parsed = parseRulebook(DEFAULT_RULEBOOK_YAML);
    if (!parsed.ok) throw new Error('the shipped rulebook does not parse');
    const library = libraryOf(
      templates,
      assets,
      (market) => rulesForMarket({ version: 1, document: parsed.document }, market).purposes,
      'http://127.0.0.1:8080',
    );
    let capped = 0;
    let sequence = 1;
    for (let i = 0; i < options.hcps; i++) {
      const hcp = demoHcp(options, i);
      const count = interactionCountFor(options, i);
      const rows = [
        ...interactionsFor(options, hcp, i + 1, count, sequence, library, consentEntriesFor(options, hcp)),
      ];
      sequence += count;
      const sends = rows.flatMap((r) =>
        r.message?.direction === 'outbound'
          ? [{ at: Date.parse(r.message.created_at), template: r.message.template_id }]
          : [],
      );
      for (const r of rows) {
        if (!r.decision?.reasons_json.includes('frequency_cap')) continue;
        capped++;
        const at = Date.parse(r.decision.decided_at);
        const reasons = JSON.parse(r.decision.reasons_json) as { rule: string }[];
        const before = (days: number) => sends.filter((x) => x.at > at - days * 86_400_000 && x.at < at);
        expect(before(7).length).toBeGreaterThanOrEqual(2);
        if (reasons.some((x) => x.rule === 'duplicates.same_template_within_days'))
          expect(before(14).some((x) => x.template === r.interaction.template_id)).toBe(true);
        if (reasons.some((x) => x.rule === 'frequency.per_hcp.max_per_local_day'))
          expect(before(1).length).toBeGreaterThan(0);
      }
    }
    expect(capped).toBeGreaterThan(0);
  });
});

async function allVisible(p: TestParley, principal: Principal): Promise<Hcp[]> {
  const out: Hcp[] = [];
  let cursor: string | undefined;
  do {
    const page = await listVisibleHcps(p.context.db, p.context, principal, { limit: 100, cursor });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

async function principalFor(p: TestParley, email: string): Promise<Principal> {
  const user = await p.context.db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'role'])
    .where('email', '=', email)
    .executeTakeFirstOrThrow();
  return loadPrincipal(p.context.db, { ...user, sessionId: 'test' });
}

/** The current WhatsApp consent of an HCP as the consent ledger folds it, one label per demo profile. */
async function whatsappState(p: TestParley, hcpId: string): Promise<string> {
  const entries = await listConsentEntries(p.context.db, hcpId);
  const now = p.clock.now();
  const nonPromotional = foldConsent(entries, 'whatsapp', 'non_promotional', now).status;
  const promotional = foldConsent(entries, 'whatsapp', 'promotional', now).status;
  if (promotional === 'granted') return 'granted_promotional';
  if (promotional === 'refused') return 'refused';
  return nonPromotional === 'granted' ? 'granted_non_promotional' : nonPromotional;
}

describe.each(DIALECTS)('the demo seed on %s', (dialect) => {
  let p: TestParley;
  let summary: SeedSummary;
  beforeAll(async () => {
    p = await startTestParley(dialect, { world: false, clock: new ManualClock(NOW) });
    summary = await seedDemoWorld(p.context, SMALL);
  }, 60_000);
  afterAll(async () => {
    await p?.destroy();
  });

  it('writes what it reports, and exactly the interactions asked for', async () => {
    const db = p.context.db;
    const count = async (table: 'hcps' | 'interactions' | 'consent_entries' | 'templates' | 'assets') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(summary).toMatchObject({ hcps: SMALL.hcps, interactions: SMALL.interactions, atomic: true });
    expect(await count('hcps')).toBe(SMALL.hcps);
    expect(await count('interactions')).toBe(SMALL.interactions);
    expect(await count('consent_entries')).toBe(summary.consentEntries);
    expect(await count('templates')).toBe(summary.templates);
    expect(await count('assets')).toBe(summary.assets);
  });

  it('leaves planner statistics, and on PostgreSQL vacuumed tables, as a store settles after a load', async () => {
    const db = p.context.db;
    if (dialect === 'sqlite') {
      const stats = await sql<{ tbl: string }>`select distinct tbl from sqlite_stat1`.execute(db);
      expect(stats.rows.map((r) => r.tbl)).toEqual(expect.arrayContaining(['messages', 'interactions']));
    } else {
      const tables = await sql<{ relname: string; vacuumed: boolean; analyzed: boolean }>`
        select relname, last_vacuum is not null as vacuumed, last_analyze is not null as analyzed
        from pg_stat_user_tables where schemaname = current_schema() and relname in ('messages', 'interactions')
        order by relname`.execute(db);
      expect(tables.rows).toEqual([
        { relname: 'interactions', vacuumed: true, analyzed: true },
        { relname: 'messages', vacuumed: true, analyzed: true },
      ]);
    }
  });

  it('lets every demo user sign in with the demo password', async () => {
    const users = await p.context.db.selectFrom('users').select(['email', 'password_hash']).execute();
    expect(users.map((u) => u.email).sort()).toEqual(DEMO_USERS.map((u) => u.email).sort());
    // The demo users share one hash (see seedDemoWorld): checking each distinct hash checks every user.
    for (const hash of new Set(users.map((u) => u.password_hash)))
      expect(await verifyPassword(p.context.config.demo.password, hash)).toBe(true);
    const login = await p.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'rep1@parley.test', password: p.context.config.demo.password },
    });
    expect(login.statusCode).toBe(200);
  });

  it('puts rep1 and rep2 in different territories, both led by the manager', async () => {
    const rows = await p.context.db
      .selectFrom('users')
      .leftJoin('users as m', 'm.id', 'users.manager_id')
      .select(['users.email', 'm.email as manager'])
      .where('users.email', 'in', ['rep1@parley.test', 'rep2@parley.test'])
      .execute();
    expect(rows.map((r) => r.manager)).toEqual(['manager@parley.test', 'manager@parley.test']);
    const [rep1, rep2] = await Promise.all([
      principalFor(p, 'rep1@parley.test'),
      principalFor(p, 'rep2@parley.test'),
    ]);
    expect(rep1.territoryIds.filter((t) => rep2.territoryIds.includes(t))).toEqual([]);
  });

  it('shows rep1 and rep2 disjoint, non-empty sets of HCPs, each in several consent states', async () => {
    const rep1 = await allVisible(p, await principalFor(p, 'rep1@parley.test'));
    const rep2 = await allVisible(p, await principalFor(p, 'rep2@parley.test'));
    const manager = await allVisible(p, await principalFor(p, 'manager@parley.test'));
    expect(rep1.length).toBeGreaterThan(0);
    expect(rep2.length).toBeGreaterThan(0);
    const ids1 = new Set(rep1.map((h) => h.id));
    expect(rep2.filter((h) => ids1.has(h.id))).toEqual([]);
    expect(new Set(manager.map((h) => h.id))).toEqual(new Set([...rep1, ...rep2].map((h) => h.id)));
    for (const hcps of [rep1, rep2]) {
      const states = new Set(await Promise.all(hcps.map((h) => whatsappState(p, h.id))));
      expect(states.size).toBeGreaterThanOrEqual(5);
    }
  });

  it('spreads HCPs over every WhatsApp consent state the ledger can fold to', async () => {
    const hcps = await p.context.db.selectFrom('hcps').select('id').execute();
    const states = new Set(await Promise.all(hcps.map((h) => whatsappState(p, h.id))));
    expect([...states].sort()).toEqual(
      [
        'expired',
        'granted_non_promotional',
        'granted_promotional',
        'none',
        'pending',
        'refused',
        'withdrawn',
      ].sort(),
    );
    expect(CONSENT_PROFILES).toHaveLength(states.size);
    const verbal = await p.context.db
      .selectFrom('consent_entries')
      .select('source')
      .where('status', '=', 'pending')
      .execute();
    expect(verbal.every((e) => e.source === 'verbal')).toBe(true);
  });

  it('has templates of every status and every message type, classified as compliance would', async () => {
    const templates = await p.context.db.selectFrom('templates').selectAll().execute();
    expect(new Set(templates.map((t) => t.status))).toEqual(
      new Set(['approved', 'draft', 'in_review', 'expired', 'superseded', 'rejected', 'withdrawn']),
    );
    expect(new Set(templates.map((t) => t.type))).toEqual(
      new Set([
        'reminder',
        'confirmation',
        'follow_up',
        'recap',
        'resource_link',
        'event_invite',
        'opt_in_request',
        'service',
      ]),
    );
    for (const t of templates) {
      const promotional = t.type === 'recap' || t.type === 'resource_link';
      const logistics = ['reminder', 'confirmation', 'service', 'opt_in_request'].includes(t.type);
      if (promotional) expect(t.classification).toBe('promotional');
      if (logistics) expect(t.classification).toBe('non_promotional');
      expect(t.whatsapp_category).toBe(t.classification === 'promotional' ? 'marketing' : 'utility');
      if (t.status === 'approved') {
        expect(t.whatsapp_status).toBe('approved');
        expect(t.approval_code).not.toBeNull();
        expect(t.expires_at! > NOW).toBe(true);
      }
      if (t.status === 'expired') expect(t.expires_at! < NOW).toBe(true);
      const declared = (JSON.parse(t.parameters_json) as { name: string }[]).map((x) => x.name).sort();
      const used = [...new Set([...t.body.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]))].sort();
      expect(used).toEqual(declared);
    }
    expect(templates.some((t) => t.parameters_json === '[]' && t.status === 'approved')).toBe(true);
    const br = templates.find((t) => t.market_code === 'BR' && t.status === 'approved');
    expect(br?.whatsapp_language).toBe('pt_BR');
  });

  it('has approved and expired assets, and a prescribing information for every product', async () => {
    const db = p.context.db;
    const assets = await db.selectFrom('assets').selectAll().execute();
    const statuses = new Set(assets.map((a) => a.status));
    expect(statuses.has('approved') && statuses.has('expired') && statuses.has('superseded')).toBe(true);
    for (const product of await db.selectFrom('products').selectAll().execute()) {
      expect(JSON.parse(product.approved_indications_json)).not.toHaveLength(0);
      const pi = assets.filter((a) => a.key === product.pi_asset_key && a.status === 'approved');
      expect(pi).toHaveLength(1);
      expect(pi[0]?.kind).toBe('prescribing_information');
    }
    for (const a of assets) expect(JSON.parse(a.products_json)).not.toHaveLength(0);
  });

  it('gives most HCPs a history in three or more channels over the past year', async () => {
    const rows = await p.context.db
      .selectFrom('interactions')
      .select(['hcp_id', 'channel', 'occurred_at'])
      .execute();
    const channels = new Map<string, Set<string>>();
    for (const r of rows) channels.set(r.hcp_id, (channels.get(r.hcp_id) ?? new Set()).add(r.channel));
    const withThree = [...channels.values()].filter((c) => c.size >= 3).length;
    expect(withThree / SMALL.hcps).toBeGreaterThan(0.6);
    const yearAgo = new Date(Date.parse(NOW) - 367 * 86_400_000).toISOString();
    expect(rows.every((r) => r.occurred_at < NOW && r.occurred_at > yearAgo)).toBe(true);
  });

  it('sends WhatsApp templates only while the consent their classification needs was granted', async () => {
    const sends = await p.context.db
      .selectFrom('interactions')
      .innerJoin('templates', 'templates.id', 'interactions.template_id')
      .innerJoin('hcps', 'hcps.id', 'interactions.hcp_id')
      .select([
        'interactions.hcp_id',
        'interactions.occurred_at',
        'templates.classification',
        'hcps.market_code',
      ])
      .where('interactions.channel', '=', 'whatsapp')
      .where('interactions.kind', '=', 'message')
      .where('interactions.direction', '=', 'outbound')
      .execute();
    expect(sends.length).toBeGreaterThan(0);
    // Promotional WhatsApp only where the shipped rulebook allows it (BR).
    expect(
      new Set(sends.filter((s) => s.classification === 'promotional').map((s) => s.market_code)),
    ).toEqual(new Set(['BR']));
    const violations = [];
    for (const send of sends) {
      const ledger = await listConsentEntries(p.context.db, send.hcp_id);
      const at = new Date(send.occurred_at);
      // Reminders and confirmations need `service` consent, the rest of non-promotional `non_promotional`.
      const purposes =
        send.classification === 'promotional' ? ['promotional'] : ['service', 'non_promotional'];
      for (const purpose of purposes) {
        const state = foldConsent(ledger, 'whatsapp', purpose as 'service', at).status;
        if (state !== 'granted') violations.push({ ...send, purpose, state });
      }
    }
    expect(violations).toEqual([]);
  });

  it('backs every WhatsApp send with the decision, message, links and text the channel keeps', async () => {
    const db = p.context.db;
    const now = Date.parse(NOW);
    const sends = await db
      .selectFrom('interactions as i')
      .leftJoin('messages as m', 'm.id', 'i.message_id')
      .leftJoin('policy_decisions as d', 'd.id', 'm.decision_id')
      .leftJoin('templates as t', 't.id', 'm.template_id')
      .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
      .select([
        'i.id',
        'i.occurred_at',
        'i.rep_id',
        'i.status',
        'i.template_id',
        'i.asset_ids_json',
        'm.id as message_id',
        'm.rep_id as message_rep',
        'm.status as message_status',
        'm.body_enc',
        'm.parameters_enc',
        'm.provenance_json',
        'm.asset_ids_json as message_assets',
        'd.outcome',
        'd.message_id as decided_message',
        'd.requested_by',
        'd.purpose',
        't.key',
        't.status as template_status',
        't.approved_at',
        't.expires_at',
        't.updated_at as template_updated',
        't.classification',
        't.body',
        't.parameters_json',
        't.market_code',
        't.language',
        't.type',
        'h.name',
        'h.time_zone',
      ])
      .where('i.channel', '=', 'whatsapp')
      .where('i.kind', '=', 'message')
      .where('i.direction', '=', 'outbound')
      .execute();
    expect(sends.length).toBeGreaterThan(50);
    const assets = new Map((await db.selectFrom('assets').selectAll().execute()).map((a) => [a.id, a]));
    const links = await db.selectFrom('tracked_links').selectAll().execute();
    const linksOf = (messageId: string) => links.filter((l) => l.message_id === messageId);
    const markets = new Map((await db.selectFrom('markets').selectAll().execute()).map((m) => [m.code, m]));
    const problems: string[] = [];
    const say = (send: { id: string }, what: string) => problems.push(`${send.id}: ${what}`);
    for (const s of sends) {
      const at = s.occurred_at;
      if (!s.message_id || !s.outcome) {
        say(s, 'no message or decision');
        continue;
      }
      if (s.outcome !== 'allow' || s.decided_message !== s.message_id) say(s, 'decision does not allow it');
      if (s.requested_by !== s.rep_id || s.message_rep !== s.rep_id) say(s, 'not the rep of the timeline');
      if (s.message_status !== s.status) say(s, 'timeline status differs from the message');
      // The version was in force: approved before, not expired, not yet superseded.
      const inForce =
        s.approved_at! <= at &&
        (!s.expires_at || s.expires_at > at) &&
        (s.template_status === 'approved' ||
          (s.template_status === 'superseded' && s.template_updated! > at));
      if (!inForce) say(s, `template ${s.key} (${s.template_status}) not in force`);
      // The days before the seed moment that caps and the duplicate rule read hold no seeded send.
      if (Date.parse(at) > now - 14 * 86_400_000) say(s, 'sent in the last two weeks');
      // Office hours on a working day in the HCP's time zone (quiet hours are 20:00–08:00, weekends).
      const local = DateTime.fromISO(at, { zone: s.time_zone });
      const market = markets.get(s.market_code!)!;
      if (
        local.hour < 8 ||
        local.hour >= 20 ||
        (JSON.parse(market.weekend_days_json) as number[]).includes(local.weekday) ||
        (JSON.parse(market.holidays_json) as string[]).includes(local.toISODate()!)
      )
        say(s, `sent at ${local.toISO()}, in quiet hours`);
      // Its assets were approved then, each shared as a tracked link, and a promotional one carries the PI.
      const carried = (JSON.parse(s.message_assets!) as string[]).map((id) => assets.get(id)!);
      if (s.message_assets !== s.asset_ids_json) say(s, 'timeline assets differ from the message');
      for (const a of carried)
        if (!a.approved_at || a.approved_at > at || (a.expires_at && a.expires_at <= at))
          say(s, `asset ${a.key} not approved at the time`);
      if (
        linksOf(s.message_id)
          .map((l) => l.asset_id)
          .sort()
          .join() !==
        carried
          .map((a) => a.id)
          .sort()
          .join()
      )
        say(s, 'not one tracked link per asset');
      if (s.classification === 'promotional' && !carried.some((a) => a.kind === 'prescribing_information'))
        say(s, 'promotional without its prescribing information');
      // The text is the template rendered with the sealed values; the provenance names the grant used.
      const parameters = s.parameters_enc
        ? (JSON.parse(p.context.cipher.open(s.parameters_enc)) as object)
        : {};
      const rendered = renderTemplate(
        {
          body: s.body!,
          parameters: JSON.parse(s.parameters_json!) as TemplateParameter[],
          market: s.market_code!,
          language: s.language!,
          type: s.type!,
        },
        parameters as Record<string, string>,
        { name: s.name, timeZone: s.time_zone },
        Object.fromEntries(
          linksOf(s.message_id).map((l) => {
            const a = assets.get(l.asset_id)!;
            return [
              a.id,
              {
                url: `${p.context.config.publicUrl}/l/${l.code}`,
                asset: {
                  id: a.id,
                  kind: a.kind,
                  status: a.status,
                  expiresAt: a.expires_at,
                  market: a.market_code,
                },
              },
            ];
          }),
        ),
        new Date(at),
      );
      if (!rendered.ok || rendered.text !== p.context.cipher.open(s.body_enc!))
        say(s, 'text is not the rendering');
      const provenance = provenanceFromStorage(s.provenance_json!, p.context.cipher);
      if (provenance.template?.id !== s.template_id || provenance.purpose !== s.purpose)
        say(s, 'provenance names another template or purpose');
      const grant = await db
        .selectFrom('consent_entries')
        .selectAll()
        .where('id', '=', provenance.consentEntryId ?? '')
        .executeTakeFirst();
      if (grant?.status !== 'granted' || grant.purpose !== s.purpose || grant.captured_at > at)
        say(s, 'provenance names no grant in force');
    }
    // Its status history: queued and sent on Parley's side, then Meta's statuses up to the one it is in.
    const steps = await db.selectFrom('message_history').select(['message_id', 'status', 'at']).execute();
    const events = await db
      .selectFrom('message_status_events')
      .select(['message_id', 'status', 'occurred_at'])
      .execute();
    for (const s of sends) {
      const mine = steps.filter((h) => h.message_id === s.message_id).sort((a, b) => (a.at < b.at ? -1 : 1));
      const meta = events
        .filter((e) => e.message_id === s.message_id)
        .sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : 1));
      if (mine.map((h) => h.status).join() !== 'queued,sent') say(s, 'no queued and sent steps');
      if (meta.at(-1)?.status !== s.message_status) say(s, `Meta's last status is not ${s.message_status}`);
      if (meta.some((e) => e.occurred_at < mine[1]!.at)) say(s, 'a Meta status before it was sent');
    }
    // Within the shipped rulebook's per-HCP limits: one a local day, two a rolling week, no template twice
    // within 14 days.
    const byHcp = new Map<string, { at: number; day: string; key: string }[]>();
    for (const s of sends) {
      const list = byHcp.get(s.name) ?? [];
      const at = Date.parse(s.occurred_at);
      list.push({ at, day: DateTime.fromMillis(at, { zone: s.time_zone }).toISODate()!, key: s.key! });
      byHcp.set(s.name, list);
    }
    for (const [hcp, list] of byHcp) {
      list.sort((a, b) => a.at - b.at);
      for (const [i, x] of list.entries()) {
        const later = list.slice(i + 1);
        if (later.some((y) => y.day === x.day)) problems.push(`${hcp}: two sends on ${x.day}`);
        if (later.filter((y) => y.at < x.at + 7 * 86_400_000).length >= 2)
          problems.push(`${hcp}: three in a week`);
        if (later.some((y) => y.key === x.key && y.at < x.at + 14 * 86_400_000))
          problems.push(`${hcp}: ${x.key} twice within 14 days`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('answers replies to the message they follow, and blocks attempts with a denial that says why', async () => {
    const db = p.context.db;
    const replies = await db
      .selectFrom('messages as r')
      .innerJoin('interactions as i', 'i.message_id', 'r.id')
      .leftJoin('messages as o', 'o.wamid', 'r.context_wamid')
      .select([
        'r.id',
        'r.hcp_id',
        'r.body_enc',
        'i.occurred_at',
        'o.hcp_id as answered_hcp',
        'o.created_at as answered_at',
      ])
      .where('r.direction', '=', 'inbound')
      .execute();
    expect(replies.length).toBeGreaterThan(10);
    for (const r of replies) {
      expect(r.answered_hcp).toBe(r.hcp_id);
      expect(r.answered_at! < r.occurred_at).toBe(true);
      expect(p.context.cipher.open(r.body_enc!).length).toBeGreaterThan(0);
    }
    const blocked = await db
      .selectFrom('interactions as i')
      .leftJoin('policy_decisions as d', 'd.id', 'i.external_id')
      .select(['i.id', 'i.status', 'i.summary', 'd.outcome', 'd.reasons_json', 'd.message_id'])
      .where('i.kind', '=', 'blocked_attempt')
      .execute();
    expect(blocked.length).toBeGreaterThan(0);
    for (const b of blocked) {
      expect(b).toMatchObject({ status: 'blocked', outcome: 'deny', message_id: null });
      const reasons = JSON.parse(b.reasons_json!) as { code: ReasonCode; message: string }[];
      expect(reasons.length).toBeGreaterThan(0);
      for (const r of reasons) {
        expect(REASON_CODES).toContain(r.code);
        expect(r.message.length).toBeGreaterThan(10);
      }
      expect(b.summary).toBe(`Blocked: ${reasons.map((r) => r.code).join(', ')}`);
    }
    // Clicks come from links the HCP was sent.
    const clicks = await db
      .selectFrom('interactions as i')
      .leftJoin('tracked_links as l', (j) => j.onRef('l.message_id', '=', 'i.message_id'))
      .select(['i.asset_ids_json', 'l.asset_id', 'l.hcp_id', 'i.hcp_id as clicker'])
      .where('i.kind', '=', 'click')
      .where('i.channel', '=', 'whatsapp')
      .execute();
    for (const c of clicks) expect(c.hcp_id).toBe(c.clicker);
  });

  it('seals numbers and emails, and finds an HCP by its number through the blind index', async () => {
    const row = await p.context.db
      .selectFrom('hcps')
      .selectAll()
      .where('whatsapp_number_enc', 'is not', null)
      .orderBy('id')
      .executeTakeFirstOrThrow();
    const number = p.context.cipher.open(row.whatsapp_number_enc!);
    expect(row.whatsapp_number_enc).not.toContain(number.slice(1));
    const found = await findHcpByWhatsappNumber(p.context.db, p.context, number.slice(1));
    expect(found?.id).toBe(row.id);
  });

  it('records one demo.seeded audit event and no per-row events, and the chain verifies', async () => {
    const events = await p.context.db
      .selectFrom('audit_events')
      .select(['action', 'changes_json', 'seq'])
      .orderBy('seq')
      .execute();
    const seeded = events.filter((e) => e.action === 'demo.seeded');
    expect(seeded).toHaveLength(1);
    expect(JSON.parse(seeded[0]!.changes_json)).toMatchObject({ after: { hcps: SMALL.hcps } });
    expect(events.filter((e) => e.action.startsWith('hcp.') || e.action.startsWith('consent.'))).toEqual([]);
    expect(await p.context.audit.verify(p.context.db)).toMatchObject({ ok: true, checked: events.length });
  });

  it('refuses to seed a database that already holds people', async () => {
    expect(await isStoreEmpty(p.context.db)).toBe(false);
    await expect(seedDemoWorld(p.context, SMALL)).rejects.toThrow(DomainError);
  });

  it('writes the same world again from the same seed, streamed in batches', async () => {
    const other = await startTestParley(dialect, { world: false, clock: new ManualClock(NOW) });
    try {
      const streamed = await seedDemoWorld(other.context, { ...SMALL, atomic: false });
      expect(streamed).toEqual({ ...summary, atomic: false });
      const people = async (q: TestParley) =>
        (
          await q.context.db
            .selectFrom('hcps')
            .select(['id', 'crm_id', 'name', 'whatsapp_number_enc', 'whatsapp_number_bidx'])
            .orderBy('id')
            .execute()
        ).map((r) => ({
          ...r,
          whatsapp_number_enc: r.whatsapp_number_enc && q.context.cipher.open(r.whatsapp_number_enc),
        }));
      expect(await people(other)).toEqual(await people(p));
      const ledger = async (q: TestParley) =>
        q.context.db
          .selectFrom('consent_entries')
          .select(['id', 'hcp_id', 'channel', 'purpose', 'status', 'captured_at'])
          .orderBy('id')
          .execute();
      expect(await ledger(other)).toEqual(await ledger(p));
      // The streamed path drops and rebuilds one index: it must be back, so creating it again fails.
      await expect(
        other.context.db.schema
          .createIndex('interactions_occurred')
          .on('interactions')
          .column('occurred_at')
          .execute(),
      ).rejects.toThrow();
    } finally {
      await other.destroy();
    }
  }, 60_000);
});
