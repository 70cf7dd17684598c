import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, queryPlan, startTestParley, type TestParley } from '../test-support/index.js';
import { recentLedgerEntries } from './consent-follow-ups.js';

/**
 * The outbox workers look for the day's opt-outs and opt-ins before every round. The look-up must search
 * the ledger by recording time: by channel and status (consent_entries_status, migration 0028) it walks
 * every grant ever recorded, and on SQLite that held the one connection for 45 ms a round on the 10M world,
 * the slowest percentile of every route.
 */
describe.each(DIALECTS)('the consent follow-ups look-up plan on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    await p.context.db.executeQuery(CompiledQuery.raw('analyze', []));
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it.each([
    ['opt-outs', { status: 'withdrawn', source: 'whatsapp_reply' }],
    ['opt-ins', { status: 'granted', source: 'double_opt_in' }],
  ] as const)('searches the %s of the last day by recording time', async (_name, spec) => {
    const plan = await queryPlan(
      p.context.db,
      recentLedgerEntries(p.context.db, spec, '2026-03-01T00:00:00.000Z'),
    );
    expect(plan).not.toMatch(/consent_entries_status/);
    // PostgreSQL plans by its statistics: on a test world's few rows a scan of the table is as good.
    if (dialect === 'sqlite') expect(plan).toMatch(/consent_entries_recorded/);
  });
});
