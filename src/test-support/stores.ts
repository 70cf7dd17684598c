import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dropPostgresSchema,
  migrateToLatest,
  openStore,
  type Dialect,
  type Store,
} from '../platform/database/index.js';

/** Both dialects: every store test runs against each (no test is skipped for a missing database). */
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

/** PostgreSQL for tests: 127.0.0.1:5432, trust auth, database `test` (started by .ci/run). */
export const TEST_POSTGRES_URL =
  process.env.PARLEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestStore extends Store {
  /** The URL the store was opened from (with the schema, for PostgreSQL, in `schema`). */
  readonly url: string;
  readonly schema?: string;
  /** Closes the store and throws its data away. */
  destroy(): Promise<void>;
}

/**
 * A fresh, migrated store: a temp SQLite file, or a PostgreSQL schema of its own. With `sameAs`, a second
 * store (its own connections: another "instance") on that store's data; its `destroy` only closes it.
 */
export async function openTestStore(
  dialect: Dialect,
  options: { maxConnections?: number; sameAs?: TestStore } = {},
): Promise<TestStore> {
  const { sameAs } = options;
  if (sameAs) {
    const store = await openStore(sameAs.url, {
      ...(sameAs.schema ? { schema: sameAs.schema } : {}),
      maxConnections: options.maxConnections ?? 8,
    });
    return { ...store, url: sameAs.url, schema: sameAs.schema, destroy: () => store.close() };
  }
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'parley-test-'));
    const url = `sqlite:${join(dir, 'parley.db')}`;
    const store = await openStore(url);
    await migrateToLatest(store.db);
    return {
      ...store,
      url,
      async destroy() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const store = await openStore(TEST_POSTGRES_URL, { schema, maxConnections: options.maxConnections ?? 8 });
  await migrateToLatest(store.db);
  return {
    ...store,
    url: TEST_POSTGRES_URL,
    schema,
    async destroy() {
      await store.close();
      await dropPostgresSchema(TEST_POSTGRES_URL, schema);
    },
  };
}
