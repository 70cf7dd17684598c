import { z } from 'zod';

/**
 * Demo defaults. They make `npm install && npm start` work on a fresh machine; they are public
 * (this file is in the repo), so a deployment must set its own. `isDemoSecret` lets start-up warn.
 */
const DEMO_DATA_KEY = 'parley-demo-data-key-change-me-in-production-0001';
const DEMO_APP_SECRET = 'parley-demo-app-secret';
const DEMO_VERIFY_TOKEN = 'parley-demo-verify-token';
const DEMO_ACCESS_TOKEN = 'parley-demo-access-token';
const DEMO_PHONE_NUMBER_ID = '106540352242922';

const flag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no'], { message: 'must be 1 or 0 (or true/false)' })
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const secret = (name: string, min: number) =>
  z.string().min(min, { message: `${name} must be at least ${min} characters` });

const databaseUrl = z
  .string()
  .refine((v) => v.startsWith('sqlite:') || v.startsWith('postgres://') || v.startsWith('postgresql://'), {
    message: 'must be sqlite:<path> or postgres://…',
  });

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  PARLEY_DATABASE_URL: databaseUrl.default('sqlite:./data/parley.db'),
  PARLEY_DEMO: flag.default(true),
  PARLEY_DEMO_PASSWORD: z
    .string()
    .min(8, { message: 'must be at least 8 characters' })
    .default('parley-demo'),
  PARLEY_DATA_KEY: secret('PARLEY_DATA_KEY', 32).default(DEMO_DATA_KEY),
  /** Earlier data keys, comma-separated, still accepted for decryption while data is re-encrypted. */
  PARLEY_DATA_KEY_PREVIOUS: z.string().default(''),
  PARLEY_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(12),
  /** Set behind TLS: session cookies then carry `Secure`. */
  PARLEY_SECURE_COOKIES: flag.default(false),
  PARLEY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The address HCPs reach Parley at, for tracked links (`<url>/l/<code>`); defaults to this machine. */
  PARLEY_PUBLIC_URL: z.url({ message: 'must be an http(s) URL, e.g. https://parley.example.com' }).optional(),
  /** Outbox workers in this process (0 turns sending off, e.g. for an API-only instance). */
  PARLEY_SEND_WORKERS: z.coerce.number().int().min(0).max(32).default(2),
  /**
   * SQLite file only: read-only connections, each on a thread of its own, that the analytics reports read
   * through, so a report of a large world never holds the event loop (0: reports read on the one connection).
   */
  PARLEY_SQLITE_READERS: z.coerce.number().int().min(0).max(16).default(2),
  /** Sends per second per sending number from this instance (Meta: 80 by default, up to 1,000). */
  PARLEY_SEND_RATE: z.coerce.number().int().min(1).max(1000).default(80),
  WHATSAPP_APP_SECRET: secret('WHATSAPP_APP_SECRET', 8).default(DEMO_APP_SECRET),
  /** The previous app secret, accepted during a rotation overlap. */
  WHATSAPP_APP_SECRET_PREVIOUS: z.string().default(''),
  WHATSAPP_VERIFY_TOKEN: secret('WHATSAPP_VERIFY_TOKEN', 8).default(DEMO_VERIFY_TOKEN),
  WHATSAPP_ACCESS_TOKEN: secret('WHATSAPP_ACCESS_TOKEN', 8).default(DEMO_ACCESS_TOKEN),
  WHATSAPP_API_BASE: z
    .url({ message: 'must be an http(s) URL, e.g. https://graph.facebook.com' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  WHATSAPP_API_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, { message: 'must look like v23.0' })
    .default('v23.0'),
  WHATSAPP_PHONE_NUMBER_ID: z
    .string()
    .regex(/^\d+$/, { message: 'must be the numeric phone-number id' })
    .default(DEMO_PHONE_NUMBER_ID),
  /** The Cloud API stand-in makes some HCPs reply by themselves; unset: on with PARLEY_DEMO, else off. */
  PARLEY_SANDBOX_REPLIES: flag.optional(),
  /** Where interactions and consent changes are pushed as signed webhooks; unset: no CRM sink runs. */
  PARLEY_CRM_SINK_URL: z
    .url({ message: 'must be an http(s) URL, e.g. https://crm.example.com/parley' })
    .optional(),
  /** HMAC-SHA256 key of the sink's `X-Parley-Signature-256` header; required with PARLEY_CRM_SINK_URL. */
  PARLEY_CRM_SINK_SECRET: secret('PARLEY_CRM_SINK_SECRET', 16).optional(),
});

type Parsed = z.infer<typeof schema>;

