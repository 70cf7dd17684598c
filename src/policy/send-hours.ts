import { IANAZone } from 'luxon';
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
  const local = localFields(at, hours.zone);
  if (isQuietDay(local, hours)) return 'quiet_hours';
  if (!inRanges(local.minute, quietFreeRanges(hours.quiet))) return 'quiet_hours';
  if (
    hours.windows &&
    hours.windows.length > 0 &&
    !inRanges(local.minute, windowRanges(local.weekday, hours.windows))
  )
    return 'outside_contact_window';
  return 'open';
}

/**
 * The first instant at or after `from` (epoch ms) when the hours are open, searching a year ahead; undefined
 * when none (e.g. contact windows on no day at all).
 */
export function nextOpenAt(from: number, hours: SendHours): number | undefined {
  const start = localFields(from, hours.zone);
  for (let i = 0; i <= 366; i++) {
    const day = dayFields(start.year, start.month, start.day + i);
    if (isQuietDay(day, hours)) continue;
    let ranges = quietFreeRanges(hours.quiet);
    if (hours.windows && hours.windows.length > 0)
      ranges = intersect(ranges, windowRanges(day.weekday, hours.windows));
    for (const [a, b] of ranges) {
      const close = wallClockToInstant(day, b, hours.zone);
      if (from >= close) continue;
      const open = wallClockToInstant(day, a, hours.zone);
      if (open < close) return Math.max(from, open);
    }
  }
  return undefined;
}

function isQuietDay(local: { weekday: number; isoDate: string }, hours: SendHours): boolean {
  if (!hours.quiet.enabled) return false;
  if (hours.quiet.weekend_days && hours.market.weekendDays.includes(local.weekday)) return true;
  if (hours.quiet.public_holidays && hours.market.holidays.includes(local.isoDate)) return true;
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

/** A calendar day in a zone: its date parts, ISO weekday (1 = Monday) and ISO date. */
interface DayFields {
  year: number;
  month: number;
  day: number;
  weekday: number;
  isoDate: string;
}

/** The wall clock of an instant in a zone: the day, and the minute of that day. */
interface LocalFields extends DayFields {
  minute: number;
}

/**
 * Zone offsets are looked up through Luxon's IANA zone (the Intl database) and remembered per zone and
 * quarter hour: every offset change falls on a quarter hour in UTC, so the cache is exact. Building
 * Luxon DateTimes for each step costs several Intl calls each, which dominated `decide()`.
 */
const offsets = new Map<string, number>();
const zones = new Map<string, IANAZone>();
const QUARTER_HOUR = 15 * 60_000;

function offsetMinutes(zone: string, at: number): number {
  const bucket = Math.floor(at / QUARTER_HOUR);
  const key = `${zone}|${bucket}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    let iana = zones.get(zone);
    if (!iana) {
      iana = IANAZone.create(zone);
      zones.set(zone, iana);
    }
    offset = iana.offset(bucket * QUARTER_HOUR);
    if (offsets.size > 50_000) offsets.clear();
    offsets.set(key, offset);
  }
  return offset;
}

function dayFields(year: number, month: number, day: number): DayFields {
  const d = new Date(Date.UTC(year, month - 1, day));
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const dd = d.getUTCDate();
  return {
    year: y,
    month: m,
    day: dd,
    weekday: ((d.getUTCDay() + 6) % 7) + 1,
    isoDate: `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(dd).padStart(2, '0')}`,
  };
}

function localFields(at: number, zone: string): LocalFields {
  const shifted = new Date(at + offsetMinutes(zone, at) * 60_000);
  const day = dayFields(shifted.getUTCFullYear(), shifted.getUTCMonth() + 1, shifted.getUTCDate());
  return { ...day, minute: shifted.getUTCHours() * 60 + shifted.getUTCMinutes() };
}

/**
 * The instant a wall-clock minute of a local day shows (minute 1440 is the next day's midnight). A time
 * skipped by a DST change (02:30 on a spring-forward night) resolves to the first valid instant after it;
 * a time that occurs twice (fall back) resolves to the first occurrence.
 */
function wallClockToInstant(day: DayFields, minute: number, zone: string): number {
  const asUtc = Date.UTC(day.year, day.month - 1, day.day) + minute * 60_000;
  const before = offsetMinutes(zone, asUtc - 24 * 60 * 60_000);
  const after = offsetMinutes(zone, asUtc + 24 * 60 * 60_000);
  const candidates = [...new Set([before, after])]
    .map((offset) => asUtc - offset * 60_000)
    .filter((t) => (t - asUtc) / -60_000 === offsetMinutes(zone, t))
    .sort((a, b) => a - b);
  // No consistent offset: the minute was skipped; the pre-change offset lands just after the gap.
  return candidates[0] ?? asUtc - Math.min(before, after) * 60_000;
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
  const d = localFields(at, zone);
  const hhmm = `${String(Math.floor(d.minute / 60)).padStart(2, '0')}:${String(d.minute % 60).padStart(2, '0')}`;
  return `${WEEKDAYS[d.weekday - 1]} ${d.day} ${MONTHS[d.month - 1]}, ${hhmm}`;
}

/** The ISO date of an instant in a zone: the "calendar day" of the daily cap. */
export function localDate(at: number, zone: string): string {
  return localFields(at, zone).isoDate;
}

/** The start of the next local day after `at`, as epoch ms. */
export function nextLocalMidnight(at: number, zone: string): number {
  const d = localFields(at, zone);
  return wallClockToInstant(dayFields(d.year, d.month, d.day + 1), 0, zone);
}
