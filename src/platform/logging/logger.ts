import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

// What must never reach a log line: HCP phone numbers, emails, message text, tokens and secrets.
// Known fields are removed by path; free text anywhere (a URL's query, an error message) is scrubbed.
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.text',
  '*.body',
  '*.whatsappNumber',
  '*.email',
  '*.verbatim',
];

const PHONE = /\+?\d[\d\s().-]{7,}\d/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

/** Masks phone numbers, emails and the given secrets in a string. */
export function scrubText(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(EMAIL, '[email]')
    .replace(PHONE, (m) => (m.replace(/\D/g, '').length >= 8 ? '[phone]' : m));
  for (const s of secrets) if (s) out = out.split(s).join('[secret]');
  return out;
}

function scrubDeep(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubText(value.message, secrets),
      code: (value as { code?: unknown }).code,
    };
  }
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, secrets, depth + 1));
  // Requests, replies and other class instances are left to the serializers below, which pick the
  // fields worth logging and scrub them; copying their own fields would lose the getters.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubDeep(v, secrets, depth + 1);
  return out;
}

/** Percent-decoded, so `%40` and `%2B` cannot hide an email or a number from the scrubber. */
function decodeForScrubbing(url: string): string {
  try {
    return decodeURIComponent(url.replace(/\+/g, ' '));
  } catch {
    return url;
  }
}

export interface LoggerOptions {
  level: string;
  /** Secret values to mask wherever they appear (see config `secretsOf`). */
  secrets?: readonly string[];
  /** Where to write; defaults to stdout. Tests pass a stream to inspect what was logged. */
  destination?: pino.DestinationStream;
}

/** JSON logs with personal data and secrets removed before they are written. */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets ?? [];
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        // What Fastify logs of a request and a reply: no headers, no body, the URL scrubbed (a search
        // by phone number puts the number in the query string).
        req: (req: { method?: string; url?: string; id?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url === undefined ? undefined : scrubText(decodeForScrubbing(req.url), secrets),
          ip: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: (err: unknown) => scrubDeep(err, secrets),
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => scrubDeep(a, secrets)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
    },
    options.destination ?? pino.destination(1),
  );
}
