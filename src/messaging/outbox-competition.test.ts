import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../test-support/index.js';
import { drainWithCompetingWorkers } from './outbox-drain.test-support.js';

/**
 * RELIABILITY 15 in the default run (2,000 rows on SQLite, 1,000 on PostgreSQL: 10,000 took 33 s on an idle
 * machine and 82 s under the shared load, past the minute a default run can spend): four competing worker
 * sets drain the outbox through the stand-in over
 * HTTP — every message sent exactly once, every row settled once. `npm run bench -- outbox-drain` runs the
 * full 10,000 on both dialects and reports the rate.
 */
const N = { sqlite: 2000, postgres: 1000 } as const;

describe.each(DIALECTS)('four competing outbox worker sets on %s', (dialect) => {
  it(`drain ${N[dialect]} queued messages: as many sends, as many distinct messages and wamids, none twice`, async () => {
    const n = N[dialect];
    const r = await drainWithCompetingWorkers({ dialect, n, workerSets: 4 });
    expect(r).toMatchObject({
      sends: n,
      distinctMessages: n,
      distinctWamids: n,
      messagesSent: n,
      outboxDone: n,
      maxAttempts: 1,
      sendingMarks: n,
    });
  }, 120_000);
});
