import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../identity/index.js';
import type { MessagesTable, PolicyDecisionsTable, TemplatesTable } from '../platform/database/index.js';
import {
  bareMessageRow,
  bareTemplateRow,
  DIALECTS,
  openTestStore,
  racingAfterFirstRead,
  startTestParley,
  type TestParley,
  type TestStore,
} from '../test-support/index.js';
import { median, ratio, replyFigures, replyTimes, spread, weeklyLoad, weeksIn } from './analytics-figures.js';
import { runAnalyticsReport, type AnalyticsFilters } from './analytics.store.js';
import { refreshConversationFacts } from './conversation-facts.store.js';
import { refreshMessageDays } from './message-day-cells.store.js';

/**
 * The message and decision reports count in SQL (message-analytics.store.ts). Here they are held equal,
 * for random messages and decisions and every filter, to the reports as they were first written: every row
 * of the period read and counted in JavaScript with analytics-figures.ts (the `reference` below), with one
 * change since: whether a message was answered is worked out over the HCP's whole conversation.
 */

const FROM = '2026-02-01T00:00:00.000Z';
const TO = '2026-02-15T00:00:00.000Z';
const SENT = new Set(['sent', 'delivered', 'read', 'failed', 'unknown']);

interface Fixture {
  messages: MessagesTable[];
  decisions: PolicyDecisionsTable[];
  /** HCP id → market. */
  markets: Map<string, string>;
  brandTemplates: Set<string>;
  optInTemplates: Set<string>;
  repNames: Map<string, string>;
  /** WhatsApp grants and withdrawals captured in the period: HCP ids. */
  granted: Set<string>;
  withdrew: Set<string>;
}

