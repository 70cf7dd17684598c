import { v7 as uuidv7 } from 'uuid';

/**
 * Opaque, time-ordered ids with a readable prefix (`hcp_…`, `msg_…`). Time order makes them good
 * tie-breakers for cursors; the prefix makes a log line or a support ticket self-explaining.
 */
export function newId(prefix: string): string {
  return `${prefix}_${uuidv7().replaceAll('-', '')}`;
}
