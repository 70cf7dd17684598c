import type { CompiledQuery, Kysely } from 'kysely';
import type { DbOrTx } from './connect.js';
import type { Database } from './tables.js';

/**
 * A query Kysely builds and compiles once per store and per shape of its arguments, then runs with new
 * values: for the few statements a hot request runs every time (a policy check runs sixteen). Building
 * and compiling a query costs about as much as SQLite's own work on a key look-up, and the garbage it
 * leaves is most of a request's; the query itself is still written with Kysely's typed builder.
 *
 * `build` receives the arguments as placeholders and must use them as values only (`where(col, '=', $.id)`,
 * `in` lists, inserted values). It runs again for another shape: an argument that is `undefined` stays
 * `undefined` in `build` (so `$if($.x !== undefined, …)` picks the variant), and an array argument becomes
 * that many placeholders (so `in` lists compile with the right number of parameters).
 */
export function preparedQuery<Args extends Record<string, unknown>, Row>(
  build: (db: Kysely<Database>, $: Args) => { compile(): CompiledQuery<Row> },
): PreparedQuery<Args, Row> {
  const compiledByStore = new WeakMap<object, Map<string, CompiledQuery<Row>>>();

  function compiledFor(db: DbOrTx, args: Args): CompiledQuery<Row> {
    // The adapter stands for the store: one per Kysely instance, shared by its transactions.
    const adapter = db.getExecutor().adapter;
    let byShape = compiledByStore.get(adapter);
    if (!byShape) compiledByStore.set(adapter, (byShape = new Map()));
    const shape = shapeOf(args);
    let compiled = byShape.get(shape);
    if (!compiled) {
      const { placeholders, read } = placeholdersFor(args);
      compiled = build(db as Kysely<Database>, placeholders).compile();
      assertEveryReadArgumentBound(compiled, args, read);
      byShape.set(shape, compiled);
    }
    return compiled;
  }

  async function run(db: DbOrTx, args: Args) {
    // A Kysely with plugins rewrites each query as it is compiled (and the rewrite may depend on the values):
    // there the query is built with the values, as any other query would be.
    if (db.getExecutor().plugins.length > 0)
      return db.executeQuery<Row>(build(db as Kysely<Database>, args).compile());
    const compiled = compiledFor(db, args);
    const parameters = compiled.parameters.map((p) => (p instanceof Placeholder ? p.valueIn(args) : p));
    return db.executeQuery<Row>({ ...compiled, parameters });
  }

  return {
    async all(db, args) {
      return (await run(db, args)).rows;
    },
    async first(db, args) {
      return (await run(db, args)).rows[0];
    },
    async execute(db, args) {
      const result = await run(db, args);
      return { rows: result.rows, affected: Number(result.numAffectedRows ?? 0n) };
    },
  };
}

export interface PreparedQuery<Args, Row> {
  all(db: DbOrTx, args: Args): Promise<Row[]>;
  first(db: DbOrTx, args: Args): Promise<Row | undefined>;
  /** For writes: the rows returned (if any) and how many rows the statement changed. */
  execute(db: DbOrTx, args: Args): Promise<{ rows: Row[]; affected: number }>;
}

/** Stands in for an argument (or one element of an array argument) while the query is compiled. */
class Placeholder {
  constructor(
    readonly name: string,
    readonly index?: number,
  ) {}

  valueIn(args: Record<string, unknown>): unknown {
    const value = args[this.name];
    return this.index === undefined ? value : (value as unknown[])[this.index];
  }
}

/** Which variant of the query these arguments need: undefined or not, and each array's length. */
function shapeOf(args: Record<string, unknown>): string {
  let shape = '';
  for (const name of Object.keys(args).sort()) {
    const value = args[name];
    shape += `${name}:${value === undefined ? 'u' : Array.isArray(value) ? value.length : 'v'};`;
  }
  return shape;
}

/** The placeholders `build` receives, and the names it has read (see `assertEveryReadArgumentBound`). */
function placeholdersFor<Args extends Record<string, unknown>>(
  args: Args,
): { placeholders: Args; read: Set<string> } {
  const read = new Set<string>();
  const placeholders: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    const placeholder =
      value === undefined
        ? undefined
        : Array.isArray(value)
          ? value.map((_, i) => new Placeholder(name, i))
          : new Placeholder(name);
    Object.defineProperty(placeholders, name, {
      enumerable: true,
      get() {
        read.add(name);
        return placeholder;
      },
    });
  }
  return { placeholders: placeholders as Args, read };
}

/**
 * An argument that `build` read but did not bind as a value was used as something else (a table name, an
 * inlined literal, a condition in JavaScript): it would be compiled in with its first value and silently
 * reused for every other. Refuse it. (An argument `build` never reads is merely unused: a query whose
 * condition does not need it, such as a scoping rule for a role that sees every HCP.)
 */
function assertEveryReadArgumentBound(
  compiled: CompiledQuery,
  args: Record<string, unknown>,
  read: ReadonlySet<string>,
): void {
  const bound = new Set(
    compiled.parameters.filter((p): p is Placeholder => p instanceof Placeholder).map((p) => p.name),
  );
  for (const name of read) {
    const value = args[name];
    const bindable = value !== undefined && !(Array.isArray(value) && value.length === 0);
    if (bindable && !bound.has(name))
      throw new Error(`prepared query: argument "${name}" is not used as a value of the query`);
  }
}
