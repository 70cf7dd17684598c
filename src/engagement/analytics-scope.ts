import { sql } from 'kysely';
import type { Principal } from '../identity/index.js';
import type { Db } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import type { AnalyticsFilters } from './analytics.store.js';

/**
 * Whose activity a principal may see in aggregate: a manager their team (reps they lead, and themselves);
 * brand, medical and digital their own markets; compliance everything.
 */
export interface Scope {
  repIds: string[] | null;
  markets: string[] | null;
}

export async function scopeOf(db: Db, principal: Principal, filters: AnalyticsFilters): Promise<Scope> {
  let repIds: string[] | null = null;
  if (principal.role === 'manager') {
    const team = await db.selectFrom('users').select('id').where('manager_id', '=', principal.id).execute();
    repIds = [principal.id, ...team.map((t) => t.id)];
  }
  if (filters.rep) {
    // A rep outside the caller's team is reported as unknown, never as an empty team.
    if (repIds && !repIds.includes(filters.rep)) throw new DomainError('not_found', 'rep not found');
    repIds = [filters.rep];
  }
  let markets: string[] | null =
    principal.role === 'brand' || principal.role === 'medical' || principal.role === 'digital'
      ? [...principal.marketCodes]
      : null;
  if (filters.market) markets = markets && !markets.includes(filters.market) ? [] : [filters.market];
  return { repIds, markets };
}

/** The interactions of the period in the caller's scope: markets through the HCP, reps by their own. */
export function scopedInteractions(db: Db, scope: Scope, f: Pick<AnalyticsFilters, 'from' | 'to'>) {
  let qb = db
    .selectFrom('visible_interactions as i')
    .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
    .where('i.occurred_at', '>=', f.from)
    .where('i.occurred_at', '<', f.to);
  if (scope.markets)
    qb = scope.markets.length
      ? qb.where('h.market_code', 'in', scope.markets)
      : qb.where(sql<boolean>`1 = 0`);
  if (scope.repIds) qb = qb.where('i.rep_id', 'in', scope.repIds);
  return qb;
}
