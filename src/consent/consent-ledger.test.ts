import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONSENT_CHANNELS,
  CONSENT_PURPOSES,
  checkStatement,
  consentBasisAt,
  currentConsent,
  foldConsent,
  type ConsentEntry,
  type EntryStatus,
} from './consent-ledger.js';

let seq = 0;
function entry(status: EntryStatus, capturedAt: string, extra: Partial<ConsentEntry> = {}): ConsentEntry {
  seq += 1;
  return {
    id: `con_${String(seq).padStart(4, '0')}`,
    hcpId: 'hcp_1',
    channel: 'whatsapp',
    purpose: 'promotional',
    status,
    source: 'written_form',
    capturedBy: 'usr_rep1',
    capturedAt,
    evidence: 'form-1',
    wordingVersion: null,
    messageId: null,
    expiresAt: null,
    recordedAt: capturedAt,
    ...extra,
  };
}

const NOW = new Date('2026-03-10T12:00:00.000Z');

describe('foldConsent', () => {
  it.each<[string, () => ConsentEntry[], string, string | null]>([
    ['is none when nothing is recorded', () => [], 'none', null],
    [
      'is granted after a grant',
      () => [entry('granted', '2026-03-01T10:00:00.000Z')],
      'granted',
      '2026-03-01T10:00:00.000Z',
    ],
    [
      'denies when a withdrawal is newer than the grant (a withdrawal newer than a grant wins)',
      () => [entry('granted', '2026-03-01T10:00:00.000Z'), entry('withdrawn', '2026-03-05T10:00:00.000Z')],
      'withdrawn',
      '2026-03-05T10:00:00.000Z',
    ],
    [
      'grants again when a grant is newer than the withdrawal',
      () => [entry('withdrawn', '2026-03-01T10:00:00.000Z'), entry('granted', '2026-03-05T10:00:00.000Z')],
      'granted',
      '2026-03-05T10:00:00.000Z',
    ],
    [
      'lets a withdrawal win over a grant captured at the same instant',
      () => [entry('withdrawn', '2026-03-05T10:00:00.000Z'), entry('granted', '2026-03-05T10:00:00.000Z')],
      'withdrawn',
      '2026-03-05T10:00:00.000Z',
    ],
    [
      'orders by capture, not by recording: a backdated form older than the withdrawal does not revive consent',
      () => [
        entry('withdrawn', '2026-03-05T10:00:00.000Z'),
        entry('granted', '2026-02-01T10:00:00.000Z', { recordedAt: '2026-03-09T10:00:00.000Z' }),
      ],
      'withdrawn',
      '2026-03-05T10:00:00.000Z',
    ],
    [
      'keeps a verbal grant pending until the HCP confirms',
      () => [entry('pending', '2026-03-01T10:00:00.000Z', { source: 'verbal' })],
      'pending',
      '2026-03-01T10:00:00.000Z',
    ],
    [
      'grants once a pending verbal grant is confirmed by double opt-in',
      () => [
        entry('pending', '2026-03-01T10:00:00.000Z', { source: 'verbal' }),
        entry('granted', '2026-03-02T10:00:00.000Z', { source: 'double_opt_in', evidence: 'wamid.X' }),
      ],
      'granted',
      '2026-03-02T10:00:00.000Z',
    ],
    [
      'is refused after a refusal',
      () => [entry('refused', '2026-03-01T10:00:00.000Z')],
      'refused',
      '2026-03-01T10:00:00.000Z',
    ],
    [
      'grants after a refusal when the HCP later agrees',
      () => [entry('refused', '2026-03-01T10:00:00.000Z'), entry('granted', '2026-03-04T10:00:00.000Z')],
      'granted',
      '2026-03-04T10:00:00.000Z',
    ],
    [
      'is expired once the expiry has passed',
      () => [entry('granted', '2026-01-01T00:00:00.000Z', { expiresAt: '2026-03-10T11:59:59.999Z' })],
      'expired',
      '2026-03-10T11:59:59.999Z',
    ],
    [
      'is expired exactly at the expiry instant',
      () => [entry('granted', '2026-01-01T00:00:00.000Z', { expiresAt: NOW.toISOString() })],
      'expired',
      NOW.toISOString(),
    ],
    [
      'is still granted one millisecond before the expiry',
      () => [entry('granted', '2026-01-01T00:00:00.000Z', { expiresAt: '2026-03-10T12:00:00.001Z' })],
      'granted',
      '2026-01-01T00:00:00.000Z',
    ],
    [
      'ignores an entry captured after now',
      () => [entry('granted', '2026-03-01T10:00:00.000Z'), entry('withdrawn', '2026-03-11T10:00:00.000Z')],
      'granted',
      '2026-03-01T10:00:00.000Z',
    ],
    [
      'ignores an entry recorded after now even when captured before',
      () => [
        entry('granted', '2026-03-01T10:00:00.000Z'),
        entry('withdrawn', '2026-03-02T10:00:00.000Z', { recordedAt: '2026-03-11T00:00:00.000Z' }),
      ],
      'granted',
      '2026-03-01T10:00:00.000Z',
    ],
    [
      'ignores other purposes and channels',
      () => [
        entry('granted', '2026-03-01T10:00:00.000Z'),
        entry('withdrawn', '2026-03-02T10:00:00.000Z', { purpose: 'service' }),
        entry('withdrawn', '2026-03-02T10:00:00.000Z', { channel: 'email' }),
      ],
      'granted',
      '2026-03-01T10:00:00.000Z',
    ],
  ])('%s', (_name, build, status, since) => {
    const result = foldConsent(build(), 'whatsapp', 'promotional', NOW);
    expect(result.status).toBe(status);
    expect(result.since).toBe(since);
  });

  it('lists every channel × purpose, none where nothing is recorded', () => {
    const all = currentConsent([entry('granted', '2026-03-01T10:00:00.000Z')], NOW);
    expect(all).toHaveLength(CONSENT_CHANNELS.length * CONSENT_PURPOSES.length);
    expect(all.filter((c) => c.status === 'granted')).toEqual([
      expect.objectContaining({ channel: 'whatsapp', purpose: 'promotional' }),
    ]);
    expect(all.filter((c) => c.status === 'none')).toHaveLength(all.length - 1);
  });
});

