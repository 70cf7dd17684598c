import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPrincipal, type Role } from '../identity/index.js';
import { newId } from '../platform/crypto/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { createHcp, findVisibleHcp, listVisibleHcps } from './index.js';

/**
 * A random small world of territories, reps (each working some territories), one manager leading some of
 * the reps, and HCPs assigned to territories (some erased). The model below is the "Who sees what" table
 * written plainly; the property is that the store's scoping rule agrees with it for every role.
 */
const worldArb = fc.record({
  reps: fc.array(fc.subarray([0, 1, 2, 3]), { minLength: 1, maxLength: 3 }),
  led: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  hcps: fc.array(
    fc.record({ territories: fc.subarray([0, 1, 2, 3], { minLength: 1 }), erased: fc.boolean() }),
    { minLength: 1, maxLength: 6 },
  ),
});
type World = typeof worldArb extends fc.Arbitrary<infer W> ? W : never;

const overlaps = (a: readonly number[], b: readonly number[]) => a.some((t) => b.includes(t));

/** The model: indexes of the HCPs a viewer should see. */
function expectedVisible(world: World, viewer: { role: Role; rep?: number }): number[] {
  return world.hcps.flatMap((h, i) => {
    if (viewer.role === 'compliance') return [i];
    if (h.erased) return [];
    if (viewer.role === 'rep') return overlaps(h.territories, world.reps[viewer.rep!]!) ? [i] : [];
    if (viewer.role === 'manager')
      return world.reps.some((r, ri) => world.led[ri] && overlaps(h.territories, r)) ? [i] : [];
    return [];
  });
}

describe.each(DIALECTS)('the HCP scoping rule on %s (property)', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('shows every role exactly the HCPs the "Who sees what" table gives it', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { db } = p.context;
        const run = newId('run').slice(-10);
        const now = p.clock.now().toISOString();
        const territoryIds = [0, 1, 2, 3].map((t) => `ter_${run}_${t}`);
        await db
          .insertInto('territories')
          .values(territoryIds.map((id) => ({ id, name: id, market_code: 'BR' })))
          .execute();
        const user = async (key: string, role: Role, managerId: string | null) => {
          const id = `usr_${run}_${key}`;
          await db
            .insertInto('users')
            .values({
              id,
              email: `${key}.${run}@test.parley`,
              name: key,
              role,
              password_hash: 'x',
              manager_id: managerId,
              active: 1,
              created_at: now,
            })
            .execute();
          await db.insertInto('user_markets').values({ user_id: id, market_code: 'BR' }).execute();
          return id;
        };
        const managerId = await user('manager', 'manager', null);
        const complianceId = await user('compliance', 'compliance', null);
        const repIds: string[] = [];
        for (const [i, territories] of world.reps.entries()) {
          const id = await user(`rep${i}`, 'rep', world.led[i] ? managerId : null);
          if (territories.length)
            await db
              .insertInto('user_territories')
              .values(territories.map((t) => ({ user_id: id, territory_id: territoryIds[t]! })))
              .execute();
          repIds.push(id);
        }
        const hcpIds: string[] = [];
        for (const [i, h] of world.hcps.entries()) {
          const hcp = await createHcp(db, p.context, null, {
            crmId: `CRM-${run}-${i}`,
            name: `HCP ${run} ${i}`,
            market: 'BR',
            language: 'pt-BR',
            timeZone: 'America/Sao_Paulo',
            territoryIds: h.territories.map((t) => territoryIds[t]!),
          });
          if (h.erased)
            await db.updateTable('hcps').set({ erased_at: now }).where('id', '=', hcp.id).execute();
          hcpIds.push(hcp.id);
        }
        const viewers: Array<{ id: string; role: Role; rep?: number }> = [
          ...repIds.map((id, rep) => ({ id, role: 'rep' as const, rep })),
          { id: managerId, role: 'manager' },
          { id: complianceId, role: 'compliance' },
        ];
        for (const viewer of viewers) {
          const principal = await loadPrincipal(db, {
            id: viewer.id,
            email: `${viewer.id}@test.parley`,
            name: viewer.id,
            role: viewer.role,
            sessionId: 'ses_property',
          });
          const page = await listVisibleHcps(db, p.context, principal, { q: `HCP ${run}`, limit: 50 });
          const seen = page.items.map((h) => hcpIds.indexOf(h.id)).sort();
          const expected = expectedVisible(world, viewer);
          expect(seen, `${viewer.role} ${viewer.rep ?? ''}`).toEqual(expected);
          // The single-HCP door agrees with the list for each HCP of the run.
          for (const [i, hcpId] of hcpIds.entries()) {
            const found = await findVisibleHcp(db, p.context, principal, hcpId).then(
              () => true,
              () => false,
            );
            expect(found).toBe(expected.includes(i));
          }
        }
      }),
      { numRuns: 12 },
    );
  });
});
