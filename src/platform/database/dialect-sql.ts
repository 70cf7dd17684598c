import { PostgresAdapter, sql, type Expression, type SelectQueryBuilder } from 'kysely';
import type { Dialect, DbOrTx } from './connect.js';
import type { Database } from './tables.js';

/**
 * The few places where SQLite and PostgreSQL differ, kept here so no other folder writes dialect SQL.
 */

/** True when the store (or the transaction) speaks PostgreSQL, for SQL that must differ by dialect. */
export function isPostgres(db: DbOrTx): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * A text column ordered by its bytes, as JavaScript compares strings: PostgreSQL would otherwise order it
 * by the database's locale; SQLite's default collation already compares bytes.
 */
export function byteOrder(db: DbOrTx, column: Expression<string>) {
  return isPostgres(db) ? sql`${column} collate "C"` : sql`${column}`;
}

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

/**
 * Runs `read` on a view of the store as of one moment, for reads of several statements whose later ones
 * are steered by what an earlier one found (the listed timeline chunks, then the rows under them). On
 * PostgreSQL a read-only transaction at `repeatable read`: every statement sees the snapshot the first
 * took (its default, `read committed`, takes one a statement). On SQLite a deferred transaction, one
 * snapshot in WAL mode from its first read, that takes no lock a writer waits for (the store's own
 * transactions begin immediate, taking the write lock: connect.ts); it holds the store's one connection
 * meanwhile, so keep `read` short. Inside a transaction already, `read` runs in it: its isolation decides.
 */
