import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { candidateCutoff, expiredRecords, expiryOf, isExpired } from './retention-rules.js';

const ms = (iso: string) => new Date(iso).getTime();

describe('retention expiry', () => {
  it.each<[string, string, number, string, string]>([
    // what, record made at, days, zone, first expired instant
    [
      'a record of 29 Feb kept 365 days expires on 1 March the next year',
      '2024-02-29T10:00:00.000Z',
      365,
      'UTC',
      '2025-03-01T00:00:00.000Z',
    ],
    [
      'a record kept 365 days across 29 Feb is kept through 29 Feb',
      '2023-03-01T12:00:00.000Z',
      365,
      'UTC',
      '2024-03-01T00:00:00.000Z',
    ],
    [
      'a record of 28 Feb 2024 kept 1 day is kept through the leap day',
      '2024-02-28T08:00:00.000Z',
      1,
      'UTC',
      '2024-03-01T00:00:00.000Z',
    ],
    [
      'in Madrid, a record expiring the night clocks go forward expires at local midnight (CET)',
      '2026-03-27T12:00:00.000Z',
      1,
      'Europe/Madrid',
      '2026-03-28T23:00:00.000Z',
    ],
    [
      'in Madrid, a record of the 23-hour day expires at the next local midnight (CEST)',
      '2026-03-28T12:00:00.000Z',
      1,
      'Europe/Madrid',
      '2026-03-29T22:00:00.000Z',
    ],
    [
      'in Madrid, a record of the 25-hour day expires at the next local midnight (CET)',
      '2026-10-24T12:00:00.000Z',
      1,
      'Europe/Madrid',
      '2026-10-25T23:00:00.000Z',
    ],
    [
      'in Madrid, 23:59:59.999 local counts as that day',
      '2026-01-10T22:59:59.999Z',
      1,
      'Europe/Madrid',
      '2026-01-11T23:00:00.000Z',
    ],
    [
      'in Madrid, local midnight counts as the new day',
      '2026-01-10T23:00:00.000Z',
      1,
      'Europe/Madrid',
      '2026-01-12T23:00:00.000Z',
    ],
    [
      'in São Paulo, 23:00 local on 2 March (02:00Z on the 3rd) is a 2 March record',
      '2026-03-03T02:00:00.000Z',
      90,
      'America/Sao_Paulo',
      '2026-06-01T03:00:00.000Z',
    ],
    [
      'a five-year period spans one leap day',
      '2026-03-03T14:00:00.000Z',
      1825,
      'America/Sao_Paulo',
      '2031-03-03T03:00:00.000Z',
    ],
  ])('%s', (_what, at, days, zone, expiry) => {
    expect(expiryOf(at, days, zone).toISOString()).toBe(expiry);
    // The last millisecond before expiry keeps the record; expiry itself removes it.
    expect(isExpired(at, days, zone, new Date(ms(expiry) - 1))).toBe(false);
    expect(isExpired(at, days, zone, new Date(expiry))).toBe(true);
  });

  it('never expires a held record, and keeps the order it was given', () => {
    const now = new Date('2027-01-01T00:00:00.000Z');
    const records = [
      { id: 'b', at: '2026-01-01T00:00:00.000Z', timeZone: 'UTC', held: false },
      { id: 'held', at: '2026-01-01T00:00:00.000Z', timeZone: 'UTC', held: true },
      { id: 'a', at: '2026-01-02T00:00:00.000Z', timeZone: 'Europe/Madrid', held: false },
      { id: 'young', at: '2026-12-31T00:00:00.000Z', timeZone: 'UTC', held: false },
    ];
    expect(expiredRecords(records, 30, now)).toEqual(['b', 'a']);
  });

  const zones = fc.constantFrom(
    'UTC',
    'Europe/Madrid',
    'America/Sao_Paulo',
    'Asia/Kolkata',
    'Pacific/Auckland',
  );
  const moments = fc.integer({ min: ms('2020-01-01T00:00:00Z'), max: ms('2035-12-31T00:00:00Z') });
  const periods = fc.integer({ min: 1, max: 3650 });

  it('expires at a local midnight, after at least the period and at most a day more', () => {
    fc.assert(
      fc.property(moments, periods, zones, (t, days, zone) => {
        const at = new Date(t).toISOString();
        const expiry = expiryOf(at, days, zone);
        const local = DateTime.fromJSDate(expiry, { zone });
        expect([local.hour, local.minute, local.second, local.millisecond]).toEqual([0, 0, 0, 0]);
        const hours = (expiry.getTime() - t) / 3_600_000;
        expect(hours).toBeGreaterThan(days * 24 - 1);
        expect(hours).toBeLessThanOrEqual((days + 1) * 24 + 1);
      }),
    );
  });

  it('never expires a later record before an earlier one of the same zone', () => {
    fc.assert(
      fc.property(moments, moments, periods, zones, (a, b, days, zone) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        const e1 = expiryOf(new Date(early).toISOString(), days, zone).getTime();
        const e2 = expiryOf(new Date(late).toISOString(), days, zone).getTime();
        expect(e1).toBeLessThanOrEqual(e2);
      }),
    );
  });

  it("selects every expired record in the store's coarse pre-selection", () => {
    fc.assert(
      fc.property(
        moments,
        periods,
        zones,
        fc.integer({ min: 0, max: 4000 * 86_400_000 }),
        (t, days, zone, later) => {
          const at = new Date(t).toISOString();
          const now = new Date(t + later);
          if (isExpired(at, days, zone, now)) expect(at < candidateCutoff(days, now)).toBe(true);
        },
      ),
    );
  });
});
