import { sql, type SelectQueryBuilder } from 'kysely';
import type { Dialect } from './connect.js';

/**
 * The few places where SQLite and PostgreSQL differ, kept here so no other folder writes dialect SQL.
 */

/** True when an error is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as { code?: unknown; message?: unknown };
  return (
    e.code === '23505' || // PostgreSQL unique_violation
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * Row locks for claim-style reads: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so competing workers take
 * disjoint rows. SQLite has one writer at a time, so a transaction there is already exclusive.
 */
export function forUpdateSkipLocked<DB, TB extends keyof DB, O>(
  dialect: Dialect,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return dialect === 'postgres' ? query.forUpdate().skipLocked() : query;
}

/** `FOR UPDATE` on PostgreSQL (waits for the lock); a no-op on SQLite for the same reason as above. */
export function forUpdate<DB, TB extends keyof DB, O>(
  dialect: Dialect,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return dialect === 'postgres' ? query.forUpdate() : query;
}

/** Case-insensitive "contains" for search boxes. */
export function ilike(dialect: Dialect, column: string, needle: string) {
  const pattern = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return dialect === 'postgres'
    ? sql<boolean>`${sql.ref(column)} ilike ${pattern} escape '\\'`
    : sql<boolean>`${sql.ref(column)} like ${pattern} escape '\\'`; // SQLite's LIKE ignores ASCII case
}
