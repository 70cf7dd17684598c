import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
import type { Principal } from '../identity/index.js';
import type { Database } from '../platform/database/index.js';

/**
 * THE scoping rule: which HCPs a principal may see, as a condition on `hcps`. Every HCP-scoped read and
 * write goes through `visibleHcps` (hcps.store.ts), so this is the one place that implements the
 * "Who sees what" table of CONTRACT.md:
 * - rep: HCPs in the territories they work;
 * - manager: HCPs in the territories of the reps they lead (and any they work themselves);
 * - msl: HCPs of their own markets;
 * - pv: HCPs linked to a case (adverse events, complaints);
 * - compliance, admin: all;
 * - brand, medical, digital: none (aggregates only).
 * Erased HCPs are visible only to compliance and admin (who handle access requests and holds).
 */
export function hcpVisibility(principal: Pick<Principal, 'role' | 'id' | 'marketCodes'>) {
  return (eb: ExpressionBuilder<Database, 'hcps'>): Expression<SqlBool> => {
    const notErased = eb('hcps.erased_at', 'is', null);
    switch (principal.role) {
      case 'compliance':
      case 'admin':
        return sql<SqlBool>`1 = 1`;
      case 'rep':
        return eb.and([
          notErased,
          eb.exists(
            eb
              .selectFrom('hcp_territories')
              .innerJoin('user_territories', 'user_territories.territory_id', 'hcp_territories.territory_id')
              .select(sql`1`.as('one'))
              .whereRef('hcp_territories.hcp_id', '=', 'hcps.id')
              .where('user_territories.user_id', '=', principal.id),
          ),
        ]);
      case 'manager':
        return eb.and([
          notErased,
          eb.exists(
            eb
              .selectFrom('hcp_territories')
              .innerJoin('user_territories', 'user_territories.territory_id', 'hcp_territories.territory_id')
              .innerJoin('users', 'users.id', 'user_territories.user_id')
              .select(sql`1`.as('one'))
              .whereRef('hcp_territories.hcp_id', '=', 'hcps.id')
              .where((w) =>
                w.or([w('users.manager_id', '=', principal.id), w('users.id', '=', principal.id)]),
              ),
          ),
        ]);
      case 'msl':
        return principal.marketCodes.length === 0
          ? sql<SqlBool>`1 = 0`
          : eb.and([notErased, eb('hcps.market_code', 'in', [...principal.marketCodes])]);
      case 'pv':
        return eb.and([
          notErased,
          eb.exists(
            eb
              .selectFrom('cases')
              .select(sql`1`.as('one'))
              .whereRef('cases.hcp_id', '=', 'hcps.id'),
          ),
        ]);
      case 'brand':
      case 'medical':
      case 'digital':
        return sql<SqlBool>`1 = 0`;
    }
  };
}

/** Whether the role may see message bodies of the HCPs it sees (CONTRACT.md: admin sees HCPs, not bodies). */
export function canReadMessageBodies(principal: Principal): boolean {
  return (
    principal.role !== 'admin' &&
    principal.role !== 'brand' &&
    principal.role !== 'medical' &&
    principal.role !== 'digital'
  );
}
