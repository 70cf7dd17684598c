import { describe, expect, it } from 'vitest';
import { decide, type Decision } from './decide.js';
import type { DecisionContext, DecisionRequest } from './decision-context.js';
import {
  baseContext,
  baseRequest,
  CONFIRMATION,
  NOW,
  PROMO_TEMPLATE,
  sent,
  shippedRulebook,
  SHIPPED,
} from './decide.fixtures.js';
import { REASON_CODES, type ReasonCode } from './reason-codes.js';

type Scenario = [
  sentence: string,
  request: Partial<DecisionRequest>,
  context: (base: DecisionContext) => Partial<DecisionContext>,
  outcome: Decision['outcome'],
  codes: ReasonCode[],
];

const none = () => ({});
const granted = { status: 'granted' as const, since: '2026-01-10T10:00:00.000Z' };
const promo: Partial<DecisionRequest> = {
  templateId: PROMO_TEMPLATE.id,
  parameters: { link: 'ast_study' },
  assetIds: ['ast_study', 'ast_pi'],
};
const promoContext = () => ({ template: PROMO_TEMPLATE });
const withWhatsapp = (base: DecisionContext, purpose: string, state: unknown) => ({
  consent: { ...base.consent, whatsapp: { ...base.consent.whatsapp, [purpose]: state } },
});
const inEs = (base: DecisionContext): Partial<DecisionContext> => ({
  hcp: { ...base.hcp, market: 'ES', language: 'es-ES', timeZone: 'Europe/Madrid' },
  market: { code: 'ES', timeZone: 'Europe/Madrid', weekendDays: [6, 7], holidays: ['2026-10-12'] },
  template: { ...CONFIRMATION, market: 'ES', language: 'es-ES' },
});