/** The reports as first written (before they counted in SQL), over rows in memory. */
function reference(
  x: Fixture,
  filters: { market?: string; rep?: string; brand?: boolean; period?: { from: string; to: string } },
) {
  const { from, to } = filters.period ?? { from: FROM, to: TO };
  const inScope = (hcp: string | null) =>
    hcp !== null && x.markets.has(hcp) && (!filters.market || x.markets.get(hcp) === filters.market);
  const inPeriod = (at: string) => at >= from && at < to;
  const brand = filters.brand ? x.brandTemplates : null;
  const rows = x.messages.filter((m) => inPeriod(m.created_at) && inScope(m.hcp_id));
  const outbound = rows.filter(
    (r) =>
      r.direction === 'outbound' &&
      (!filters.rep || r.rep_id === filters.rep) &&
      (!brand || (r.template_id !== null && brand.has(r.template_id))),
  );
  const hcps = new Set(outbound.map((r) => r.hcp_id));
  const inbound = rows.filter(
    (r) => r.direction === 'inbound' && (!(filters.rep || brand) || hcps.has(r.hcp_id)),
  );
  const sent = outbound.filter((m) => SENT.has(m.status));
  const delivered = sent.filter((m) => m.status === 'delivered' || m.status === 'read').length;
  const read = sent.filter((m) => m.status === 'read').length;
  // Whether a message was answered is a fact of the HCP's whole conversation, whatever the period or filter.
  const answered = replyTimes(
    x.messages
      .filter((m) => x.markets.has(m.hcp_id!))
      .map((m) => ({
        id: m.id,
        hcpId: m.hcp_id!,
        direction: m.direction,
        at: m.direction === 'inbound' ? (m.meta_timestamp ?? m.created_at) : m.created_at,
        status: m.status,
      })),
  );
  const replies = replyFigures(
    sent.map((m) => ({ status: m.status, at: m.created_at, repliedAt: answered.get(m.id) ?? null })),
  );
  const whatsapp = {
    sent: sent.length,
    delivered,
    read,
    failed: sent.filter((m) => m.status === 'failed').length,
    inbound: inbound.length,
    replied: replies.replied,
    deliveryRate: ratio(delivered, sent.length),
    readRate: ratio(read, delivered),
    replyRate: replies.replyRate,
    medianMinutesToReply: replies.medianMinutesToReply,
  };

  const decisions = x.decisions
    .filter(
      (d) =>
        inPeriod(d.decided_at) &&
        d.kind !== 'check' &&
        inScope(d.hcp_id) &&
        (!filters.rep || d.requested_by === filters.rep),
    )
    .map((d) => {
      const request = JSON.parse(d.request_json) as { templateId?: string };
      const reasons = JSON.parse(d.reasons_json) as { code: string }[];
      return { ...d, templateId: request.templateId ?? null, codes: reasons.map((r) => r.code) };
    })
    .filter((d) => !brand || (d.templateId !== null && brand.has(d.templateId)));
  const denied = decisions.filter((d) => d.outcome === 'deny');
  const byCode = new Map<string, { attempts: number; hcps: Set<string> }>();
  for (const d of denied)
    for (const code of new Set(d.codes)) {
      const row = byCode.get(code) ?? { attempts: 0, hcps: new Set<string>() };
      row.attempts++;
      row.hcps.add(d.hcp_id);
      byCode.set(code, row);
    }
  const blocked = {
    summary: {
      attempts: decisions.length,
      blocked: denied.length,
      blockedRate: ratio(denied.length, decisions.length),
      review: decisions.filter((d) => d.outcome === 'review').length,
    },
    rows: [...byCode.entries()]
      .map(([reason, r]) => ({ reason, attempts: r.attempts, hcps: r.hcps.size }))
      .sort((a, b) => b.attempts - a.attempts || a.reason.localeCompare(b.reason)),
  };

  const load = weeklyLoad(
    sent.map((m) => ({ hcpId: m.hcp_id!, at: m.created_at })),
    2,
  );
  const capped = denied.filter((d) => d.codes.includes('frequency_cap') || d.codes.includes('rep_cap'));
  const hcpsMessaged = new Set(sent.map((m) => m.hcp_id)).size;
  const overMessaging = {
    messagesSent: sent.length,
    hcpsMessaged,
    messagesPerHcpPerWeek:
      hcpsMessaged === 0 ? null : Math.round((sent.length / hcpsMessaged / weeksIn(from, to)) * 100) / 100,
    maxPerHcpWeek: load.maxPerHcpWeek,
    weeklyCap: 2,
    hcpWeeksOverCap: load.hcpWeeksOverCap,
    hcpsOverCap: load.hcpsOverCap,
    attemptsBeyondCaps: capped.length,
    hcpsAtCap: new Set(capped.map((d) => d.hcp_id)).size,
  };

  const byRep = new Map<string, { messages: number; templated: number; hours: number[] }>();
  for (const m of sent.filter((s) => s.rep_id !== null)) {
    const r = byRep.get(m.rep_id!) ?? { messages: 0, templated: 0, hours: [] };
    r.messages++;
    if (m.template_id) r.templated++;
    r.hours.push(new Date(m.created_at).getUTCHours());
    byRep.set(m.rep_id!, r);
  }
  const repRows = [...byRep.entries()]
    .map(([repId, r]) => ({
      repId,
      repName: x.repNames.get(repId) ?? null,
      messages: r.messages,
      fromTemplates: r.templated,
      templateShare: ratio(r.templated, r.messages),
      medianSendHourUtc: median(r.hours),
    }))
    .sort((a, b) => b.messages - a.messages || a.repId.localeCompare(b.repId));
  const volumes = spread(repRows.map((r) => r.messages));
  const repSent = repRows.reduce((n, r) => n + r.messages, 0);
  const templated = repRows.reduce((n, r) => n + r.fromTemplates, 0);
  const consistency = {
    summary: {
      reps: repRows.length,
      messages: repSent,
      templateShare: ratio(templated, repSent),
      meanMessagesPerRep: volumes.mean,
      stddevMessagesPerRep: volumes.stddev,
      volumeCv: volumes.cv,
      sendHourSpreadUtc: spread(
        repRows.flatMap((r) => (r.medianSendHourUtc === null ? [] : [r.medianSendHourUtc])),
      ).stddev,
    },
    rows: repRows,
  };

  const uses = new Map<string, { messages: number; hcps: Set<string> }>();
  for (const m of sent.filter((s) => s.template_id)) {
    const u = uses.get(m.template_id!) ?? { messages: 0, hcps: new Set<string>() };
    u.messages++;
    u.hcps.add(m.hcp_id!);
    uses.set(m.template_id!, u);
  }
  const expiredAttempts = new Map<string, number>();
  for (const d of decisions)
    if (d.codes.includes('template_expired') && d.templateId)
      expiredAttempts.set(d.templateId, (expiredAttempts.get(d.templateId) ?? 0) + 1);
  const contentUsage = {
    templatedMessages: sent.filter((s) => s.template_id).length,
    templatesUsed: uses.size,
    attemptsWithExpiredTemplate: decisions.filter((d) => d.codes.includes('template_expired') && d.templateId)
      .length,
    attemptsWithExpiredAsset: decisions.filter((d) => d.codes.includes('asset_expired')).length,
    perTemplate: Object.fromEntries(
      [...new Set([...uses.keys(), ...expiredAttempts.keys()])].map((id) => [
        id,
        {
          messages: uses.get(id)?.messages ?? 0,
          hcpsReached: uses.get(id)?.hcps.size ?? 0,
          attemptsWhileExpired: expiredAttempts.get(id) ?? 0,
        },
      ]),
    ),
  };

  const asked = new Set(
    sent.filter((m) => m.template_id && x.optInTemplates.has(m.template_id)).map((m) => m.hcp_id!),
  );
  const messaged = new Set(sent.map((m) => m.hcp_id!));
  const consentReach = {
    optInRequestsSentTo: asked.size,
    optInRate: ratio([...asked].filter((h) => x.granted.has(h)).length, asked.size),
    hcpsMessaged: messaged.size,
    optOutRate: ratio([...messaged].filter((h) => x.withdrew.has(h)).length, messaged.size),
    optedIn: [...x.granted].filter(inScope).length,
    optedOut: [...x.withdrew].filter(inScope).length,
  };
  return { whatsapp, blocked, overMessaging, consistency, contentUsage, consentReach };
}