export async function readAsOfOneMoment<T>(db: DbOrTx, read: (snapshot: DbOrTx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return read(db);
  if (isPostgres(db))
    return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read);
  return db.connection().execute(async (connection) => {
    await sql`begin deferred`.execute(connection);
    try {
      const result = await read(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
  });
}

/** Case-insensitive "contains" for search boxes. */
export function ilike(dialect: Dialect, column: string, needle: string) {
  const pattern = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return dialect === 'postgres'
    ? sql<boolean>`${sql.ref(column)} ilike ${pattern} escape '\\'`
    : sql<boolean>`${sql.ref(column)} like ${pattern} escape '\\'`; // SQLite's LIKE ignores ASCII case
}

/**
 * `count` new values of an integer key that PostgreSQL generates (an identity column) and Parley assigns on
 * SQLite, in ascending order. PostgreSQL takes them from the column's sequence, so concurrent writers never
 * collide (another writer's values may fall between them). SQLite has one writer: the values follow the
 * highest stored one, consecutively, so the caller must be inside the transaction that inserts them. A
 * value is never handed out twice as long as rows of the table are not deleted (HCPs never are).
 */
export async function nextIdentityValues(
  db: DbOrTx,
  table: 'hcps',
  column: 'seq',
  count: number,
): Promise<number[]> {
  if (count <= 0) return [];
  if (isPostgres(db)) {
    const { rows } = await sql<{
      value: number;
    }>`select nextval(pg_get_serial_sequence(${table}, ${column}))::integer
        as value from generate_series(1, ${count}) order by 1`.execute(db);
    return rows.map((r) => r.value);
  }
  const { rows } = await sql<{ top: number | null }>`select max(${sql.ref(column)}) as top from ${sql.table(
    table,
  )}`.execute(db);
  const first = (rows[0]?.top ?? 0) + 1;
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * Milliseconds from one stored instant to another (both ISO-8601 text, as every writer stores them),
 * rounded to a whole millisecond: SQLite counts in Julian days (a double, exact to about 0.1 ms here).
 */
export function millisBetween(db: DbOrTx, from: Expression<string>, to: Expression<string>) {
  return isPostgres(db)
    ? sql<number>`round(extract(epoch from (${to}::timestamptz - ${from}::timestamptz)) * 1000)`
    : sql<number>`cast(round((julianday(${to}) - julianday(${from})) * 86400000) as integer)`;
}

/**
 * The week a stored instant's UTC day falls in, counted in whole weeks from Monday 1970-01-05: weeks run
 * Monday to Sunday, as ISO weeks do, so two instants share a number exactly when they share an ISO week.
 */
export function mondayWeekOf(db: DbOrTx, at: Expression<string>) {
  return isPostgres(db)
    ? sql<number>`((substr(${at}, 1, 10)::date - date '1970-01-05') / 7)`
    : sql<number>`cast((julianday(substr(${at}, 1, 10)) - julianday('1970-01-05')) / 7 as integer)`;
}

/**
 * `table as alias`, read through `index` on SQLite (INDEXED BY), for a query whose index SQLite's planner
 * picks wrongly one way with planner statistics and another way without (both occur: `parley seed`
 * gathers them, migrations add indexes it has none for). PostgreSQL plans by cost: the table as it is.
 * SQLite refuses the query if the index is gone, which the tests of its query would show.
 */
export function tableIndexedBy<T extends keyof Database & string, A extends string>(
  db: DbOrTx,
  table: T,
  alias: A,
  index: string,
) {
  const from = sql<Database[T]>`${sql.table(table)}`;
  return isPostgres(db) ? from.as(alias) : from.as<A>(sql`${sql.id(alias)} indexed by ${sql.id(index)}`);
}

/**
 * A column SQLite's planner must not search an index by (a unary `+`, its documented way to say so): for
 * a filter or grouping that an index on the column would serve worse than a covering index of the range
 * around it. PostgreSQL plans by cost and statistics alone: the column as it is.
 */
export function notSearchedBy<T>(db: DbOrTx, column: Expression<T>) {
  return isPostgres(db) ? sql<T>`${column}` : sql<T>`+${column}`;
}

/** How many rows meet `condition`, as an aggregate: a count in the same pass as the others. */
export function countWhere(condition: Expression<boolean>) {
  return sql<number>`sum(case when ${condition} then 1 else 0 end)`;
}

/**
 * The median of a numeric expression over a group (nulls left out; null for none), as analytics-figures.ts
 * `median` defines it: the mean of the two middle values for an even count. PostgreSQL's
 * `percentile_cont(0.5)` interpolates exactly so; SQLite's `median()` is the same function (its percentile
 * extension, built into the SQLite that better-sqlite3 bundles).
 */
export function medianOf(db: DbOrTx, value: Expression<number | null>) {
  return isPostgres(db)
    ? sql<number | null>`percentile_cont(0.5) within group (order by ${value})`
    : sql<number | null>`median(${value})`;
}

/**
 * Whether a comma-separated list (no spaces, as `policy_decisions.reason_codes` is stored) holds `item`
 * as a whole entry: `rep_cap` is in `quiet_hours,rep_cap` and not in `other_rep_cap`. Searched for with
 * the commas around it, so no LIKE pattern (where `_` is a wildcard) is involved.
 */
export function inCommaList(db: DbOrTx, list: Expression<string>, item: string) {
  const needle = `,${item},`;
  return isPostgres(db)
    ? sql<boolean>`strpos(',' || ${list} || ',', ${needle}) > 0`
    : sql<boolean>`instr(',' || ${list} || ',', ${needle}) > 0`;
}

/**
 * Whether a JSON array of Parley ids (as `asset_ids_json` is stored) holds the id `item`: its quoted form
 * is in the text. Exact for ids, which hold no quote or backslash: within a JSON string such a character
 * is escaped, so a quoted id only ever matches a whole element.
 */
export function inJsonIdList(db: DbOrTx, list: Expression<string>, item: Expression<string>) {
  return isPostgres(db)
    ? sql<boolean>`strpos(${list}, '"' || ${item} || '"') > 0`
    : sql<boolean>`instr(${list}, '"' || ${item} || '"') > 0`;
}

/** Keys bound in one `in (…)` list: well inside either store's limit (SQLite 32,766, PostgreSQL 65,535). */
export const KEYS_PER_STATEMENT = 5_000;

/**
 * `write` over `items` a few hundred at a time, one statement each, one after the other (within the
 * caller's transaction, if any): a multi-row insert binds a parameter per column of each row, and a list
 * of ids to delete a parameter each, so a batch of any size stays well inside the stores' limits.
 */
export async function writeInChunks<T>(
  items: readonly T[],
  write: (chunk: T[]) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += ROWS_PER_WRITE) await write(items.slice(i, i + ROWS_PER_WRITE));
}
const ROWS_PER_WRITE = 500;

/**
 * `read` over `keys` a statement's worth at a time, the rows put together: a list of keys as long as an
 * import batch (which the caller may size) would otherwise exceed the store's bound-parameter limit.
 */
export async function readInChunks<K, R>(
  keys: readonly K[],
  read: (chunk: K[]) => Promise<readonly R[]>,
): Promise<R[]> {
  const rows: R[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_STATEMENT)
    rows.push(...(await read(keys.slice(i, i + KEYS_PER_STATEMENT))));
  return rows;
}