/** One row per rule and reason code; each row names what it proves. */
const scenarios: Scenario[] = [
  ['allows an approved confirmation to a consented, assigned HCP at 11:00 her time', {}, none, 'allow', []],
  [
    'denies an HCP outside the rep’s territories (not_assigned)',
    {},
    (b) => ({ hcp: { ...b.hcp, assignedToRep: false } }),
    'deny',
    ['not_assigned'],
  ],
  [
    'denies an HCP without a WhatsApp number',
    {},
    (b) => ({ hcp: { ...b.hcp, hasWhatsappNumber: false } }),
    'deny',
    ['no_whatsapp_number'],
  ],
  [
    'denies an HCP whose number was suspended after a number change',
    {},
    (b) => ({ hcp: { ...b.hcp, whatsappStatus: 'suspended' } }),
    'deny',
    ['no_whatsapp_number'],
  ],
  [
    'denies when there is no consent for the computed purpose (service)',
    {},
    (b) => withWhatsapp(b, 'service', undefined),
    'deny',
    ['consent_missing'],
  ],
  [
    'denies when a verbal consent awaits double opt-in',
    {},
    (b) => withWhatsapp(b, 'service', { status: 'pending' }),
    'deny',
    ['consent_pending'],
  ],
  [
    'denies when an opt-out is newer than the opt-in',
    {},
    (b) => withWhatsapp(b, 'service', { status: 'withdrawn' }),
    'deny',
    ['consent_withdrawn'],
  ],
  [
    'denies when the HCP refused the opt-in request',
    {},
    (b) => withWhatsapp(b, 'service', { status: 'refused' }),
    'deny',
    ['consent_refused'],
  ],
  [
    'denies when the ledger says the consent expired',
    {},
    (b) => withWhatsapp(b, 'service', { status: 'expired' }),
    'deny',
    ['consent_expired'],
  ],
  [
    'denies a scheduled send that falls after the grant’s expiry',
    { sendAt: '2026-03-10T13:00:00.000Z' },
    (b) => withWhatsapp(b, 'service', { ...granted, expiresAt: '2026-03-05T00:00:00.000Z' }),
    'deny',
    ['consent_expired'],
  ],
  [
    'denies while an ambiguous reply is held for a person',
    {},
    () => ({ consentHold: { since: '2026-03-03T12:00:00.000Z' } }),
    'deny',
    ['consent_hold'],
  ],
  [
    'denies a marketing template when the HCP used Meta’s marketing stop',
    promo,
    (b) => ({ ...promoContext(), hcp: { ...b.hcp, marketingStopped: true } }),
    'deny',
    ['marketing_opted_out'],
  ],
  [
    'never sends a marketing template to a +1 number',
    promo,
    (b) => ({ ...promoContext(), hcp: { ...b.hcp, callingCode: '1' } }),
    'deny',
    ['marketing_not_allowed_for_number'],
  ],
  [
    'allows a promotional resource link in BR with promotional consent and the PI link',
    promo,
    promoContext,
    'allow',
    [],
  ],
  [
    'denies promotional content in BR without promotional consent',
    promo,
    (b) => ({ ...promoContext(), ...withWhatsapp(b, 'promotional', undefined) }),
    'deny',
    ['promotional_without_consent'],
  ],
  [
    'denies promotional content on WhatsApp in ES, where the market switch is off',
    promo,
    (b) => ({ ...inEs(b), template: { ...PROMO_TEMPLATE, market: 'ES', language: 'es-ES' } }),
    'deny',
    ['promotional_not_allowed'],
  ],
  [
    'denies a promotional message without its product’s prescribing-information link',
    { ...promo, assetIds: ['ast_study'] },
    promoContext,
    'deny',
    ['pi_link_missing'],
  ],
  [
    'treats a non-promotional template carrying a promotional asset as promotional',
    { assetIds: ['ast_study'] },
    (b) => withWhatsapp(b, 'promotional', undefined),
    'deny',
    ['promotional_without_consent', 'pi_link_missing'],
  ],
  [
    'denies a draft template',
    {},
    () => ({ template: { ...CONFIRMATION, status: 'draft' } }),
    'deny',
    ['template_not_approved'],
  ],
  [
    'denies a template id that does not exist',
    { templateId: 'tpl_nope' },
    () => ({ template: null }),
    'deny',
    ['template_not_approved'],
  ],
  [
    'denies a template that Meta has not approved',
    {},
    () => ({ template: { ...CONFIRMATION, whatsappStatus: 'pending' } }),
    'deny',
    ['template_not_approved_by_meta'],
  ],
  [
    'denies a template past its expiry date',
    {},
    () => ({ template: { ...CONFIRMATION, expiresAt: '2026-03-01T00:00:00.000Z' } }),
    'deny',
    ['template_expired'],
  ],
  [
    'denies a template of another market',
    {},
    () => ({ template: { ...CONFIRMATION, market: 'ES', language: 'pt-BR' } }),
    'deny',
    ['template_market_mismatch'],
  ],
  [
    'denies a template in a language the HCP does not read',
    {},
    () => ({ template: { ...CONFIRMATION, language: 'es-ES' } }),
    'deny',
    ['language_mismatch'],
  ],
  [
    'accepts a pt-PT template for a pt-BR reader (primary language match)',
    {},
    () => ({ template: { ...CONFIRMATION, language: 'pt-PT' } }),
    'allow',
    [],
  ],
  [
    'denies a date parameter that is not a real date',
    { parameters: { day: '2026-02-30', hour: '09:30' } },
    none,
    'deny',
    ['invalid_parameter'],
  ],
  [
    'denies a missing parameter and an unknown one',
    { parameters: { day: '2026-03-10', venue: 'Clínica' } },
    none,
    'deny',
    ['invalid_parameter', 'invalid_parameter'],
  ],
  [
    'denies a parameter with a new line (WhatsApp refuses them)',
    { parameters: { day: '2026-03-10', hour: '09:30', note: 'see you\nthen' } },
    () => ({
      template: {
        ...CONFIRMATION,
        parameters: [...CONFIRMATION.parameters, { name: 'note', type: 'text', maxLength: 40 }],
      },
    }),
    'deny',
    ['invalid_parameter'],
  ],
  [
    'denies a parameter longer than its maximum',
    { parameters: { day: '2026-03-10', hour: '09:30', note: 'x'.repeat(41) } },
    () => ({
      template: {
        ...CONFIRMATION,
        parameters: [...CONFIRMATION.parameters, { name: 'note', type: 'text', maxLength: 40 }],
      },
    }),
    'deny',
    ['invalid_parameter'],
  ],
  [
    'denies a value sent for the HCP name, which comes from the HCP record',
    { parameters: { doctor: 'Dr. Someone Else', day: '2026-03-10', hour: '09:30' } },
    none,
    'deny',
    ['invalid_parameter'],
  ],
  [
    'denies an asset that is not approved',
    { assetIds: ['ast_leaflet'] },
    (b) => ({ assets: b.assets.map((a) => ({ ...a, status: 'in_review' as const })) }),
    'deny',
    ['asset_not_approved'],
  ],
  [
    'denies an asset id that does not exist',
    { assetIds: ['ast_missing'] },
    none,
    'deny',
    ['asset_not_approved'],
  ],
  [
    'denies an expired asset',
    { assetIds: ['ast_leaflet'] },
    (b) => ({ assets: b.assets.map((a) => ({ ...a, expiresAt: '2026-03-02T00:00:00.000Z' })) }),
    'deny',
    ['asset_expired'],
  ],
  [
    'denies more than two assets',
    {
      templateId: PROMO_TEMPLATE.id,
      parameters: { link: 'ast_study' },
      assetIds: ['ast_leaflet', 'ast_study', 'ast_pi'],
    },
    promoContext,
    'deny',
    ['too_many_assets'],
  ],
  [
    'denies an asset sent as a file rather than a link',
    { assetIds: ['ast_leaflet'], assetDelivery: 'file' },
    none,
    'deny',
    ['attachment_not_allowed'],
  ],
  [
    'denies an asset whose address is not a web link',
    { assetIds: ['ast_leaflet'] },
    (b) => ({ assets: b.assets.map((a) => ({ ...a, url: 'file:///share/leaflet.pdf' })) }),
    'deny',
    ['attachment_not_allowed'],
  ],
  [
    'denies a message type the rulebook does not allow on WhatsApp',
    {},
    () => ({
      rulebook: shippedRulebook({ message_types: { whatsapp: ['reminder'] } }),
    }),
    'deny',
    ['message_type_not_allowed'],
  ],
  [
    'denies a purpose whose channel mix excludes WhatsApp, naming the alternatives',
    {},
    () => ({ rulebook: shippedRulebook({ channel_mix: { service: ['email', 'phone'] } }) }),
    'deny',
    ['channel_not_allowed'],
  ],
  [
    'denies when the HCP prefers email for service messages',
    {},
    () => ({ preferences: { preferredChannel: { service: 'email' } } }),
    'deny',
    ['channel_not_preferred'],
  ],
  [
    'holds free text inside the customer-service window for review',
    { templateId: undefined, parameters: undefined, text: 'Obrigado, doutora! Até terça.' },
    () => ({ template: null, lastInboundAt: '2026-03-03T12:00:00.000Z' }),
    'review',
    ['needs_review'],
  ],
  [
    'denies free text outside the customer-service window',
    { templateId: undefined, parameters: undefined, text: 'Bom dia!' },
    () => ({ template: null, lastInboundAt: '2026-03-02T13:59:00.000Z' }),
    'deny',
    ['window_closed', 'needs_review'],
  ],
  [
    'denies free text that carries a promotional asset, even inside the window',
    {
      templateId: undefined,
      parameters: undefined,
      text: 'Veja o estudo',
      assetIds: ['ast_study', 'ast_pi'],
    },
    () => ({ template: null, lastInboundAt: '2026-03-03T13:00:00.000Z' }),
    'deny',
    ['promotional_not_allowed', 'needs_review'],
  ],
  [
    'holds every message type the rulebook lists for review',
    {},
    () => ({ rulebook: shippedRulebook({ review: { message_types: ['confirmation'] } }) }),
    'review',
    ['needs_review'],
  ],
  [
    'denies the same template to the same HCP within 14 days (any rep)',
    {},
    () => ({ hcpMessages: [sent('2026-02-20T13:00:00.000Z', { templateKey: CONFIRMATION.key })] }),
    'deny',
    ['duplicate_message'],
  ],
  [
    'allows the same template again after 14 days',
    {},
    () => ({ hcpMessages: [sent('2026-02-17T13:00:00.000Z', { templateKey: CONFIRMATION.key })] }),
    'allow',
    [],
  ],
  [
    'denies a third rep-initiated WhatsApp in a rolling 7 × 24 h',
    {},
    () => ({ hcpMessages: [sent('2026-02-26T13:00:00.000Z'), sent('2026-03-02T13:00:00.000Z')] }),
    'deny',
    ['frequency_cap'],
  ],
  [
    'counts a queued message as a reservation',
    {},
    () => ({
      hcpMessages: [sent('2026-02-26T13:00:00.000Z'), sent('2026-03-02T13:00:00.000Z', { status: 'queued' })],
    }),
    'deny',
    ['frequency_cap'],
  ],
  [
    'counts a message scheduled later in the week as a reservation',
    {},
    () => ({
      hcpMessages: [
        sent('2026-02-26T13:00:00.000Z'),
        sent('2026-03-05T12:00:00.000Z', { status: 'scheduled' }),
      ],
    }),
    'deny',
    ['frequency_cap'],
  ],
  [
    'frees the slot of a message cancelled before sending',
    {},
    () => ({
      hcpMessages: [
        sent('2026-02-26T13:00:00.000Z'),
        sent('2026-03-02T13:00:00.000Z', { status: 'cancelled' }),
      ],
    }),
    'allow',
    [],
  ],
  [
    'does not count the opt-out confirmation, replies in the window or Medical Information answers',
    {},
    () => ({
      hcpMessages: [
        sent('2026-02-26T13:00:00.000Z', { kind: 'opt_out_confirmation' }),
        sent('2026-03-01T13:00:00.000Z', { kind: 'reply_in_window' }),
        sent('2026-03-02T13:00:00.000Z', { kind: 'medical_information' }),
      ],
    }),
    'allow',
    [],
  ],
  [
    'denies a second rep-initiated WhatsApp on the same calendar day in the HCP’s zone',
    {},
    () => ({ hcpMessages: [sent('2026-03-03T11:30:00.000Z')] }),
    'deny',
    ['frequency_cap'],
  ],
  [
    'counts the day in the HCP’s zone, not UTC: 23:30 the evening before is another day',
    {},
    () => ({ hcpMessages: [sent('2026-03-03T02:30:00.000Z')] }),
    'allow',
    [],
  ],
  [
    'honours the HCP’s own frequency limit (one a week)',
    {},
    () => ({
      preferences: { frequencyLimit: { maxMessages: 1, perDays: 7 } },
      hcpMessages: [sent('2026-02-27T13:00:00.000Z')],
    }),
    'deny',
    ['frequency_cap'],
  ],
  [
    'denies past the rep’s own cap across all HCPs',
    {},
    () => ({
      repMessages: Array.from({ length: 60 }, (_, i) =>
        sent(new Date(Date.parse(NOW) - (i + 1) * 60_000).toISOString(), {
          hcpId: `hcp_${i}`,
          repId: 'usr_rep1',
        }),
      ),
    }),
    'deny',
    ['rep_cap'],
  ],
  [
    'exempts the opt-out confirmation from caps, quiet hours and the withdrawn consent',
    { kind: 'opt_out_confirmation' },
    (b) => ({
      now: '2026-03-03T23:30:00.000Z',
      hcpMessages: [sent('2026-02-26T13:00:00.000Z'), sent('2026-03-03T13:00:00.000Z')],
      ...withWhatsapp(b, 'service', { status: 'withdrawn' }),
    }),
    'allow',
    [],
  ],
  [
    'denies at 20:30 her time (quiet hours 20:00–08:00)',
    {},
    () => ({ now: '2026-03-03T23:30:00.000Z' }),
    'deny',
    ['quiet_hours'],
  ],
  ['denies at midnight her time', {}, () => ({ now: '2026-03-04T03:00:00.000Z' }), 'deny', ['quiet_hours']],
  ['denies at 07:59 her time', {}, () => ({ now: '2026-03-04T10:59:00.000Z' }), 'deny', ['quiet_hours']],
  ['allows at 08:00 her time', {}, () => ({ now: '2026-03-04T11:00:00.000Z' }), 'allow', []],
  [
    'denies on a Saturday, a weekend day in BR',
    {},
    () => ({ now: '2026-03-07T14:00:00.000Z' }),
    'deny',
    ['quiet_hours'],
  ],
  [
    'denies on a BR public holiday (21 April)',
    {},
    () => ({ now: '2026-04-21T14:00:00.000Z' }),
    'deny',
    ['quiet_hours'],
  ],
  [
    'allows a Saturday in India, whose weekend is Sunday only',
    {},
    (b) => ({
      now: '2026-03-07T06:00:00.000Z',
      hcp: { ...b.hcp, market: 'IN', language: 'en-IN', timeZone: 'Asia/Kolkata' },
      market: { code: 'IN', timeZone: 'Asia/Kolkata', weekendDays: [7], holidays: ['2026-01-26'] },
      template: { ...CONFIRMATION, market: 'IN', language: 'en-IN' },
    }),
    'allow',
    [],
  ],
  [
    'exempts a reply within 60 minutes of the HCP’s own message from quiet hours',
    {},
    () => ({ now: '2026-03-03T23:40:00.000Z', lastInboundAt: '2026-03-03T23:10:00.000Z' }),
    'allow',
    [],
  ],
  [
    'does not exempt a reply 90 minutes after the HCP’s message',
    {},
    () => ({ now: '2026-03-03T23:40:00.000Z', lastInboundAt: '2026-03-03T22:10:00.000Z' }),
    'deny',
    ['quiet_hours'],
  ],
  [
    'denies outside the HCP’s contact windows',
    {},
    () => ({ preferences: { contactWindows: [{ days: [1, 2, 3, 4, 5], start: '14:00', end: '17:00' }] } }),
    'deny',
    ['outside_contact_window'],
  ],
  [
    'allows inside the HCP’s contact windows',
    {},
    () => ({ preferences: { contactWindows: [{ days: [2], start: '10:00', end: '12:00' }] } }),
    'allow',
    [],
  ],
  [
    'allows an opt-in request that confirms a pending verbal consent',
    { templateId: 'tpl_optin', parameters: {} },
    (b) => ({
      template: { ...CONFIRMATION, id: 'tpl_optin', key: 'opt_in', type: 'opt_in_request', parameters: [] },
      ...withWhatsapp(b, 'promotional', { status: 'pending' }),
    }),
    'allow',
    [],
  ],
  [
    'denies an opt-in request within 30 days of the last one',
    { templateId: 'tpl_optin', parameters: {} },
    () => ({
      template: { ...CONFIRMATION, id: 'tpl_optin', key: 'opt_in', type: 'opt_in_request', parameters: [] },
      optInRequests: ['2026-02-20T13:00:00.000Z'],
    }),
    'deny',
    ['opt_in_limit'],
  ],
  [
    'denies a fourth opt-in request ever',
    { templateId: 'tpl_optin', parameters: {} },
    () => ({
      template: { ...CONFIRMATION, id: 'tpl_optin', key: 'opt_in', type: 'opt_in_request', parameters: [] },
      optInRequests: ['2025-06-01T13:00:00.000Z', '2025-09-01T13:00:00.000Z', '2025-12-01T13:00:00.000Z'],
    }),
    'deny',
    ['opt_in_limit'],
  ],
  [
    'maps an event invitation to the events purpose and its consent',
    { templateId: 'tpl_event', parameters: {} },
    (b) => ({
      template: { ...CONFIRMATION, id: 'tpl_event', key: 'congress', type: 'event_invite', parameters: [] },
      ...withWhatsapp(b, 'events', undefined),
    }),
    'deny',
    ['consent_missing'],
  ],
];

