export { ManualClock, systemClock, toIso } from './clock.js';
export type { Clock } from './clock.js';
