/**
 * The clock seam. IO code asks a Clock for the time; pure code is handed `now` as an argument and never
 * reads a clock at all. Tests pass a `ManualClock` to move time on purpose.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to: for tests of expiry, windows, caps and retries. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | string = '2026-03-02T12:00:00.000Z') {
    this.current = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  set(to: Date | string): void {
    this.current = new Date(to).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** ISO-8601 UTC with milliseconds: the one text form of a moment in the store (sorts as it reads). */
export function toIso(d: Date): string {
  return d.toISOString();
}