describe('decide()', () => {
  it.each(scenarios)('%s', (_sentence, request, context, outcome, codes) => {
    const base = baseContext();
    const decision = decide(baseRequest(request), { ...base, ...context(base) });
    expect(decision.reasons.map((r) => r.code).sort()).toEqual([...codes].sort());
    expect(decision.outcome).toBe(outcome);
    expect(decision.rulebookVersion).toBe(SHIPPED.version);
    for (const reason of decision.reasons) {
      expect(reason.message.length).toBeGreaterThan(10);
      expect(reason.rule).not.toBe('');
    }
  });

  it('produces every reason code of the contract from some scenario', () => {
    const produced = new Set(scenarios.flatMap(([, , , , codes]) => codes));
    expect(REASON_CODES.filter((code) => !produced.has(code))).toEqual([]);
  });

  it.each([
    ['confirmation', CONFIRMATION, {}, 'service'],
    ['promotional resource link', PROMO_TEMPLATE, promo, 'promotional'],
    [
      'event invitation',
      { ...CONFIRMATION, type: 'event_invite' as const, parameters: [] },
      { parameters: {} },
      'events',
    ],
    ['non-promotional follow-up', { ...CONFIRMATION, type: 'follow_up' as const }, {}, 'non_promotional'],
  ])('reports the purpose of a %s', (_name, template, request, purpose) => {
    expect(decide(baseRequest(request), baseContext({ template })).purpose).toBe(purpose);
  });
});

