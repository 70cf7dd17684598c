import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decide, repMessagesInCap } from './decide.js';
import type { ConsentStatus, DecisionContext, DecisionRequest, RecentMessage } from './decision-context.js';
import { baseContext, baseRequest, CONFIRMATION, NOW, sent, shippedRulebook } from './decide.fixtures.js';
import { MESSAGE_TYPES, PURPOSES, type Purpose } from './rulebook-schema.js';

const HOUR = 3_600_000;
const statuses: ConsentStatus[] = ['none', 'pending', 'granted', 'withdrawn', 'refused', 'expired'];

const consentArb = fc.record(
  Object.fromEntries(PURPOSES.map((p) => [p, fc.constantFrom(...statuses)])) as Record<
    Purpose,
    fc.Arbitrary<ConsentStatus>
  >,
);

/** A random but well-formed scene: consent, template type and classification, assets, time, counters. */
const sceneArb = fc.record({
  consent: consentArb,
  type: fc.constantFrom(...MESSAGE_TYPES),
  classification: fc.constantFrom('promotional' as const, 'non_promotional' as const),
  category: fc.constantFrom('utility' as const, 'marketing' as const),
  market: fc.constantFrom('BR', 'ES'),
  assetIds: fc.subarray(['ast_leaflet', 'ast_study', 'ast_pi']),
  freeText: fc.boolean(),
  minutesFromNow: fc.integer({ min: 0, max: 14 * 24 * 60 }),
  inboundMinutesAgo: fc.option(fc.integer({ min: 0, max: 48 * 60 })),
  previous: fc.array(fc.integer({ min: -10 * 24, max: 5 * 24 }), { maxLength: 4 }),
  kind: fc.constantFrom('rep' as const, 'reply_in_window' as const, 'medical_information' as const),
});

type Scene = typeof sceneArb extends fc.Arbitrary<infer T> ? T : never;

function build(scene: Scene): [DecisionRequest, DecisionContext] {
  const base = baseContext();
  const now = new Date(Date.parse(NOW) + scene.minutesFromNow * 60_000);
  const consent: DecisionContext['consent'] = {
    whatsapp: Object.fromEntries(PURPOSES.map((p) => [p, { status: scene.consent[p] }])),
  };
  const request = scene.freeText
    ? baseRequest({ templateId: undefined, parameters: undefined, text: 'Olá', assetIds: scene.assetIds })
    : baseRequest({ assetIds: scene.assetIds, kind: scene.kind, parameters: CONFIRMATION_PARAMS });
  const context: DecisionContext = {
    ...base,
    now: now.toISOString(),
    consent,
    hcp: { ...base.hcp, market: scene.market },
    template: scene.freeText
      ? null
      : {
          ...CONFIRMATION,
          market: scene.market,
          type: scene.type,
          classification: scene.classification,
          whatsappCategory: scene.category,
          products: ['prd_cardiozen'],
        },
    lastInboundAt:
      scene.inboundMinutesAgo === null
        ? null
        : new Date(now.getTime() - scene.inboundMinutesAgo * 60_000).toISOString(),
    hcpMessages: scene.previous.map((h) => sent(new Date(now.getTime() + h * HOUR).toISOString())),
  };
  return [request, context];
}

const CONFIRMATION_PARAMS = { doctor: 'Dra. Ana Souza', day: '2026-03-10', hour: '09:30' };

