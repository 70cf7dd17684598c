import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { isWithinContactWindows, type ContactWindow } from './contact-preferences.js';

const weekdayMornings: ContactWindow = { days: [1, 2, 3, 4, 5], from: '08:00', to: '12:00' };
const fridayNight: ContactWindow = { days: [5], from: '22:00', to: '02:00' };

describe('isWithinContactWindows', () => {
  it.each<[string, ContactWindow[], { weekday: number; hour: number; minute: number }, boolean]>([
    ['allows any time when the HCP set no windows', [], { weekday: 7, hour: 3, minute: 0 }, true],
    ['allows inside a window', [weekdayMornings], { weekday: 2, hour: 9, minute: 30 }, true],
    ['allows at the first minute of a window', [weekdayMornings], { weekday: 1, hour: 8, minute: 0 }, true],
    [
      'refuses at the closing minute of a window',
      [weekdayMornings],
      { weekday: 1, hour: 12, minute: 0 },
      false,
    ],
    [
      'refuses the minute before a window opens',
      [weekdayMornings],
      { weekday: 1, hour: 7, minute: 59 },
      false,
    ],
    [
      'refuses on a day the window does not name',
      [weekdayMornings],
      { weekday: 6, hour: 9, minute: 0 },
      false,
    ],
    [
      'allows the evening part of a window past midnight',
      [fridayNight],
      { weekday: 5, hour: 23, minute: 0 },
      true,
    ],
    [
      'allows the morning part of a window past midnight on the next day',
      [fridayNight],
      { weekday: 6, hour: 1, minute: 59 },
      true,
    ],
    [
      'refuses the morning before such a window on its own day',
      [fridayNight],
      { weekday: 5, hour: 1, minute: 0 },
      false,
    ],
    [
      'allows in any one of several windows',
      [weekdayMornings, fridayNight],
      { weekday: 6, hour: 0, minute: 30 },
      true,
    ],
    [
      'treats Sunday night into Monday as crossing the week',
      [{ days: [7], from: '20:00', to: '06:00' }],
      { weekday: 1, hour: 5, minute: 0 },
      true,
    ],
  ])('%s', (_name, windows, local, expected) => {
    expect(isWithinContactWindows({ contactWindows: windows }, local)).toBe(expected);
  });

  it('takes a Luxon time in the HCP zone: 11:30 UTC is 08:30 in São Paulo', () => {
    const local = DateTime.fromISO('2026-03-03T11:30:00Z').setZone('America/Sao_Paulo');
    expect(isWithinContactWindows({ contactWindows: [weekdayMornings] }, local)).toBe(true);
  });

  it('covers every minute of the week with a window from 00:00 to 00:00 the next day split in two', () => {
    const allWeek: ContactWindow[] = [
      { days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '23:59' },
      { days: [1, 2, 3, 4, 5, 6, 7], from: '23:59', to: '00:00' },
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        (weekday, hour, minute) => {
          expect(isWithinContactWindows({ contactWindows: allWeek }, { weekday, hour, minute })).toBe(true);
        },
      ),
    );
  });
});
