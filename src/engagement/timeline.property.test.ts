import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHcp } from '../hcps/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { replyFigures, replyTimes } from './analytics-figures.js';
import { recordInteraction } from './interactions.store.js';
import { listTimeline } from './timeline.store.js';

describe('reply figures, for any conversation', () => {
  it('never count more replies than delivered messages, nor a rate without a basis', () => {
    const moment = fc.record({
      hcpId: fc.constantFrom('a', 'b', 'c'),
      direction: fc.constantFrom('inbound' as const, 'outbound' as const),
      at: fc
        .integer({ min: 0, max: 30 * 86_400 })
        .map((s) => new Date(Date.UTC(2026, 1, 1) + s * 1000).toISOString()),
      status: fc.constantFrom('sent', 'delivered', 'read', 'failed', 'received'),
    });
    fc.assert(
      fc.property(fc.array(moment, { maxLength: 40 }), (moments) => {
        const messages = moments.map((m, i) => ({ ...m, id: `m${i}` }));
        const answered = replyTimes(messages);
        const f = replyFigures(
          messages
            .filter((m) => m.direction === 'outbound')
            .map((m) => ({ status: m.status, at: m.at, repliedAt: answered.get(m.id) ?? null })),
        );
        expect(f.replied).toBeLessThanOrEqual(f.delivered);
        expect(f.replyRate === null).toBe(f.delivered === 0);
        expect(f.medianMinutesToReply === null).toBe(f.replied === 0);
        if (f.medianMinutesToReply !== null) expect(f.medianMinutesToReply).toBeLessThanOrEqual(7 * 24 * 60);
      }),
    );
  });
});

describe.each(DIALECTS)('timeline paging on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('returns every row exactly once, newest first, for any rows and any page size', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        // Few distinct moments, so many rows tie and the id decides.
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 25 }),
        fc.integer({ min: 1, max: 7 }),
        async (minutes, limit) => {
          const hcp = await createHcp(p.context.db, p.context, null, {
            name: `Prop ${run}`,
            market: 'BR',
            language: 'pt-BR',
            timeZone: 'America/Sao_Paulo',
            territoryIds: [],
          });
          run++;
          for (const [i, m] of minutes.entries()) {
            await recordInteraction(p.context.db, p.context, {
              hcpId: hcp.id,
              channel: 'phone',
              direction: 'outbound',
              kind: 'call',
              occurredAt: new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString(),
              source: 'prop',
              externalId: `${hcp.id}-${i}`,
            });
          }
          const seen: string[] = [];
          let cursor: string | undefined;
          for (;;) {
            const page = await listTimeline(p.context.db, hcp.id, { limit, cursor });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            seen.push(...page.items.map((i) => `${i.occurredAt}|${i.id}`));
            if (!page.nextCursor) break;
            cursor = page.nextCursor;
          }
          expect(seen).toHaveLength(minutes.length);
          expect(new Set(seen).size).toBe(minutes.length);
          expect(seen).toEqual([...seen].sort().reverse());
        },
      ),
      { numRuns: 25 },
    );
  });
});