describe('decide() properties', () => {
  it('never allows without consent for the computed purpose', () => {
    fc.assert(
      fc.property(sceneArb, (scene) => {
        const [request, context] = build(scene);
        const decision = decide(request, context);
        if (decision.outcome !== 'allow') return;
        expect(decision.purpose).not.toBeNull();
        const status = context.consent.whatsapp?.[decision.purpose as Purpose]?.status;
        // The only allowed send on a pending consent is the opt-in request that confirms it.
        if (context.template?.type === 'opt_in_request') expect(['granted', 'pending']).toContain(status);
        else expect(status).toBe('granted');
      }),
      { numRuns: 2000 },
    );
  });

  it('is deterministic: the same inputs, even copied, give the same decision', () => {
    fc.assert(
      fc.property(sceneArb, (scene) => {
        const [request, context] = build(scene);
        const first = decide(request, context);
        const again = decide(structuredClone(request), structuredClone(context));
        expect(again).toEqual(first);
      }),
      { numRuns: 500 },
    );
  });

  it('gives as nextAllowedAt the first moment that is allowed: allowed then, denied a minute before', () => {
    const scene = fc.record({
      minutesFromNow: fc.integer({ min: 0, max: 10 * 24 * 60 }),
      previous: fc.array(fc.integer({ min: -8 * 24 * 60, max: 3 * 24 * 60 }), { maxLength: 5 }),
      sameTemplate: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      zone: fc.constantFrom('America/Sao_Paulo', 'Europe/Madrid', 'Asia/Kolkata', 'America/New_York'),
      window: fc.option(
        fc.record({
          days: fc.subarray([1, 2, 3, 4, 5, 6, 7], { minLength: 1 }),
          start: fc.integer({ min: 6, max: 14 }),
          length: fc.integer({ min: 1, max: 8 }),
        }),
      ),
    });
    fc.assert(
      fc.property(scene, (s) => {
        const base = baseContext();
        const now = Date.parse(NOW) + s.minutesFromNow * 60_000;
        const hhmm = (h: number) => `${String(Math.min(h, 23)).padStart(2, '0')}:00`;
        const context: DecisionContext = {
          ...base,
          now: new Date(now).toISOString(),
          hcp: { ...base.hcp, timeZone: s.zone },
          preferences: s.window
            ? {
                contactWindows: [
                  {
                    days: s.window.days,
                    start: hhmm(s.window.start),
                    end: hhmm(s.window.start + s.window.length),
                  },
                ],
              }
            : null,
          hcpMessages: s.previous.map((m, i) =>
            sent(new Date(now + m * 60_000).toISOString(), {
              templateKey: s.sameTemplate[i] ? CONFIRMATION.key : `other${i}`,
            }),
          ),
        };
        const request = baseRequest();
        const decision = decide(request, context);
        if (decision.nextAllowedAt === undefined) return;
        const next = Date.parse(decision.nextAllowedAt);
        expect(next).toBeGreaterThanOrEqual(now);
        expect(decide(request, { ...context, now: decision.nextAllowedAt }).outcome).toBe('allow');
        if (next - 60_000 >= now)
          expect(decide(request, { ...context, now: new Date(next - 60_000).toISOString() }).outcome).toBe(
            'deny',
          );
      }),
      { numRuns: 1000 },
    );
  });

  it('holds the caps under any interleaving of reps, times and scheduled sends', () => {
    // Quiet hours off, so that caps alone decide and most attempts are close calls.
    const rulebook = shippedRulebook({ quiet_hours: { enabled: false } });
    const attempt = fc.record({
      rep: fc.constantFrom('usr_rep1', 'usr_rep2'),
      advanceMinutes: fc.integer({ min: 0, max: 36 * 60 }),
      scheduleMinutes: fc.option(fc.integer({ min: 1, max: 6 * 24 * 60 })),
    });
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: 25 }), (attempts) => {
        let now = Date.parse(NOW);
        const messages: RecentMessage[] = [];
        for (const a of attempts) {
          now += a.advanceMinutes * 60_000;
          const sendAt =
            a.scheduleMinutes === null ? undefined : new Date(now + a.scheduleMinutes * 60_000).toISOString();
          const context = baseContext({
            rulebook,
            now: new Date(now).toISOString(),
            // Every send reserves its slot; templates differ so duplicates do not interfere.
            hcpMessages: messages,
            repMessages: messages.filter((m) => m.repId === a.rep),
          });
          const request = baseRequest({ repId: a.rep, ...(sendAt ? { sendAt } : {}) });
          const decision = decide(request, context);
          if (decision.outcome === 'allow')
            messages.push(
              sent(sendAt ?? new Date(now).toISOString(), {
                repId: a.rep,
                status: sendAt ? 'scheduled' : 'queued',
                templateKey: `t${messages.length}`,
              }),
            );
        }
        const times = messages.map((m) => Date.parse(m.at)).sort((x, y) => x - y);
        for (const start of times) {
          const inWeek = times.filter((t) => t >= start && t < start + 168 * HOUR).length;
          expect(inWeek).toBeLessThanOrEqual(2);
        }
        const days = times.map((t) => DateTime.fromMillis(t, { zone: 'America/Sao_Paulo' }).toISODate());
        expect(new Set(days).size).toBe(days.length);
      }),
      { numRuns: 300 },
    );
  });

  it('decides the same on the rep messages a snapshot keeps as on the whole 48-hour read', () => {
    // A low rep cap, so that the rep's history decides often; quiet hours off, so that it is reached.
    const rulebook = shippedRulebook({
      quiet_hours: { enabled: false },
      frequency: { per_rep: { rolling_hours: 24, max_in_rolling: 3 } },
    });
    const repMessage = fc.record({
      hoursFromNow: fc.integer({ min: -48, max: 36 }),
      status: fc.constantFrom('queued', 'scheduled', 'sent', 'read', 'failed', 'cancelled', 'pending_review'),
      kind: fc.constantFrom('rep' as const, 'reply_in_window' as const, 'opt_out_confirmation' as const),
    });
    fc.assert(
      fc.property(
        fc.array(repMessage, { maxLength: 12 }),
        fc.option(fc.integer({ min: 1, max: 48 * 60 })),
        (history, scheduleMinutes) => {
          const now = Date.parse(NOW);
          const context = baseContext({
            rulebook,
            repMessages: history.map((m) =>
              sent(new Date(now + m.hoursFromNow * HOUR).toISOString(), {
                repId: 'usr_rep1',
                status: m.status,
                kind: m.kind,
              }),
            ),
          });
          const sendAt =
            scheduleMinutes === null ? undefined : new Date(now + scheduleMinutes * 60_000).toISOString();
          const request = baseRequest({ repId: 'usr_rep1', ...(sendAt ? { sendAt } : {}) });
          const kept = repMessagesInCap(context);
          expect(kept.length).toBeLessThanOrEqual(context.repMessages.length);
          expect(decide(request, { ...context, repMessages: kept })).toEqual(decide(request, context));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
