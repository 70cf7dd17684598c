import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { exportRecordPages, exportRecords } from './export.store.js';
import { recordInteraction } from './interactions.store.js';

describe.each(DIALECTS)('export paging on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('gives every record once, in (updatedAt, id) order, for any rows and any page size', async () => {
    let run = 0;
    const hcpIds = Object.values(p.world.hcps).map((h) => h.id);
    await fc.assert(
      fc.asyncProperty(
        // Rows written in a few clock steps, so many share `updated_at` and the id decides.
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 20 }),
        fc.integer({ min: 1, max: 6 }),
        async (steps, pageSize) => {
          run++;
          p.clock.advance(86_400_000);
          const since = p.clock.now().toISOString();
          const ids: string[] = [];
          for (const [i, step] of steps.entries()) {
            if (step === 0) p.clock.advance(1000);
            const created = await recordInteraction(p.context.db, p.context, {
              hcpId: hcpIds[i % hcpIds.length]!,
              channel: 'phone',
              direction: 'outbound',
              kind: 'call',
              occurredAt: since,
              source: 'export-prop',
              externalId: `${run}-${i}`,
            });
            ids.push(created.interaction.id);
          }
          const pages: string[][] = [];
          for await (const page of exportRecordPages(p.context.db, 'interactions', { since, pageSize })) {
            expect(page.length).toBeGreaterThan(0);
            expect(page.length).toBeLessThanOrEqual(pageSize);
            pages.push(page.map((r) => `${'updatedAt' in r ? r.updatedAt : ''}|${r.id}`));
          }
          const seen = pages.flat();
          expect(seen.map((k) => k.split('|')[1]).sort()).toEqual([...ids].sort());
          expect(seen).toEqual([...seen].sort());
          const flat: string[] = [];
          for await (const r of exportRecords(p.context.db, 'interactions', { since, pageSize }))
            flat.push(r.id);
          expect(flat).toEqual(seen.map((k) => k.split('|')[1]));
        },
      ),
      { numRuns: 20 },
    );
  });
});
