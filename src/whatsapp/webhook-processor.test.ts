import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestParley, type TestParley } from '../test-support/index.js';
import { envelope, postWebhook, processorOf, textMessage } from './webhook-fixtures.test-support.js';

const ANA = '5511987654321';

/**
 * On SQLite every query answers synchronously, so a processor that drained its backlog in one chain of
 * awaits would hold the event loop until the inbox was empty, and Meta's next deliveries (and every other
 * request) with it. This checks the order of events, not a duration: a request that arrives while a large
 * backlog is being processed is answered before the backlog is done.
 */
describe('the webhook processor on sqlite', () => {
  let p: TestParley;
  let base: string;
  beforeAll(async () => {
    p = await startTestParley('sqlite');
    base = await p.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await p?.destroy();
  });

  const pending = async () =>
    (await p.context.db.selectFrom('webhook_inbox').select('id').where('state', '=', 'pending').execute())
      .length;

  it('gives the event loop back while it works through a backlog, so requests are answered meanwhile', async () => {
    const processor = processorOf(p);
    processor.pause();
    await processor.drain();
    const backlog = 600;
    for (let i = 0; i < backlog; i++) {
      const body = JSON.stringify(envelope({ messages: [textMessage(ANA, `atraso ${i}`)] }));
      expect((await postWebhook(p, body)).statusCode).toBe(200);
    }
    expect(await pending()).toBe(backlog);

    processor.resume();
    // A real request over a socket: its answer needs the event loop to reach the I/O phase.
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    const stillPending = await pending();
    expect(stillPending).toBeGreaterThan(0);
    expect(stillPending).toBeLessThan(backlog + 1);

    await processor.drain();
    expect(await pending()).toBe(0);
  });
});
