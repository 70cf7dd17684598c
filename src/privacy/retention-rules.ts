import { DateTime } from 'luxon';

/** What the retention job may remove, each with the rulebook period that governs it. */
export const RETENTION_KINDS = [
  'message_bodies',
  'decisions',
  'interactions',
  'webhook_inbox',
  'security_log',
] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/** The rulebook's `retention` section (days), as `rulesForMarket(...).retention` gives it. */
export interface RetentionPeriods {
  messages_days: number;
  decisions_days: number;
  interactions_days: number;
  webhook_inbox_days: number;
  security_log_days: number;
}

/** The period (days) that governs a kind of record. */
export function periodFor(kind: RetentionKind, periods: RetentionPeriods): number {
  switch (kind) {
    case 'message_bodies':
      return periods.messages_days;
    case 'decisions':
      return periods.decisions_days;
    case 'interactions':
      return periods.interactions_days;
    case 'webhook_inbox':
      return periods.webhook_inbox_days;
    case 'security_log':
      return periods.security_log_days;
  }
}

/**
 * The first instant at which a record made at `at` is expired under a period of `days`: a record is
 * kept for the whole local day it was made on plus `days` further calendar days, and expires at the
 * local midnight after that, in `timeZone` (the HCP's market's zone; UTC for records no market owns).
 * Counting calendar days rather than 24-hour blocks keeps the boundary at midnight across a DST change
 * (a 23- or 25-hour day counts as one day) and makes 29 February an ordinary day: a record of 29 Feb
 * 2024 kept 365 days is kept through 28 Feb 2025 and expires at 1 March 2025 00:00 local.
 */
export function expiryOf(at: string, days: number, timeZone: string): Date {
  const made = DateTime.fromISO(at, { zone: 'utc' }).setZone(timeZone);
  if (!made.isValid) throw new Error(`not a valid moment or time zone: ${at} in ${timeZone}`);
  return made
    .startOf('day')
    .plus({ days: days + 1 })
    .startOf('day')
    .toJSDate();
}

/** Whether a record made at `at` is expired at `now` (expiry instant included). */
export function isExpired(at: string, days: number, timeZone: string, now: Date): boolean {
  return now.getTime() >= expiryOf(at, days, timeZone).getTime();
}

/** One record as the job sees it: when it was made, in which zone its days count, whether it is held. */
export interface RetentionCandidate {
  id: string;
  at: string;
  timeZone: string;
  /** Under a legal hold (its HCP's `legal_hold`): never expired, whatever its age. */
  held: boolean;
}

/** The ids among `records` that are expired at `now` and not held, in the order given. */
export function expiredRecords(records: readonly RetentionCandidate[], days: number, now: Date): string[] {
  return records.filter((r) => !r.held && isExpired(r.at, days, r.timeZone, now)).map((r) => r.id);
}

/**
 * A UTC moment before which every expired record was made, whatever its zone: expiry is at least `days`
 * days after the record, less at most a day's offset and an hour of DST. The store pre-selects
 * candidates older than it, and `expiredRecords` decides exactly.
 */
export function candidateCutoff(days: number, now: Date): string {
  return new Date(now.getTime() - (days - 2) * 86_400_000).toISOString();
}
