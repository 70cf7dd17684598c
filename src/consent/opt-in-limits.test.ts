import { describe, expect, it } from 'vitest';
import { checkOptInRequestLimits } from './opt-in-limits.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');

describe('checkOptInRequestLimits', () => {
  it.each<[string, string[], ReturnType<typeof checkOptInRequestLimits>]>([
    ['allows a first request', [], { allowed: true }],
    ['allows a second request 30 days after the first', ['2026-05-02T12:00:00.000Z'], { allowed: true }],
    [
      'denies a second request one millisecond short of 30 days',
      ['2026-05-02T12:00:00.001Z'],
      {
        allowed: false,
        reason: 'opt_in_request_too_soon',
        lastAt: '2026-05-02T12:00:00.001Z',
        nextAllowedAt: '2026-06-01T12:00:00.001Z',
      },
    ],
    [
      'counts from the latest request whatever order the times come in',
      ['2026-05-20T00:00:00.000Z', '2026-01-01T00:00:00.000Z'],
      {
        allowed: false,
        reason: 'opt_in_request_too_soon',
        lastAt: '2026-05-20T00:00:00.000Z',
        nextAllowedAt: '2026-06-19T00:00:00.000Z',
      },
    ],
    [
      'denies a fourth request ever, however long ago the others were',
      ['2025-01-01T00:00:00.000Z', '2025-03-01T00:00:00.000Z', '2025-06-01T00:00:00.000Z'],
      { allowed: false, reason: 'opt_in_request_limit', sent: 3, limit: 3 },
    ],
  ])('%s', (_name, previous, expected) => {
    expect(checkOptInRequestLimits(previous, NOW)).toEqual(expected);
  });

  it('applies limits it is handed', () => {
    expect(
      checkOptInRequestLimits(['2026-05-30T12:00:00.000Z'], NOW, { minDaysBetween: 1, maxEver: 5 }),
    ).toEqual({ allowed: true });
  });
});
