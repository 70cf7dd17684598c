import { DateTime } from 'luxon';
import type { ContactWindow, DecisionMarket } from './decision-context.js';
import type { Rules } from './rulebook-schema.js';

/**
 * When a message may reach an HCP: outside quiet hours, off the market's weekend days and public holidays,
 * and inside the HCP's contact windows. All of it is local to the HCP's time zone, built from wall-clock
 * times each day (so a DST change moves the UTC instant, never the local 08:00). Pure.
 */

export interface SendHours {
  zone: string;
  quiet: Rules['quiet_hours'];
  market: DecisionMarket;
  /** Contact windows to enforce; null or empty means none. */
  windows: readonly ContactWindow[] | null;
}

export type HoursVerdict = 'open' | 'quiet_hours' | 'outside_contact_window';

const DAY_MINUTES = 24 * 60;

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Whether `at` (epoch ms) falls in quiet hours, a weekend day or a holiday, or outside contact windows. */
export function hoursVerdict(at: number, hours: SendHours): HoursVerdict {
  const local = DateTime.fromMillis(at, { zone: hours.zone });
  if (isQuietDay(local, hours)) return 'quiet_hours';
  const minute = local.hour * 60 + local.minute;
  if (!inRanges(minute, quietFreeRanges(hours.quiet))) return 'quiet_hours';
  if (
    hours.windows &&
    hours.windows.length > 0 &&
    !inRanges(minute, windowRanges(local.weekday, hours.windows))
  )
    return 'outside_contact_window';
  return 'open';
}

/**
 * The first instant at or after `from` (epoch ms) when the hours are open, searching a year ahead; undefined
 * when none (e.g. contact windows on no day at all).
 */
export function nextOpenAt(from: number, hours: SendHours): number | undefined {
  const start = DateTime.fromMillis(from, { zone: hours.zone });
  for (let i = 0; i <= 366; i++) {
    const day = start.startOf('day').plus({ days: i });
    if (isQuietDay(day, hours)) continue;
    let ranges = quietFreeRanges(hours.quiet);
    if (hours.windows && hours.windows.length > 0)
      ranges = intersect(ranges, windowRanges(day.weekday, hours.windows));
    for (const [a, b] of ranges) {
      const open = atMinute(day, a).toMillis();
      const close = atMinute(day, b).toMillis();
      if (from < close && open < close) return Math.max(from, open);
    }
  }
  return undefined;
}

function isQuietDay(local: DateTime, hours: SendHours): boolean {
  if (!hours.quiet.enabled) return false;
  if (hours.quiet.weekend_days && hours.market.weekendDays.includes(local.weekday)) return true;
  if (hours.quiet.public_holidays && hours.market.holidays.includes(local.toISODate() ?? '')) return true;
  return false;
}

/** Minute ranges [from, to) of a day outside quiet hours. */
function quietFreeRanges(quiet: Rules['quiet_hours']): Array<[number, number]> {
  if (!quiet.enabled) return [[0, DAY_MINUTES]];
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return [[0, DAY_MINUTES]];
  // Quiet across midnight (20:00–08:00): open 08:00–20:00. Quiet inside a day (12:00–14:00): open around it.
  return start > end
    ? [[end, start]]
    : [
        [0, start],
        [end, DAY_MINUTES],
      ];
}

function windowRanges(weekday: number, windows: readonly ContactWindow[]): Array<[number, number]> {
  return windows
    .filter((w) => w.days.includes(weekday))
    .map((w): [number, number] => [minutesOf(w.start), w.end === '00:00' ? DAY_MINUTES : minutesOf(w.end)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
}

function inRanges(minute: number, ranges: Array<[number, number]>): boolean {
  return ranges.some(([a, b]) => minute >= a && minute < b);
}

function intersect(xs: Array<[number, number]>, ys: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [a, b] of xs)
    for (const [c, d] of ys) {
      const lo = Math.max(a, c);
      const hi = Math.min(b, d);
      if (hi > lo) out.push([lo, hi]);
    }
  return out.sort((x, y) => x[0] - y[0]);
}

/** The instant of a local wall-clock minute of a day; 24:00 is the next day's midnight. */
function atMinute(day: DateTime, minute: number): DateTime {
  if (minute >= DAY_MINUTES) return day.plus({ days: 1 }).startOf('day');
  // Setting the wall clock lets Luxon resolve a time skipped by a DST change to the first valid instant.
  return day.set({ hour: Math.floor(minute / 60), minute: minute % 60, second: 0, millisecond: 0 });
}

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** A local time for sentences: "Tuesday 10 March, 09:00". */
export function describeLocal(at: number, zone: string): string {
  // Names from fixed tables: Luxon's localised names build Intl formatters on every call (slow on the hot path).
  const d = DateTime.fromMillis(at, { zone });
  const hhmm = `${String(d.hour).padStart(2, '0')}:${String(d.minute).padStart(2, '0')}`;
  return `${WEEKDAYS[d.weekday - 1]} ${d.day} ${MONTHS[d.month - 1]}, ${hhmm}`;
}

/** The ISO date of an instant in a zone: the "calendar day" of the daily cap. */
export function localDate(at: number, zone: string): string {
  return DateTime.fromMillis(at, { zone }).toISODate() ?? '';
}

/** The start of the next local day after `at`, as epoch ms. */
export function nextLocalMidnight(at: number, zone: string): number {
  return DateTime.fromMillis(at, { zone }).startOf('day').plus({ days: 1 }).toMillis();
}