describe('consentBasisAt', () => {
  const grant = entry('granted', '2026-03-01T10:00:00.000Z', { expiresAt: '2026-06-01T00:00:00.000Z' });
  const withdrawal = entry('withdrawn', '2026-03-05T10:00:00.000Z');
  const regrant = entry('granted', '2026-03-08T10:00:00.000Z');
  const ledger = [grant, withdrawal, regrant];

  it.each<[string, string, string | null]>([
    ['names no basis before any grant', '2026-02-28T00:00:00.000Z', null],
    ['names the grant in force at the moment of sending', '2026-03-03T00:00:00.000Z', grant.id],
    ['names no basis while consent is withdrawn', '2026-03-06T00:00:00.000Z', null],
    ['names the later grant once consent is given again', '2026-03-09T00:00:00.000Z', regrant.id],
  ])('%s', (_name, at, expected) => {
    expect(consentBasisAt(ledger, 'whatsapp', 'promotional', new Date(at))).toBe(expected);
  });

  it('names no basis for a pending verbal grant', () => {
    const pending = entry('pending', '2026-03-01T10:00:00.000Z', { source: 'verbal' });
    expect(consentBasisAt([pending], 'whatsapp', 'promotional', NOW)).toBeNull();
  });
});

describe('checkStatement', () => {
  it.each<[string, Parameters<typeof checkStatement>[0], string]>([
    [
      'refuses a grant without evidence',
      { channel: 'whatsapp', purpose: 'service', status: 'granted', source: 'written_form' },
      'evidence',
    ],
    [
      'refuses a capture in the future',
      {
        channel: 'whatsapp',
        purpose: 'service',
        status: 'withdrawn',
        source: 'written_form',
        capturedAt: '2026-03-11T00:00:00.000Z',
      },
      'capturedAt',
    ],
    [
      'refuses an expiry before the capture',
      {
        channel: 'email',
        purpose: 'service',
        status: 'granted',
        source: 'web_form',
        evidence: 'web-123',
        expiresAt: '2026-03-01T00:00:00.000Z',
      },
      'expiresAt',
    ],
  ])('%s', (_name, statement, field) => {
    const result = checkStatement(statement, NOW);
    expect(result).toMatchObject({ ok: false, field });
  });

  it.each<[string, Parameters<typeof checkStatement>[0], EntryStatus]>([
    [
      'stores a verbal grant as pending',
      {
        channel: 'whatsapp',
        purpose: 'promotional',
        status: 'granted',
        source: 'verbal',
        evidence: 'call 3 March',
      },
      'pending',
    ],
    [
      'stores a written grant as granted',
      {
        channel: 'whatsapp',
        purpose: 'promotional',
        status: 'granted',
        source: 'written_form',
        evidence: 'DOC-9',
      },
      'granted',
    ],
    [
      'accepts a withdrawal without evidence',
      { channel: 'whatsapp', purpose: 'promotional', status: 'withdrawn', source: 'verbal' },
      'withdrawn',
    ],
  ])('%s', (_name, statement, status) => {
    expect(checkStatement(statement, NOW)).toEqual({ ok: true, status, capturedAt: NOW.toISOString() });
  });
});

