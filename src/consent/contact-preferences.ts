/**
 * An HCP's own preferences — preferred channel per purpose, contact windows, language, a personal
 * frequency limit — and the pure question the policy engine asks of them: "is this local moment inside
 * one of the HCP's contact windows?".
 */
import type { ConsentChannel, ConsentPurpose } from './consent-ledger.js';

/** One contact window: the ISO weekdays it applies to (1 = Monday … 7 = Sunday), from–to local time. */
export interface ContactWindow {
  days: number[];
  /** `HH:mm`, inclusive. */
  from: string;
  /** `HH:mm`, exclusive. A `to` earlier than `from` runs past midnight into the next day. */
  to: string;
}

export interface ContactPreferences {
  preferredChannels: Partial<Record<ConsentPurpose, ConsentChannel>>;
  contactWindows: ContactWindow[];
  language: string;
  frequencyLimit: { perWeek: number } | null;
}

/** What an HCP who has stated nothing prefers: no windows (any time the rulebook allows), no own limit. */
export function defaultPreferences(language: string): ContactPreferences {
  return { preferredChannels: {}, contactWindows: [], language, frequencyLimit: null };
}

/** A local moment, in the HCP's time zone (a Luxon `DateTime` fits). */
export interface LocalMoment {
  /** ISO weekday, 1 = Monday … 7 = Sunday. */
  weekday: number;
  hour: number;
  minute: number;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function previousWeekday(weekday: number): number {
  return weekday === 1 ? 7 : weekday - 1;
}

/**
 * Whether a local moment falls inside one of the HCP's contact windows. No windows means the HCP has set
 * no restriction: true. A window from 18:00 to 08:00 on Friday covers Friday evening and Saturday morning.
 */
export function isWithinContactWindows(
  preferences: Pick<ContactPreferences, 'contactWindows'>,
  local: LocalMoment,
): boolean {
  if (preferences.contactWindows.length === 0) return true;
  const t = local.hour * 60 + local.minute;
  return preferences.contactWindows.some((w) => {
    const from = minutesOf(w.from);
    const to = minutesOf(w.to);
    if (from < to) return w.days.includes(local.weekday) && t >= from && t < to;
    // Past midnight: the evening part on the window's day, the morning part on the day after.
    return (
      (w.days.includes(local.weekday) && t >= from) ||
      (w.days.includes(previousWeekday(local.weekday)) && t < to)
    );
  });
}
