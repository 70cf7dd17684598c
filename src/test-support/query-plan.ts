import { CompiledQuery, type Compilable } from 'kysely';
import { isPostgres, type DbOrTx } from '../platform/database/index.js';

/**
 * The store's plan for a query, one line a step: SQLite's `explain query plan` details, PostgreSQL's
 * `explain` lines. Plan tests match index names in it.
 */
export async function queryPlan(db: DbOrTx, query: Compilable<unknown>): Promise<string> {
  const compiled = query.compile();
  const explain = isPostgres(db) ? 'explain ' : 'explain query plan ';
  const { rows } = await db.executeQuery(CompiledQuery.raw(explain + compiled.sql, [...compiled.parameters]));
  return rows
    .map((r) =>
      String(
        (r as { detail?: string; 'QUERY PLAN'?: string }).detail ??
          (r as { 'QUERY PLAN'?: string })['QUERY PLAN'],
      ),
    )
    .join('\n');
}
