import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../test-support/index.js';
import { drainWithCompetingWorkers } from './outbox-drain.test-support.js';

/**
 * RELIABILITY 15 in the default run: four competing worker sets drain the outbox through the stand-in over
 * HTTP — every message sent exactly once, every row settled once. `npm run bench -- outbox-drain` runs the
 * full 10,000 on both dialects and reports the rate.
 */
const N = { sqlite: 10_000, postgres: 2000 } as const;

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
  }, 180_000);
});
