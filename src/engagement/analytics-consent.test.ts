import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextHcpSeqs } from '../hcps/index.js';
import { bareHcpRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { purposesGrantedAt, type LedgerEntry } from './analytics-figures.js';
import { grantsInForce } from './analytics.store.js';

/**
 * The consent report counts, per purpose, the HCPs holding a WhatsApp grant in force at the end of the
 * period. The database folds the ledgers (`grantsInForce`); `purposesGrantedAt` is the same fold in
 * JavaScript, the one the rest of Parley shares. For any ledgers, both must count the same: ties of
 * capture time (the more restrictive entry wins, then the id), entries recorded after the moment asked
 * about, expiries before and after it, other channels. The entries go in as any writer's do, so the
 * ledgers' winners kept by trigger (migration 0021) are built as in use: `grantsInForce` counts them when
 * the moment asked about is after all of them, and folds the ledgers otherwise; both are exercised.
 */

const PURPOSES = ['promotional', 'non_promotional', 'service', 'medical_information', 'events'] as const;
const STATUSES = ['pending', 'granted', 'refused', 'withdrawn'] as const;
const I = (n: number) => new Date(Date.UTC(2026, 0, 1 + n, 9)).toISOString();
/** A few instants only, so that ties are common. */
const instant = fc.integer({ min: 0, max: 3 }).map(I);
/** An entry of HCP 0 for `service`, captured at the first instant. */
const tied = (status: (typeof STATUSES)[number], idKey: string, expiresAt: string | null) => ({
  hcp: 0,
  channel: 'whatsapp',
  purpose: 'service',
  status,
  capturedAt: I(0),
  recordedLater: 0,
  expiresAt,
  idKey,
});

const entry = fc.record({
  hcp: fc.integer({ min: 0, max: 1 }),
  channel: fc.constantFrom('whatsapp', 'whatsapp', 'whatsapp', 'email'),
  // Two purposes mostly, so that one HCP's entries for one purpose often share a capture time.
  purpose: fc.constantFrom('promotional', 'service', 'service', 'promotional', ...PURPOSES),
  status: fc.constantFrom(...STATUSES),
  capturedAt: instant,
  recordedLater: fc.integer({ min: 0, max: 3 }),
  expiresAt: fc.option(instant, { nil: null }),
  // Ids in any order against capture time, so that the id tie-break is exercised both ways.
  idKey: fc.integer({ min: 0, max: 0xffffff }).map((n) => n.toString(16).padStart(6, '0')),
});

describe.each(DIALECTS)('WhatsApp grants in force, folded by the database, on %s', (dialect) => {
  let p: TestParley;
  let run = 0;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('counts per purpose what purposesGrantedAt gives for each ledger', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 25 }), instant, async (entries, at) => {
        run++;
        const db = p.context.db;
        const hcpIds = [0, 1].map((n) => `hcp_fold_${run}_${n}`);
        const seqs = await nextHcpSeqs(db, hcpIds.length);
        await db
          .insertInto('hcps')
          .values(
            hcpIds.map((id, i) => ({
              ...bareHcpRow({ id, crmId: `CRM-FOLD-${run}-${i}`, at: '2026-01-01T00:00:00.000Z' }),
              seq: seqs[i]!,
            })),
          )
          .execute();
        const ledger: (LedgerEntry & { hcpId: string })[] = entries.map((e, i) => ({
          id: `con_${e.idKey}_${run}_${String(i).padStart(2, '0')}`,
          hcpId: hcpIds[e.hcp]!,
          channel: e.channel,
          purpose: e.purpose,
          status: e.status,
          capturedAt: e.capturedAt,
          recordedAt: new Date(Date.parse(e.capturedAt) + e.recordedLater * 86_400_000).toISOString(),
          expiresAt: e.expiresAt,
        }));
        if (ledger.length > 0)
          await db
            .insertInto('consent_entries')
            .values(
              ledger.map((e) => ({
                id: e.id,
                hcp_id: e.hcpId,
                channel: e.channel as 'whatsapp' | 'email',
                purpose: e.purpose as (typeof PURPOSES)[number],
                status: e.status,
                source: 'crm_import' as const,
                captured_by: null,
                captured_at: e.capturedAt,
                evidence: 'form-1',
                wording_version: null,
                message_id: null,
                expires_at: e.expiresAt,
                recorded_at: e.recordedAt,
              })),
            )
            .execute();

        const expected = new Map<string, number>();
        for (const hcpId of hcpIds)
          for (const purpose of purposesGrantedAt(
            ledger.filter((e) => e.hcpId === hcpId),
            'whatsapp',
            at,
          ))
            expected.set(purpose, (expected.get(purpose) ?? 0) + 1);
        const counted = await grantsInForce(
          db,
          db.selectFrom('hcps').select('id').where('id', 'in', hcpIds),
          at,
        );
        expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(expected));
      }),
      {
        numRuns: 100,
        examples: [
          // A grant and a withdrawal captured at the same instant: the withdrawal is in force.
          [[tied('granted', 'ffffff', null), tied('withdrawn', '000000', null)], I(3)],
          // Two grants of one instant: the larger id is in force, and here it has expired.
          [[tied('granted', '000000', null), tied('granted', 'ffffff', I(1))], I(2)],
          [[tied('granted', 'ffffff', null), tied('granted', '000000', I(1))], I(2)],
        ],
      },
    );
  });
});
