import type { Db } from '../platform/database/index.js';

/**
 * `db` with `race` run once, as soon as the first statement that reads `table` has its rows and before
 * they are handed back: what another connection might do between two statements of a read, made
 * certain rather than hoped for. Give it a connection of its own (`openTestStore` with `sameAs` and one
 * connection), so that `race`'s own statements do not queue behind the read. `raced()` settles with
 * `race`'s result, or undefined if no statement read `table`.
 */
export function racingAfterFirstRead<T>(
  db: Db,
  table: string,
  race: () => Promise<T>,
): { db: Db; raced: () => Promise<T | undefined> } {
  const reads = new Set<unknown>();
  let running: Promise<T> | undefined;
  return {
    db: db.withPlugin({
      transformQuery(args) {
        if (JSON.stringify(args.node).includes(JSON.stringify(table))) reads.add(args.queryId);
        return args.node;
      },
      async transformResult(args) {
        if (reads.has(args.queryId)) await (running ??= race());
        return args.result;
      },
    }),
    raced: async () => (running ? await running : undefined),
  };
}
