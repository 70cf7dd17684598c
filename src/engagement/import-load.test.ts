import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestParley, TEST_APP_SECRET, type TestParley } from '../test-support/index.js';
import { signWebhookBody } from '../whatsapp/index.js';
import { runImport } from './import.store.js';

const ROWS = 20_000;

/** A Meta status delivery for a message Parley does not know: stored and acknowledged like any other. */
function statusDelivery(n: number): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              statuses: [
                {
                  id: `wamid.LOAD${n}`,
                  status: 'delivered',
                  timestamp: '1751142888',
                  recipient_id: '5511987654321',
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

describe.each(DIALECTS)('a large import on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  /** `n` JSON Lines calls of `source`, one a minute from `start`, spread over the world's HCPs. */
  const callLines = (n: number, source: string, start: number) => {
    const hcps = Object.values(p.world.hcps).map((h) => h.crmId);
    return Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        source,
        externalId: `${source}-${i}`,
        hcpCrmId: hcps[i % hcps.length],
        channel: 'phone',
        kind: 'call',
        direction: 'outbound',
        occurredAt: new Date(start + i * 60_000).toISOString(),
        topics: [source],
      }),
    );
  };

  it(`leaves webhooks acknowledged within budget while ${ROWS} rows are imported`, async () => {
    const lines = callLines(ROWS, 'load', Date.UTC(2025, 0, 1));
    let importing = true;
    const importDone = runImport(p.context, {
      kind: 'interactions',
      format: 'jsonl',
      input: Readable.from(lines.map((l) => `${l}\n`)),
      fileName: 'load.jsonl',
      actor: null,
    }).finally(() => {
      importing = false;
    });
    const latencies: number[] = [];
    const statuses: number[] = [];
    let n = 0;
    while (importing) {
      const body = statusDelivery(n++);
      const started = performance.now();
      const res = await p.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signWebhookBody(body, TEST_APP_SECRET),
        },
        payload: body,
      });
      latencies.push(performance.now() - started);
      statuses.push(res.statusCode);
      // A short pause: the import takes about a second here, and the count below must not depend on it.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const summary = await importDone;
    expect(summary).toMatchObject({ status: 'applied', inserted: ROWS });
    expect(latencies.length).toBeGreaterThan(5);
    expect(statuses.every((s) => s === 200)).toBe(true);
    // RELIABILITY: the default run asserts behaviour, not time (a shared machine's load decides times):
    // every delivery acknowledged and stored, none waiting out SQLite's 5 s busy timeout. The figures
    // (median, max) are measured by `npm run bench -- engagement`. On PostgreSQL the apply step takes row
    // locks only; on SQLite it holds the single writer (and, in process, the connection) for its length:
    // see docs/crm-mapping.md, "Known limit".
    expect(Math.max(...latencies)).toBeLessThan(5000);
    const stored = await p.context.db.selectFrom('webhook_inbox').select('id').execute();
    expect(stored.length).toBe(n);
  }, 120_000);

  it('takes a batch larger than a statement may bind (SQLite: 32,766 values)', async () => {
    const lines = callLines(40_000, 'wide', Date.UTC(2025, 6, 1));
    const once = () =>
      runImport(p.context, {
        kind: 'interactions',
        format: 'jsonl',
        input: Readable.from(lines.map((l) => `${l}\n`)),
        fileName: 'wide.jsonl',
        actor: null,
        batchSize: 40_000,
      });
    expect(await once()).toMatchObject({ status: 'applied', inserted: 40_000 });
    // Again: every line now found stored, in one batch.
    expect(await once()).toMatchObject({ status: 'applied', inserted: 0, unchanged: 40_000 });
  }, 120_000);
});