describe('fold properties', () => {
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const arbEntry = fc.record({
    status: fc.constantFrom<EntryStatus>('granted', 'pending', 'withdrawn', 'refused'),
    // Few distinct instants, so equal capture times happen often.
    capturedHour: fc.integer({ min: 0, max: 10 }),
    recordedLag: fc.integer({ min: 0, max: 3 }),
    expiresInHours: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }),
    purpose: fc.constantFrom('promotional' as const, 'service' as const),
  });
  const arbLedger = fc.array(arbEntry, { maxLength: 12 }).map((rows) =>
    rows.map((r, i): ConsentEntry => {
      const captured = base + r.capturedHour * 3_600_000;
      return {
        id: `con_${String(i).padStart(3, '0')}`,
        hcpId: 'hcp_1',
        channel: 'whatsapp',
        purpose: r.purpose,
        status: r.status,
        source: 'written_form',
        capturedBy: null,
        capturedAt: new Date(captured).toISOString(),
        evidence: 'e',
        wordingVersion: null,
        messageId: null,
        expiresAt:
          r.expiresInHours === null ? null : new Date(captured + r.expiresInHours * 3_600_000).toISOString(),
        recordedAt: new Date(captured + r.recordedLag * 3_600_000).toISOString(),
      };
    }),
  );
  const arbNow = fc.integer({ min: 0, max: 24 }).map((h) => new Date(base + h * 3_600_000));

  it('depends only on entries known up to now: adding later entries changes nothing', () => {
    fc.assert(
      fc.property(arbLedger, arbLedger, arbNow, (ledger, extra, now) => {
        const later = extra
          .map((e) => ({ ...e, id: `x${e.id}` }))
          .filter(
            (e) => Date.parse(e.capturedAt) > now.getTime() || Date.parse(e.recordedAt) > now.getTime(),
          );
        expect(currentConsent([...ledger, ...later], now)).toEqual(currentConsent(ledger, now));
      }),
    );
  });

  it('does not depend on the order entries were inserted in, equal times included', () => {
    fc.assert(
      fc.property(
        arbLedger.chain((ledger) =>
          fc.tuple(fc.constant(ledger), fc.shuffledSubarray(ledger, { minLength: ledger.length })),
        ),
        arbNow,
        ([ledger, shuffled], now) => {
          expect(currentConsent(shuffled, now)).toEqual(currentConsent(ledger, now));
        },
      ),
    );
  });

  it('names a basis exactly when the fold says granted, and the basis is a grant known at that moment', () => {
    fc.assert(
      fc.property(arbLedger, arbNow, (ledger, at) => {
        for (const purpose of ['promotional', 'service'] as const) {
          const basis = consentBasisAt(ledger, 'whatsapp', purpose, at);
          const status = foldConsent(ledger, 'whatsapp', purpose, at).status;
          expect(basis !== null).toBe(status === 'granted');
          if (basis !== null) {
            const grant = ledger.find((e) => e.id === basis);
            expect(grant?.status).toBe('granted');
            expect(Date.parse(grant?.capturedAt ?? '')).toBeLessThanOrEqual(at.getTime());
            expect(Date.parse(grant?.recordedAt ?? '')).toBeLessThanOrEqual(at.getTime());
          }
        }
      }),
    );
  });
});
