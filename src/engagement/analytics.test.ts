import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { nextHcpSeqs } from '../hcps/index.js';
import {
  bareHcpRow,
  bareMessageRow,
  bareTemplateRow,
  DIALECTS,
  startTestParley,
  type TestParley,
} from '../test-support/index.js';
import { wholeWeeks } from './message-analytics.store.js';
import { dosingLeaflet } from './analytics-fixtures.test-support.js';
import {
  isoWeekOf,
  median,
  purposesGrantedAt,
  ratio,
  replyFigures,
  replyTimes,
  sendingFacts,
  spread,
  weeklyLoad,
} from './analytics-figures.js';

describe('analytics arithmetic', () => {
  it.each([
    [1, 3, 0.3333],
    [2, 3, 0.6667],
    [0, 5, 0],
    [3, 0, null],
  ])('rates %i ÷ %i as %s', (n, d, expected) => expect(ratio(n, d)).toBe(expected));

  it.each([
    [[], null],
    [[5], 5],
    [[30, 120], 75],
    [[3, 1, 2], 2],
  ])('takes the median of %j as %s', (values, expected) => expect(median(values)).toBe(expected));

  it('measures spread as population stddev and cv', () => {
    expect(spread([3, 2])).toEqual({ mean: 2.5, stddev: 0.5, cv: 0.2 });
  });

  it.each([
    ['2026-02-02T10:00:00Z', '2026-W06'],
    ['2026-01-01T00:00:00Z', '2026-W01'],
    ['2027-01-01T00:00:00Z', '2026-W53'],
    ['2024-12-30T00:00:00Z', '2025-W01'],
  ])('puts %s in ISO week %s', (at, week) => expect(isoWeekOf(at)).toBe(week));

  it('counts a reply only when it comes before the next outbound message and within 7 days', () => {
    const conversation = [
      { id: 'a1', hcpId: 'a', direction: 'outbound', at: '2026-02-02T10:00:00.000Z', status: 'read' },
      { id: 'a2', hcpId: 'a', direction: 'outbound', at: '2026-02-02T10:10:00.000Z', status: 'delivered' },
      { id: 'a3', hcpId: 'a', direction: 'inbound', at: '2026-02-02T10:40:00.000Z', status: 'received' },
      { id: 'b1', hcpId: 'b', direction: 'outbound', at: '2026-02-02T10:00:00.000Z', status: 'delivered' },
      { id: 'b2', hcpId: 'b', direction: 'inbound', at: '2026-02-10T10:00:00.000Z', status: 'received' },
      { id: 'c1', hcpId: 'c', direction: 'outbound', at: '2026-02-02T10:00:00.000Z', status: 'failed' },
      { id: 'c2', hcpId: 'c', direction: 'inbound', at: '2026-02-02T10:05:00.000Z', status: 'received' },
      // Queued (never left Parley): not part of the conversation, so d1 is answered by d3.
      { id: 'd1', hcpId: 'd', direction: 'outbound', at: '2026-02-02T10:00:00.000Z', status: 'delivered' },
      { id: 'd2', hcpId: 'd', direction: 'outbound', at: '2026-02-02T10:01:00.000Z', status: 'queued' },
      { id: 'd3', hcpId: 'd', direction: 'inbound', at: '2026-02-02T11:00:00.000Z', status: 'received' },
      // A reply at the very instant of the message answers it (outbound first at an equal instant).
      { id: 'e2', hcpId: 'e', direction: 'inbound', at: '2026-02-02T10:00:00.000Z', status: 'received' },
      { id: 'e1', hcpId: 'e', direction: 'outbound', at: '2026-02-02T10:00:00.000Z', status: 'read' },
    ] as const;
    const answered = replyTimes(conversation);
    expect(Object.fromEntries(answered)).toEqual({
      a1: null,
      a2: '2026-02-02T10:40:00.000Z',
      b1: '2026-02-10T10:00:00.000Z',
      c1: '2026-02-02T10:05:00.000Z',
      d1: '2026-02-02T11:00:00.000Z',
      e1: '2026-02-02T10:00:00.000Z',
    });
    const figures = replyFigures(
      conversation
        .filter((m) => m.direction === 'outbound')
        .map((m) => ({ status: m.status, at: m.at, repliedAt: answered.get(m.id) ?? null })),
    );
    // Delivered: a1, a2, b1, d1, e1 (c1 failed). Replied within 7 days: a2 (30 min), d1 (60), e1 (0);
    // b1's answer came after 8 days. Median of 0, 30, 60 minutes.
    expect(figures).toEqual({ delivered: 5, replied: 3, replyRate: 0.6, medianMinutesToReply: 30 });
  });

  it("places each sent message among the HCP's sent messages: rank in its week, previous sends", () => {
    const facts = sendingFacts([
      // 2026-02-01 is a Sunday: the 2nd is the start of a new week.
      { id: 'a1', hcpId: 'a', at: '2026-02-01T23:00:00.000Z', templateId: 'T1', status: 'read' },
      { id: 'a3', hcpId: 'a', at: '2026-02-02T09:00:00.000Z', templateId: 'T1', status: 'delivered' },
      { id: 'a2', hcpId: 'a', at: '2026-02-02T09:00:00.000Z', templateId: 'T2', status: 'sent' },
      { id: 'a4', hcpId: 'a', at: '2026-02-03T09:00:00.000Z', templateId: null, status: 'queued' },
      { id: 'a5', hcpId: 'a', at: '2026-02-08T23:59:59.999Z', templateId: 'T1', status: 'failed' },
      { id: 'b1', hcpId: 'b', at: '2026-02-03T09:00:00.000Z', templateId: 'T1', status: 'unknown' },
    ]);
    expect(Object.fromEntries(facts)).toEqual({
      a1: { weekRank: 1, prevSentAt: null, prevTemplateSentAt: null },
      // Equal instants go by id: a2 before a3.
      a2: { weekRank: 1, prevSentAt: '2026-02-01T23:00:00.000Z', prevTemplateSentAt: null },
      a3: {
        weekRank: 2,
        prevSentAt: '2026-02-02T09:00:00.000Z',
        prevTemplateSentAt: '2026-02-01T23:00:00.000Z',
      },
      // a4 never left Parley: it has no place, and takes none.
      a5: {
        weekRank: 3,
        prevSentAt: '2026-02-02T09:00:00.000Z',
        prevTemplateSentAt: '2026-02-02T09:00:00.000Z',
      },
      b1: { weekRank: 1, prevSentAt: null, prevTemplateSentAt: null },
    });
  });

  it.each([
    // From a Sunday to a Sunday: the Monday-to-Sunday weeks in between.
    [
      '2026-02-01T00:00:00.000Z',
      '2026-02-15T00:00:00.000Z',
      ['2026-02-02T00:00:00.000Z', '2026-02-09T00:00:00.000Z'],
    ],
    // From a Monday midnight to a Monday midnight: every week is whole.
    [
      '2026-02-02T00:00:00.000Z',
      '2026-02-16T00:00:00.000Z',
      ['2026-02-02T00:00:00.000Z', '2026-02-16T00:00:00.000Z'],
    ],
    // A Monday just after midnight starts no whole week.
    [
      '2026-02-02T00:00:00.001Z',
      '2026-02-16T00:00:00.000Z',
      ['2026-02-09T00:00:00.000Z', '2026-02-16T00:00:00.000Z'],
    ],
    ['2026-02-03T00:00:00.000Z', '2026-02-12T00:00:00.000Z', null],
  ])('finds the whole weeks from %s to %s', (from, to, weeks) =>
    expect(wholeWeeks(from, to)).toEqual(weeks ? { from: weeks[0], to: weeks[1] } : null),
  );

  it('counts HCP-weeks over a weekly cap', () => {
    expect(
      weeklyLoad(
        [
          { hcpId: 'a', at: '2026-02-02T10:00:00Z' },
          { hcpId: 'a', at: '2026-02-08T10:00:00Z' },
          { hcpId: 'a', at: '2026-02-09T10:00:00Z' },
          { hcpId: 'b', at: '2026-02-03T10:00:00Z' },
        ],
        1,
      ),
    ).toEqual({ hcpWeeks: 3, maxPerHcpWeek: 2, hcpWeeksOverCap: 1, hcpsOverCap: 1 });
  });

  it('folds consent as the ledger does: latest wins, restrictive wins a tie, expired grants lapse', () => {
    const e = (
      id: string,
      purpose: string,
      status: 'granted' | 'withdrawn',
      at: string,
      expiresAt: string | null = null,
    ) => ({
      id,
      channel: 'whatsapp',
      purpose,
      status,
      capturedAt: at,
      recordedAt: at,
      expiresAt,
    });
    const granted = purposesGrantedAt(
      [
        e('1', 'promotional', 'granted', '2026-01-01T00:00:00Z'),
        e('2', 'service', 'granted', '2026-01-01T00:00:00Z'),
        e('3', 'service', 'withdrawn', '2026-01-01T00:00:00Z'),
        e('4', 'events', 'granted', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'),
        e('5', 'non_promotional', 'granted', '2026-04-01T00:00:00Z'),
      ],
      'whatsapp',
      '2026-03-01T00:00:00Z',
    );
    expect([...granted]).toEqual(['promotional']);
  });
});

describe.each(DIALECTS)('analytics reports on %s', (dialect) => {
  let p: TestParley;
  const token: Record<string, string> = {};
  const period = 'from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z';

  beforeAll(async () => {
    p = await startTestParley(dialect);
    for (const u of ['compliance', 'manager', 'brand', 'rep1'] as const) token[u] = await p.world.tokenFor(u);
    const db = p.context.db;
    const { br1a, br1b, br2a } = p.world.hcps;
    const rep1 = p.world.users.rep1.id;
    const rep2 = p.world.users.rep2.id;
    const now = '2026-01-01T00:00:00.000Z';
    const template = (
      id: string,
      key: string,
      type: 'follow_up' | 'opt_in_request',
      brand: string | null,
      status: 'approved' | 'expired',
    ) =>
      bareTemplateRow({
        id,
        key,
        author_id: p.world.users.brand.id,
        created_at: now,
        status,
        type,
        brand,
        body: 'Olá {{1}}',
        approval_code: `APP-${key}`,
      });
    await db
      .insertInto('templates')
      .values([
        template('tpl_T1', 'follow', 'follow_up', 'Cardiozen', 'approved'),
        template('tpl_T2', 'optin', 'opt_in_request', null, 'approved'),
        template('tpl_T3', 'oldie', 'follow_up', 'Cardiozen', 'expired'),
      ])
      .execute();
    await db
      .insertInto('assets')
      .values(dosingLeaflet('ast_A1', p.world.users.brand.id, now))
      .execute();
    const message = (
      id: string,
      hcp: string,
      rep: string | null,
      direction: 'inbound' | 'outbound',
      at: string,
      status: string,
      templateId: string | null,
      meta: string | null = null,
    ) =>
      bareMessageRow({
        id,
        hcp_id: hcp,
        rep_id: rep,
        direction,
        wamid: `wamid.${id}`,
        phone_number_id: p.context.config.whatsapp.phoneNumberId,
        type: templateId ? 'template' : 'text',
        template_id: templateId,
        status,
        meta_timestamp: meta,
        created_at: at,
      });
    await db
      .insertInto('messages')
      .values([
        message('m1', br1a.id, rep1, 'outbound', '2026-02-02T10:00:00.000Z', 'read', 'tpl_T1'),
        message('m2', br1a.id, rep1, 'outbound', '2026-02-03T10:00:00.000Z', 'delivered', 'tpl_T1'),
        message('m3', br1b.id, rep1, 'outbound', '2026-02-02T12:00:00.000Z', 'delivered', 'tpl_T2'),
        message('m4', br2a.id, rep2, 'outbound', '2026-02-04T09:00:00.000Z', 'sent', null),
        message('m5', br2a.id, rep2, 'outbound', '2026-02-05T09:00:00.000Z', 'failed', 'tpl_T1'),
        message('m6', br2a.id, rep2, 'outbound', '2026-02-06T09:00:00.000Z', 'queued', 'tpl_T1'),
        message(
          'i1',
          br1a.id,
          null,
          'inbound',
          '2026-02-02T10:30:05.000Z',
          'received',
          null,
          '2026-02-02T10:30:00.000Z',
        ),
        message(
          'i2',
          br1b.id,
          null,
          'inbound',
          '2026-02-02T14:00:00.000Z',
          'received',
          null,
          '2026-02-02T14:00:00.000Z',
        ),
        message(
          'i3',
          br1a.id,
          null,
          'inbound',
          '2026-02-12T10:00:00.000Z',
          'received',
          null,
          '2026-02-12T10:00:00.000Z',
        ),
      ])
      .execute();
    await db
      .insertInto('tracked_links')
      .values([
        {
          code: 'L1',
          message_id: 'm1',
          asset_id: 'ast_A1',
          hcp_id: br1a.id,
          created_at: '2026-02-02T10:00:00.000Z',
        },
        {
          code: 'L2',
          message_id: 'm3',
          asset_id: 'ast_A1',
          hcp_id: br1b.id,
          created_at: '2026-02-02T12:00:00.000Z',
        },
        {
          code: 'L3',
          message_id: 'm2',
          asset_id: 'ast_A1',
          hcp_id: br1a.id,
          created_at: '2026-02-03T10:00:00.000Z',
        },
      ])
      .execute();
    const seqOf = new Map(
      (await db.selectFrom('hcps').select(['id', 'seq']).execute()).map((h) => [h.id, h.seq]),
    );
    const interaction = (
      id: string,
      hcp: string,
      rep: string | null,
      channel: 'f2f' | 'phone' | 'whatsapp' | 'email',
      kind: 'call' | 'message' | 'click' | 'email_sent',
      at: string,
      extra: { message_id?: string; asset_ids_json?: string; status?: string } = {},
    ) => ({
      id,
      hcp_id: hcp,
      hcp_seq: seqOf.get(hcp) ?? 0,
      channel,
      direction: 'outbound' as const,
      kind,
      occurred_at: at,
      rep_id: rep,
      summary: null,
      topics_json: '[]',
      products_json: '[]',
      source: 'fixture',
      external_id: id,
      template_id: null,
      asset_ids_json: extra.asset_ids_json ?? '[]',
      message_id: extra.message_id ?? null,
      status: extra.status ?? null,
      created_at: at,
      updated_at: at,
    });
    await db
      .insertInto('interactions')
      .values([
        interaction('x1', br1a.id, rep1, 'f2f', 'call', '2026-02-02T09:00:00.000Z'),
        interaction('x2', br1a.id, rep1, 'phone', 'call', '2026-02-20T09:00:00.000Z'),
        interaction('x3', br1b.id, rep1, 'whatsapp', 'message', '2026-02-02T12:00:00.000Z'),
        interaction('x4', br2a.id, rep2, 'email', 'email_sent', '2026-01-15T09:00:00.000Z'),
        interaction('x5', br2a.id, rep2, 'whatsapp', 'message', '2026-02-04T09:00:00.000Z'),
        interaction('x6', br1a.id, rep1, 'whatsapp', 'click', '2026-02-02T11:00:00.000Z', {
          message_id: 'm1',
          asset_ids_json: '["ast_A1"]',
          status: 'opened',
        }),
        interaction('x7', br1a.id, rep1, 'whatsapp', 'click', '2026-02-02T11:05:00.000Z', {
          message_id: 'm1',
          asset_ids_json: '["ast_A1"]',
          status: 'opened',
        }),
      ])
      .execute();
    const decision = (
      id: string,
      by: string,
      hcp: string,
      kind: 'send' | 'check',
      outcome: 'allow' | 'deny',
      codes: string[],
      templateId: string | null,
    ) => ({
      id,
      requested_by: by,
      hcp_id: hcp,
      kind,
      request_json: JSON.stringify({ hcpId: hcp, templateId }),
      outcome,
      purpose: 'service',
      reasons_json: JSON.stringify(codes.map((code) => ({ code, message: code, rule: code }))),
      rulebook_version: 1,
      snapshot_json: '{}',
      message_id: null,
      decided_at: '2026-02-03T08:00:00.000Z',
      template_id: templateId,
      reason_codes: codes.join(','),
    });
    await db
      .insertInto('policy_decisions')
      .values([
        decision('d1', rep1, br1a.id, 'send', 'deny', ['frequency_cap'], 'tpl_T1'),
        decision('d2', rep1, br1b.id, 'send', 'deny', ['consent_missing', 'quiet_hours'], null),
        decision('d3', rep2, br2a.id, 'send', 'allow', [], 'tpl_T1'),
        decision('d4', rep2, br2a.id, 'send', 'deny', ['template_expired'], 'tpl_T3'),
        decision('d5', rep1, br1a.id, 'check', 'deny', ['frequency_cap'], 'tpl_T1'),
      ])
      .execute();
    const consent = (
      id: string,
      hcp: string,
      purpose: 'promotional' | 'non_promotional' | 'service',
      status: 'granted' | 'withdrawn',
      at: string,
      expires: string | null = null,
    ) => ({
      id,
      hcp_id: hcp,
      channel: 'whatsapp' as const,
      purpose,
      status,
      source: 'written_form' as const,
      captured_by: null,
      captured_at: at,
      evidence: 'form',
      wording_version: null,
      message_id: null,
      expires_at: expires,
      recorded_at: at,
    });
    await db
      .insertInto('consent_entries')
      .values([
        consent('c1', br1a.id, 'promotional', 'granted', '2026-01-10T00:00:00.000Z'),
        consent('c2', br1b.id, 'promotional', 'granted', '2026-01-10T00:00:00.000Z'),
        consent('c3', br1b.id, 'promotional', 'withdrawn', '2026-02-10T00:00:00.000Z'),
        consent('c4', br1b.id, 'non_promotional', 'granted', '2026-02-02T13:00:00.000Z'),
        consent('c5', br2a.id, 'service', 'granted', '2026-01-01T00:00:00.000Z', '2026-02-15T00:00:00.000Z'),
      ])
      .execute();
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const report = async (user: string, name: string, query = period) => {
    const res = await p.app.inject({
      method: 'GET',
      url: `/api/analytics/${name}?${query}`,
      headers: { authorization: `Bearer ${token[user]}` },
    });
    return res;
  };
  const summaryOf = async (user: string, name: string, query = period) =>
    (await report(user, name, query)).json().summary;

  it('gives WhatsApp delivery, read and reply rates and the median time to reply', async () => {
    expect(await summaryOf('compliance', 'whatsapp')).toEqual({
      sent: 5,
      delivered: 3,
      read: 1,
      failed: 1,
      inbound: 3,
      replied: 2,
      deliveryRate: 0.6,
      readRate: 0.3333,
      replyRate: 0.6667,
      medianMinutesToReply: 75,
    });
  });

  it('narrows to a brand through the templates used', async () => {
    expect(await summaryOf('compliance', 'whatsapp', `${period}&brand=Cardiozen`)).toMatchObject({
      sent: 3,
      delivered: 2,
      read: 1,
      deliveryRate: 0.6667,
    });
  });

  it('counts volume and reach by channel and month', async () => {
    const body = (await report('compliance', 'volume')).json();
    expect(body.summary).toEqual({ interactions: 6, hcpsReached: 3 });
    expect(body.rows).toEqual([
      { period: '2026-02', channel: 'f2f', interactions: 1, hcpsReached: 1 },
      { period: '2026-02', channel: 'phone', interactions: 1, hcpsReached: 1 },
      { period: '2026-02', channel: 'whatsapp', interactions: 4, hcpsReached: 3 },
    ]);
  });

  it('measures asset click-through by links opened', async () => {
    const body = (await report('compliance', 'assets')).json();
    expect(body.summary).toEqual({ linksSent: 3, linksClicked: 1, clickThroughRate: 0.3333 });
    expect(body.rows).toEqual([
      {
        assetId: 'ast_A1',
        key: 'leaflet',
        version: 1,
        title: 'Dosing leaflet',
        linksSent: 3,
        linksClicked: 1,
        clicks: 2,
        clickThroughRate: 0.3333,
      },
    ]);
    // Narrowed by the messages' rep, the HCPs' market and the assets' brand: the links are rep1's, to
    // Brazilian HCPs, of a Cardiozen leaflet.
    const all = body.summary;
    const none = { linksSent: 0, linksClicked: 0, clickThroughRate: null };
    const { rep1, rep2 } = p.world.users;
    expect(await summaryOf('compliance', 'assets', `${period}&rep=${rep1.id}`)).toEqual(all);
    expect(await summaryOf('compliance', 'assets', `${period}&rep=${rep2.id}`)).toEqual(none);
    expect(await summaryOf('compliance', 'assets', `${period}&market=BR`)).toEqual(all);
    expect(await summaryOf('compliance', 'assets', `${period}&market=ES`)).toEqual(none);
    expect(await summaryOf('compliance', 'assets', `${period}&brand=Cardiozen`)).toEqual(all);
  });

  it('reports blocked attempts by reason, leaving checks out', async () => {
    const body = (await report('compliance', 'blocked')).json();
    expect(body.summary).toEqual({ attempts: 4, blocked: 3, blockedRate: 0.75, review: 0 });
    expect(body.rows).toEqual([
      { reason: 'consent_missing', attempts: 1, hcps: 1 },
      { reason: 'frequency_cap', attempts: 1, hcps: 1 },
      { reason: 'quiet_hours', attempts: 1, hcps: 1 },
      { reason: 'template_expired', attempts: 1, hcps: 1 },
    ]);
    const csv = parse((await report('compliance', 'blocked', `${period}&format=csv`)).body, {
      columns: true,
    });
    expect(csv[0]).toEqual({ reason: 'consent_missing', attempts: '1', hcps: '1' });
  });

  it('finds over-messaging against a weekly cap', async () => {
    expect(await summaryOf('compliance', 'over-messaging', `${period}&weeklyCap=1`)).toEqual({
      messagesSent: 5,
      hcpsMessaged: 3,
      messagesPerHcpPerWeek: 0.42,
      maxPerHcpWeek: 2,
      weeklyCap: 1,
      hcpWeeksOverCap: 2,
      hcpsOverCap: 2,
      attemptsBeyondCaps: 1,
      hcpsAtCap: 1,
    });
  });

  it('compares reps: template share, volume spread and send hours', async () => {
    const body = (await report('compliance', 'consistency')).json();
    expect(body.summary).toEqual({
      reps: 2,
      messages: 5,
      templateShare: 0.8,
      meanMessagesPerRep: 2.5,
      stddevMessagesPerRep: 0.5,
      volumeCv: 0.2,
      sendHourSpreadUtc: 0.5,
    });
    expect(body.rows).toEqual([
      {
        repId: p.world.users.rep1.id,
        repName: 'Test rep1',
        messages: 3,
        fromTemplates: 3,
        templateShare: 1,
        medianSendHourUtc: 10,
      },
      {
        repId: p.world.users.rep2.id,
        repName: 'Test rep2',
        messages: 2,
        fromTemplates: 1,
        templateShare: 0.5,
        medianSendHourUtc: 9,
      },
    ]);
  });

  it('gives consent coverage by purpose and opt-in and opt-out rates', async () => {
    const body = (await report('compliance', 'consent')).json();
    expect(body.summary).toEqual({
      hcps: 4,
      hcpsWithWhatsapp: 4,
      optInRequestsSentTo: 1,
      optedIn: 1,
      optInRate: 1,
      hcpsMessaged: 3,
      optedOut: 1,
      optOutRate: 0.3333,
    });
    expect(
      body.rows.map((r: { purpose: string; reachable: number; coverage: number }) => [
        r.purpose,
        r.reachable,
        r.coverage,
      ]),
    ).toEqual([
      ['promotional', 1, 0.25],
      ['non_promotional', 1, 0.25],
      ['service', 0, 0],
      ['medical_information', 0, 0],
      ['events', 0, 0],
    ]);
    // A brand user sees their own market (BR) only.
    expect((await summaryOf('brand', 'consent')).hcps).toBe(3);

    // An erased HCP's ledger stays (proof of consent), and their opt-in and opt-out count nowhere.
    const db = p.context.db;
    const [seq] = await nextHcpSeqs(db, 1);
    await db
      .insertInto('hcps')
      .values({
        ...bareHcpRow({ id: 'hcp_erased', crmId: 'CRM-ERASED', at: '2026-01-01T00:00:00.000Z' }),
        erased_at: '2026-02-20T00:00:00.000Z',
        seq: seq!,
      })
      .execute();
    await db
      .insertInto('consent_entries')
      .values(
        (['granted', 'withdrawn'] as const).map((status, i) => ({
          id: `c_erased_${status}`,
          hcp_id: 'hcp_erased',
          channel: 'whatsapp' as const,
          purpose: 'promotional' as const,
          status,
          source: 'written_form' as const,
          captured_by: null,
          captured_at: `2026-02-1${i}T00:00:00.000Z`,
          evidence: 'form',
          wording_version: null,
          message_id: null,
          expires_at: null,
          recorded_at: `2026-02-1${i}T00:00:00.000Z`,
        })),
      )
      .execute();
    expect(await summaryOf('compliance', 'consent')).toMatchObject({ hcps: 4, optedIn: 1, optedOut: 1 });
    expect(await summaryOf('brand', 'consent')).toMatchObject({ hcps: 3, optedIn: 1, optedOut: 1 });
  });

  it('shows template usage and attempts with expired content', async () => {
    const body = (await report('compliance', 'content-usage')).json();
    expect(body.summary).toEqual({
      templatedMessages: 4,
      templatesUsed: 2,
      attemptsWithExpiredTemplate: 1,
      attemptsWithExpiredAsset: 0,
      clicksOnExpiredAssets: 0,
    });
    expect(
      body.rows.map(
        (r: { key: string; messages: number; hcpsReached: number; attemptsWhileExpired: number }) => [
          r.key,
          r.messages,
          r.hcpsReached,
          r.attemptsWhileExpired,
        ],
      ),
    ).toEqual([
      ['follow', 3, 2, 0],
      ['oldie', 0, 0, 1],
      ['optin', 1, 1, 0],
    ]);
  });

  it('keeps a manager to their team and answers a rep outside it with 404; reps get 403', async () => {
    expect(await summaryOf('manager', 'whatsapp')).toMatchObject({ sent: 5, delivered: 3 });
    expect(await summaryOf('manager', 'whatsapp', `${period}&rep=${p.world.users.rep2.id}`)).toMatchObject({
      sent: 2,
      delivered: 0,
    });
    expect((await report('manager', 'whatsapp', `${period}&rep=${p.world.users.repEs.id}`)).statusCode).toBe(
      404,
    );
    expect((await report('rep1', 'whatsapp')).statusCode).toBe(403);
    expect((await report('compliance', 'nonsense')).statusCode).toBe(400);
  });

  it('gives in the overview the summaries the five reports give, and no rows', async () => {
    for (const query of [period, `${period}&market=BR`]) {
      const overview = (await report('compliance', 'overview', query)).json();
      const want: Record<string, unknown> = {};
      for (const name of ['volume', 'whatsapp', 'assets', 'consent', 'blocked'])
        for (const [key, value] of Object.entries((await report('compliance', name, query)).json().summary))
          want[`${name}.${key}`] = value;
      expect(overview.summary).toEqual(want);
      expect(overview.rows).toEqual([]);
    }
  });

  it('puts no personal data in any report', async () => {
    for (const name of [
      'overview',
      'volume',
      'whatsapp',
      'assets',
      'consent',
      'blocked',
      'over-messaging',
      'consistency',
      'content-usage',
    ]) {
      const text = (await report('compliance', name)).body;
      expect(text).not.toMatch(/Souza|Lima|Mendes|5511|5521|@example/);
    }
  });
});
