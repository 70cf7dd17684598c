import { Writable } from 'node:stream';
import { ManualClock } from '../platform/clock/index.js';
import { parseConfig, type Config } from '../platform/config/index.js';
import type { Dialect } from '../platform/database/index.js';
import { createLogger } from '../platform/logging/index.js';
import { createParley, type Parley } from '../parley.js';
import { openTestStore, type TestStore } from './stores.js';
import { buildTestWorld, type TestWorld } from './world.js';

export const TEST_APP_SECRET = 'test-app-secret-0123456789';

export interface TestParley extends Parley {
  readonly store: TestStore;
  readonly clock: ManualClock;
  readonly world: TestWorld;
  /** Every log line written, as text: tests assert that no personal data reaches the logs. */
  readonly logs: string[];
  /** Closes Parley and throws its store away. */
  destroy(): Promise<void>;
}

/**
 * A whole Parley on a fresh store of the given dialect, with a manual clock and the test world, for HTTP
 * tests through the real app (`app.inject`).
 */
export async function startTestParley(
  dialect: Dialect,
  options: { env?: Record<string, string>; clock?: ManualClock; world?: boolean } = {},
): Promise<TestParley> {
  const store = await openTestStore(dialect);
  const clock = options.clock ?? new ManualClock('2026-03-03T14:00:00.000Z');
  const config: Config = parseConfig({
    PARLEY_LOG_LEVEL: 'info',
    WHATSAPP_APP_SECRET: TEST_APP_SECRET,
    PARLEY_DEMO: '0',
    ...options.env,
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const parley = await createParley({ config, clock, logger, store });
  const world =
    options.world === false ? (undefined as unknown as TestWorld) : await buildTestWorld(parley.context);
  return {
    ...parley,
    store,
    clock,
    world,
    logs,
    async destroy() {
      await parley.close();
      await store.destroy();
    },
  };
}