describe('explanations and the next possible moment', () => {
  it('explains a cap with names, the limit and local time, and offers email, which she accepts', () => {
    const decision = decide(
      baseRequest(),
      baseContext({ hcpMessages: [sent('2026-02-26T13:00:00.000Z'), sent('2026-03-02T13:00:00.000Z')] }),
    );
    // The oldest message leaves the 7 × 24 h window on Thursday 5 March at 13:00 UTC, 10:00 in São Paulo.
    expect(decision.nextAllowedAt).toBe('2026-03-05T13:00:00.000Z');
    expect(decision.alternatives).toEqual([{ channel: 'email', consent: 'granted' }]);
    expect(decision.reasons[0]?.message).toBe(
      "Dra. Ana Souza has had 2 WhatsApp messages from reps in the last 7 days (the limit is 2). Next possible: Thursday 5 March, 10:00 in Dra. Ana Souza's time (America/Sao_Paulo). Or send by email, which Dra. Ana Souza accepts.",
    );
  });

  it.each([
    ['20:30 on a Tuesday → 08:00 on Wednesday', '2026-03-03T23:30:00.000Z', '2026-03-04T11:00:00.000Z'],
    ['21:00 on a Friday → 08:00 on Monday (weekend)', '2026-03-07T00:00:00.000Z', '2026-03-09T11:00:00.000Z'],
    [
      'noon on 21 April (holiday) → 08:00 on 22 April',
      '2026-04-21T15:00:00.000Z',
      '2026-04-22T11:00:00.000Z',
    ],
  ])('moves a quiet-hours denial in São Paulo: %s', (_name, now, next) => {
    expect(decide(baseRequest(), baseContext({ now })).nextAllowedAt).toBe(next);
  });

  it.each([
    [
      'spring forward: Saturday 28 March 21:00 → Monday 30 March 08:00 CEST (06:00 UTC)',
      '2026-03-28T20:00:00.000Z',
      '2026-03-30T06:00:00.000Z',
    ],
    [
      'fall back: Friday 23 October 20:30 CEST → Monday 26 October 08:00 CET (07:00 UTC)',
      '2026-10-23T18:30:00.000Z',
      '2026-10-26T07:00:00.000Z',
    ],
    [
      'a Sunday of the change itself at 01:30 → Monday 08:00',
      '2026-03-29T00:30:00.000Z',
      '2026-03-30T06:00:00.000Z',
    ],
  ])('keeps 08:00 local across a Madrid DST change: %s', (_name, now, next) => {
    const base = baseContext();
    const decision = decide(baseRequest(), { ...base, ...inEs(base), now });
    expect(decision.reasons.map((r) => r.code)).toEqual(['quiet_hours']);
    expect(decision.nextAllowedAt).toBe(next);
  });

  it('counts the daily cap on the HCP’s calendar day in India, ahead of UTC', () => {
    const base = baseContext();
    const india: Partial<DecisionContext> = {
      hcp: { ...base.hcp, market: 'IN', language: 'en-IN', timeZone: 'Asia/Kolkata' },
      market: { code: 'IN', timeZone: 'Asia/Kolkata', weekendDays: [7], holidays: [] },
      template: { ...CONFIRMATION, market: 'IN', language: 'en-IN' },
      // 00:30 on Wednesday 4 March in Kolkata, still Tuesday 3 March in UTC.
      hcpMessages: [sent('2026-03-03T19:00:00.000Z')],
      now: '2026-03-04T04:00:00.000Z', // 09:30 Wednesday in Kolkata
    };
    const decision = decide(baseRequest(), { ...base, ...india });
    expect(decision.reasons.map((r) => r.code)).toEqual(['frequency_cap']);
    // Thursday 5 March 08:00 in Kolkata is 02:30 UTC.
    expect(decision.nextAllowedAt).toBe('2026-03-05T02:30:00.000Z');
  });

  it('combines a cap and quiet hours: the slot freed at night waits for 08:00', () => {
    const decision = decide(
      baseRequest(),
      baseContext({ hcpMessages: [sent('2026-02-27T01:00:00.000Z'), sent('2026-03-02T13:00:00.000Z')] }),
    );
    // Frees on 6 March 01:00 UTC (22:00 on the 5th in São Paulo): quiet, so 08:00 on Friday 6 March.
    expect(decision.nextAllowedAt).toBe('2026-03-06T11:00:00.000Z');
  });

  it('gives no next moment when a reason that time does not lift is present', () => {
    const decision = decide(
      baseRequest(),
      baseContext({ now: '2026-03-03T23:30:00.000Z', hcp: { ...baseContext().hcp, assignedToRep: false } }),
    );
    expect(decision.outcome).toBe('deny');
    expect(decision.nextAllowedAt).toBeUndefined();
  });

  it('decides a scheduled message at its send time', () => {
    const decision = decide(baseRequest({ sendAt: '2026-03-03T23:30:00.000Z' }), baseContext());
    expect(decision.reasons.map((r) => r.code)).toEqual(['quiet_hours']);
  });

  it('names Medical Information as the route for medical questions', () => {
    const decision = decide(
      baseRequest({ templateId: 'tpl_mi', parameters: {} }),
      baseContext({
        template: { ...CONFIRMATION, id: 'tpl_mi', parameters: [] },
        rulebook: shippedRulebook({ purposes: { confirmation: { non_promotional: 'medical_information' } } }),
        consent: { whatsapp: { medical_information: { status: 'granted' } } },
      }),
    );
    expect(decision.reasons.map((r) => r.code)).toEqual(['channel_not_allowed']);
    expect(decision.alternatives).toEqual([{ channel: 'medical_information_team', consent: 'not_needed' }]);
  });
});