/** An approved template of the property's: an opt-in request for `tpl_optin`, of the brand for `tpl_brand_…`. */
function approvedTemplateRow(id: string, authorId: string): TemplatesTable {
  return bareTemplateRow({
    id,
    key: id,
    author_id: authorId,
    created_at: '2026-01-01T00:00:00.000Z',
    type: id === 'tpl_optin' ? 'opt_in_request' : 'follow_up',
    brand: id.startsWith('tpl_brand') ? 'Propbrand' : null,
  });
}

describe.each(DIALECTS)('message and decision reports counted in SQL, on %s', (dialect) => {
  let p: TestParley;
  let principal: Principal;
  let repNames: Map<string, string>;
  const templates = ['tpl_brand_a', 'tpl_brand_b', 'tpl_optin', 'tpl_other'] as const;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    principal = await p.world.principalFor('compliance');
    repNames = new Map(
      (await p.context.db.selectFrom('users').select(['id', 'name']).execute()).map((u) => [u.id, u.name]),
    );
    await p.context.db
      .insertInto('templates')
      .values(templates.map((id) => approvedTemplateRow(id, p.world.users.brand.id)))
      .execute();
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('gives what the row-by-row reports gave, for any messages and decisions and any filter', async () => {
    const db = p.context.db;
    const hcps = Object.values(p.world.hcps);
    const reps = [p.world.users.rep1.id, p.world.users.rep2.id];
    // Few distinct moments (every 6 hours, a few minutes either side), so that ties (a reply at the very
    // instant of a send) and weeks at their caps are common.
    const moment = fc
      .tuple(fc.integer({ min: -28, max: 64 }), fc.constantFrom(0, 0, 0, 60, -600))
      .map(([slot, s]) => new Date(Date.parse(FROM) + slot * 6 * 3_600_000 + s * 1000).toISOString());
    const message = fc.record({
      hcp: fc.constantFrom(...hcps.map((h) => h.id)),
      rep: fc.constantFrom(null, ...reps),
      direction: fc.constantFrom('inbound' as const, 'outbound' as const),
      status: fc.constantFrom('sent', 'delivered', 'read', 'failed', 'queued', 'cancelled', 'received'),
      at: moment,
      metaLag: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
      template: fc.constantFrom(null, ...templates),
    });
    const decision = fc.record({
      hcp: fc.constantFrom(...hcps.map((h) => h.id)),
      rep: fc.constantFrom(...reps),
      kind: fc.constantFrom('check' as const, 'send' as const, 'claim' as const),
      outcome: fc.constantFrom('allow' as const, 'deny' as const, 'review' as const),
      codes: fc.subarray(['frequency_cap', 'rep_cap', 'quiet_hours', 'template_expired', 'asset_expired']),
      at: moment,
      template: fc.constantFrom(null, ...templates),
    });
    const change = fc.record({
      hcp: fc.constantFrom(...hcps.map((h) => h.id)),
      status: fc.constantFrom('granted' as const, 'withdrawn' as const),
      at: moment,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { maxLength: 40, size: 'max' }),
        fc.array(decision, { maxLength: 20 }),
        fc.array(change, { maxLength: 6 }),
        // An HCP who moves to the other market (a CRM import) once their messages are written.
        fc.option(fc.constantFrom(...hcps.map((h) => h.id)), { nil: null }),
        // The kept facts: how many HCPs the refresher worked out before the later messages were written
        // and queued ones left Parley; the report reads kept facts for some HCPs and works out the rest.
        fc.record({
          refreshed: fc.constantFrom(0, 1, 3, Number.MAX_SAFE_INTEGER),
          later: fc.nat({ max: 40 }),
          promote: fc.boolean(),
          // The whatsapp report's day cells: how many stale days were rebuilt before the later writes,
          // and whether all were rebuilt after them (and after the facts were worked out again).
          cellDays: fc.constantFrom(0, 2, Number.MAX_SAFE_INTEGER),
          cellsAtEnd: fc.boolean(),
        }),
        async (ms, ds, changes, moved, facts) => {
          for (const h of hcps)
            await db.updateTable('hcps').set({ market_code: h.market }).where('id', '=', h.id).execute();
          await db.deleteFrom('messages').execute();
          await db.deleteFrom('policy_decisions').execute();
          await db.deleteFrom('consent_entries').where('source', '=', 'whatsapp_reply').execute();
          const messages: MessagesTable[] = ms.map((m, i) =>
            bareMessageRow({
              id: `msg_${String(i).padStart(3, '0')}`,
              hcp_id: m.hcp,
              rep_id: m.direction === 'outbound' ? m.rep : null,
              direction: m.direction,
              wamid: `wamid.${i}`,
              phone_number_id: p.context.config.whatsapp.phoneNumberId,
              template_id: m.direction === 'outbound' ? m.template : null,
              send_kind: m.direction === 'outbound' ? 'rep' : null,
              status: m.direction === 'inbound' ? 'received' : m.status === 'received' ? 'read' : m.status,
              meta_timestamp:
                m.direction === 'inbound' && m.metaLag !== null
                  ? new Date(Date.parse(m.at) - m.metaLag * 1000).toISOString()
                  : null,
              created_at: m.at,
            }),
          );
          const decisions: PolicyDecisionsTable[] = ds.map((d, i) => ({
            id: `dec_${String(i).padStart(3, '0')}`,
            requested_by: d.rep,
            hcp_id: d.hcp,
            kind: d.kind,
            request_json: JSON.stringify({ hcpId: d.hcp, ...(d.template ? { templateId: d.template } : {}) }),
            outcome: d.outcome,
            purpose: 'service',
            reasons_json: JSON.stringify(
              d.outcome === 'allow' ? [] : d.codes.map((code) => ({ code, rule: 'r', message: 'm' })),
            ),
            rulebook_version: 1,
            snapshot_json: '{}',
            message_id: null,
            decided_at: d.at,
            template_id: d.template,
            reason_codes: d.outcome === 'allow' ? '' : d.codes.join(','),
            market_code: null, // the database's: the HCP's market
          }));
          const first = messages.slice(0, Math.max(0, messages.length - facts.later));
          const later = messages.slice(first.length);
          if (first.length) await db.insertInto('messages').values(first).execute();
          await refreshConversationFacts(db, facts.refreshed);
          await refreshMessageDays(db, facts.cellDays);
          if (later.length) await db.insertInto('messages').values(later).execute();
          if (facts.promote) {
            await db
              .updateTable('messages')
              .set({ status: 'delivered' })
              .where('status', '=', 'queued')
              .execute();
            for (const m of messages) if (m.status === 'queued') m.status = 'delivered';
          }
          if (decisions.length) await db.insertInto('policy_decisions').values(decisions).execute();
          const markets = new Map(hcps.map((h) => [h.id, h.market]));
          if (moved) {
            markets.set(moved, markets.get(moved) === 'BR' ? 'ES' : 'BR');
            await db
              .updateTable('hcps')
              .set({ market_code: markets.get(moved)! })
              .where('id', '=', moved)
              .execute();
          }
          if (changes.length)
            await db
              .insertInto('consent_entries')
              .values(
                changes.map((c, i) => ({
                  id: `con_prop_${i}`,
                  hcp_id: c.hcp,
                  channel: 'whatsapp' as const,
                  purpose: 'service' as const,
                  status: c.status,
                  source: 'whatsapp_reply' as const,
                  captured_by: null,
                  captured_at: c.at,
                  evidence: 'wamid.prop',
                  wording_version: null,
                  message_id: null,
                  expires_at: null,
                  recorded_at: c.at,
                })),
              )
              .execute();
          if (facts.cellsAtEnd) {
            await refreshConversationFacts(db, facts.refreshed);
            await refreshMessageDays(db);
          }
          const inPeriod = (c: { at: string }) => c.at >= FROM && c.at < TO;
          const fixture: Fixture = {
            messages,
            decisions,
            markets,
            brandTemplates: new Set(['tpl_brand_a', 'tpl_brand_b']),
            optInTemplates: new Set(['tpl_optin']),
            repNames,
            granted: new Set(changes.filter((c) => c.status === 'granted' && inPeriod(c)).map((c) => c.hcp)),
            withdrew: new Set(
              changes.filter((c) => c.status === 'withdrawn' && inPeriod(c)).map((c) => c.hcp),
            ),
          };
          // A period that cuts its first and last days, which the day cells do not answer for.
          const ragged = { from: '2026-02-01T07:00:00.000Z', to: '2026-02-14T19:00:00.000Z' };
          for (const filters of [
            {},
            { market: 'BR' },
            { rep: reps[0] },
            { brand: true },
            { market: 'ES', brand: true },
            { period: ragged },
            { market: 'BR', period: ragged },
          ] as Parameters<typeof reference>[1][]) {
            const f: AnalyticsFilters = {
              from: filters.period?.from ?? FROM,
              to: filters.period?.to ?? TO,
              bucket: 'day',
              weeklyCap: 2,
              ...(filters.market ? { market: filters.market } : {}),
              ...(filters.rep ? { rep: filters.rep } : {}),
              ...(filters.brand ? { brand: 'Propbrand' } : {}),
            };
            const want = reference(fixture, filters);
            const run = (report: Parameters<typeof runAnalyticsReport>[2]) =>
              runAnalyticsReport(db, principal, report, f);
            const [whatsapp, blocked, over, consistency, usage, consent] = await Promise.all([
              run('whatsapp'),
              run('blocked'),
              run('over-messaging'),
              run('consistency'),
              run('content-usage'),
              run('consent'),
            ]);
            expect(whatsapp.summary).toEqual(want.whatsapp);
            expect({ summary: blocked.summary, rows: blocked.rows }).toEqual(want.blocked);
            expect(over.summary).toEqual(want.overMessaging);
            expect({ summary: consistency.summary, rows: consistency.rows }).toEqual(want.consistency);
            const { clicksOnExpiredAssets: _clicks, ...usageSummary } = usage.summary;
            const { perTemplate, ...wantUsage } = want.contentUsage;
            expect(usageSummary).toEqual(wantUsage);
            expect(
              Object.fromEntries(
                usage.rows.map((r) => [
                  r.templateId,
                  {
                    messages: r.messages,
                    hcpsReached: r.hcpsReached,
                    attemptsWhileExpired: r.attemptsWhileExpired,
                  },
                ]),
              ),
            ).toEqual(perTemplate);
            // The fixture's consent changes are those of the whole period.
            if (!filters.period) expect(consent.summary).toMatchObject(want.consentReach);
          }
        },
      ),
      { numRuns: dialect === 'sqlite' ? 200 : 60 },
    );
  }, 240_000);
});

