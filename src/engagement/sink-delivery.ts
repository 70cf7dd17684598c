import { createHash, createHmac } from 'node:crypto';

/** The header a receiver checks: `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` under the shared secret. */
export const SIGNATURE_HEADER = 'x-parley-signature-256';
export const TIMESTAMP_HEADER = 'x-parley-timestamp';
export const DELIVERY_HEADER = 'x-parley-delivery';

/**
 * Signs a delivery. The timestamp (Unix seconds) is inside the signed text, so a receiver that rejects
 * old timestamps also rejects replays; the body is signed as the exact bytes sent.
 */
export function signDelivery(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * A delivery's id, derived from the stream and the first and last record it carries: a batch re-sent after
 * a crash (delivered, but the cursor not yet saved) carries the same id, so a receiver can drop it.
 */
export function deliveryIdOf(stream: string, first: readonly unknown[], last: readonly unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([stream, first, last]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Wait before retry `attempt` (1-based): exponential from `baseMs`, capped at `maxMs`, with "full jitter"
 * drawn from `random` (0 ≤ r < 1) so many Parley instances do not retry in step.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