/** Parley's configuration: parsed once at start-up, frozen, never read from the environment again. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly demo: { readonly enabled: boolean; readonly password: string };
  readonly dataKeys: { readonly current: string; readonly previous: readonly string[] };
  readonly sessionHours: number;
  readonly secureCookies: boolean;
  readonly logLevel: Parsed['PARLEY_LOG_LEVEL'];
  /** Base of tracked links, without a trailing slash. */
  readonly publicUrl: string;
  readonly sendWorkers: number;
  /** SQLite file only: reader connections on worker threads for the analytics reports (0: none). */
  readonly sqliteReaders: number;
  /** This instance's share of each sending number's rate (messages per second). */
  readonly sendRatePerNumber: number;
  readonly whatsapp: {
    readonly appSecret: string;
    readonly previousAppSecret: string | undefined;
    readonly verifyToken: string;
    readonly accessToken: string;
    /** Undefined: Parley mounts its own Cloud API stand-in at /sandbox and sends there. */
    readonly apiBase: string | undefined;
    readonly apiVersion: string;
    readonly phoneNumberId: string;
    /** The stand-in's simulated HCP replies (only where the stand-in runs). */
    readonly sandboxReplies: boolean;
  };
  /** The outgoing CRM webhook sink (engagement); `url` undefined means none runs. */
  readonly crmSink: { readonly url: string | undefined; readonly secret: string | undefined };
  /** Names of the secrets still at their public demo value, for a start-up warning. */
  readonly demoSecrets: readonly string[];
}

/** One line naming the variable and what is wrong with it, as start-up prints it. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses configuration from an environment-like record. Pure: the caller passes the environment (see
 * `readConfigFromEnvironment`), so tests need not touch `process.env`. Throws `ConfigError` on the first
 * bad variable.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Empty strings mean "unset" for every variable, as in most shells' `VAR= cmd`.
  const input = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(variable, issue?.message ?? 'invalid');
  }
  const v = result.data;
  if (v.PARLEY_CRM_SINK_URL && !v.PARLEY_CRM_SINK_SECRET)
    throw new ConfigError(
      'PARLEY_CRM_SINK_SECRET',
      'must be set when PARLEY_CRM_SINK_URL is (it signs every delivery)',
    );
  const demoSecrets = [
    ['PARLEY_DATA_KEY', v.PARLEY_DATA_KEY === DEMO_DATA_KEY],
    ['WHATSAPP_APP_SECRET', v.WHATSAPP_APP_SECRET === DEMO_APP_SECRET],
    ['WHATSAPP_VERIFY_TOKEN', v.WHATSAPP_VERIFY_TOKEN === DEMO_VERIFY_TOKEN],
    ['WHATSAPP_ACCESS_TOKEN', v.WHATSAPP_ACCESS_TOKEN === DEMO_ACCESS_TOKEN],
  ]
    .filter(([, isDemo]) => isDemo)
    .map(([name]) => name as string);
  const config: Config = {
    port: v.PORT,
    host: v.HOST,
    databaseUrl: v.PARLEY_DATABASE_URL,
    demo: { enabled: v.PARLEY_DEMO, password: v.PARLEY_DEMO_PASSWORD },
    dataKeys: {
      current: v.PARLEY_DATA_KEY,
      previous: v.PARLEY_DATA_KEY_PREVIOUS.split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    },
    sessionHours: v.PARLEY_SESSION_HOURS,
    secureCookies: v.PARLEY_SECURE_COOKIES,
    logLevel: v.PARLEY_LOG_LEVEL,
    publicUrl: (v.PARLEY_PUBLIC_URL ?? `http://127.0.0.1:${v.PORT}`).replace(/\/+$/, ''),
    sendWorkers: v.PARLEY_SEND_WORKERS,
    sqliteReaders: v.PARLEY_SQLITE_READERS,
    sendRatePerNumber: v.PARLEY_SEND_RATE,
    whatsapp: {
      appSecret: v.WHATSAPP_APP_SECRET,
      previousAppSecret: v.WHATSAPP_APP_SECRET_PREVIOUS || undefined,
      verifyToken: v.WHATSAPP_VERIFY_TOKEN,
      accessToken: v.WHATSAPP_ACCESS_TOKEN,
      apiBase: v.WHATSAPP_API_BASE?.replace(/\/+$/, ''),
      apiVersion: v.WHATSAPP_API_VERSION,
      phoneNumberId: v.WHATSAPP_PHONE_NUMBER_ID,
      sandboxReplies: v.PARLEY_SANDBOX_REPLIES ?? v.PARLEY_DEMO,
    },
    crmSink: { url: v.PARLEY_CRM_SINK_URL, secret: v.PARLEY_CRM_SINK_SECRET },
    demoSecrets,
  };
  return deepFreeze(config);
}

/** The one place in Parley that reads `process.env`. */
export function readConfigFromEnvironment(overrides: Record<string, string | undefined> = {}): Config {
  return parseConfig({ ...process.env, ...overrides });
}

/** Secret values, so the logger can mask them wherever they appear. */
export function secretsOf(config: Config): string[] {
  return [
    config.dataKeys.current,
    ...config.dataKeys.previous,
    config.whatsapp.appSecret,
    config.whatsapp.previousAppSecret ?? '',
    config.whatsapp.verifyToken,
    config.whatsapp.accessToken,
    config.crmSink.secret ?? '',
  ].filter((s) => s.length >= 8);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