describe.each(DIALECTS)('reports that read kept facts and marked HCPs live, on %s', (dialect) => {
  let p: TestParley;
  let reader: TestStore;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    // A second instance's connection, one only, so that the report's statements run one after another.
    reader = await openTestStore(dialect, { sameAs: p.store, maxConnections: 1 });
  });
  afterAll(async () => {
    await reader?.destroy();
    await p?.destroy();
  });

  it('read both as of one moment, while a refresh clears the marks between their statements', async () => {
    const db = p.context.db;
    const principal = await p.world.principalFor('compliance');
    const hcps = Object.values(p.world.hcps).slice(0, 3);
    await db
      .insertInto('templates')
      .values(approvedTemplateRow('tpl_race', p.world.users.brand.id))
      .execute();
    // Two sent messages to each HCP, the second answered, in a week the period holds whole.
    await db
      .insertInto('messages')
      .values(
        hcps.flatMap((h, i) =>
          [0, 1, 2].map((k) =>
            bareMessageRow({
              id: `msg_race_${i}_${k}`,
              hcp_id: h.id,
              rep_id: k < 2 ? p.world.users.rep1.id : null,
              direction: k < 2 ? 'outbound' : 'inbound',
              phone_number_id: p.context.config.whatsapp.phoneNumberId,
              template_id: k < 2 ? 'tpl_race' : null,
              status: k === 0 ? 'delivered' : k === 1 ? 'read' : 'received',
              created_at: new Date(
                Date.parse('2026-02-03T09:00:00.000Z') + (i * 3 + k) * 60_000,
              ).toISOString(),
            }),
          ),
        ),
      )
      .execute();
    const f: AnalyticsFilters = { from: FROM, to: TO, bucket: 'day', weeklyCap: 1 };
    await refreshConversationFacts(db);
    for (const report of ['whatsapp', 'over-messaging', 'content-usage'] as const) {
      // Kept facts for every HCP: what the report says when nothing is marked.
      const settled = await runAnalyticsReport(db, principal, report, f);
      // The test Parley's own refresher may clear the marks first (it turns every 10 s): then the race was
      // not run, and is run again.
      let raced = 0;
      for (let attempt = 0; attempt < 3 && raced < hcps.length; attempt++) {
        // The same conversations, every HCP marked: their answers' Meta timestamps said or unsaid (the
        // same moment, so the same facts).
        await db
          .updateTable('messages')
          .set({ meta_timestamp: sql<string | null>`case when meta_timestamp is null then created_at end` })
          .where('id', 'like', 'msg_race_%')
          .where('direction', '=', 'inbound')
          .execute();
        // Once the first statement that reads the marks has its rows, every HCP is worked out again.
        const race = racingAfterFirstRead(reader.db, 'stale_conversations', () =>
          refreshConversationFacts(db),
        );
        const result = await runAnalyticsReport(race.db, principal, report, f);
        expect(result.summary, report).toEqual(settled.summary);
        expect(result.rows, report).toEqual(settled.rows);
        raced = (await race.raced()) ?? 0;
      }
      expect(raced, report).toBe(hcps.length);
    }
  });
});
