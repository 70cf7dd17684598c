import { createHmac, timingSafeEqual } from 'node:crypto';

/** Meta's payload limit (CLOUD-API.md §1.3): anything larger is refused before it is hashed. */
export const MAX_WEBHOOK_BYTES = 3 * 1024 * 1024;

const PREFIX = 'sha256=';
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** `sha256=` + lowercase hex HMAC-SHA256 of the raw bytes: what Meta (and the stand-in) send. */
export function signWebhookBody(body: Buffer | string, appSecret: string): string {
  return PREFIX + createHmac('sha256', appSecret).update(body).digest('hex');
}

/**
 * Whether `X-Hub-Signature-256` signs these exact bytes under one of the app secrets (the current one and,
 * during a rotation overlap, the previous one). The header's shape is checked first (prefix, length, hex)
 * so a malformed value never reaches the comparison, and the comparison itself is `timingSafeEqual` over
 * equal-length buffers, so the time taken says nothing about how many characters matched.
 */
export function isValidWebhookSignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly (string | undefined)[],
): boolean {
  if (typeof header !== 'string' || !header.startsWith(PREFIX)) return false;
  const hex = header.slice(PREFIX.length);
  if (hex.length !== 64 || !HEX_DIGEST.test(hex)) return false;
  if (rawBody.length === 0) return false;
  const given = Buffer.from(hex, 'hex');
  let valid = false;
  for (const secret of secrets) {
    if (!secret) continue;
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    // No early exit: every configured secret is checked, so timing does not reveal which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}
