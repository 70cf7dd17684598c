import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, readConfigFromEnvironment, secretsOf } from './index.js';

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

describe('parseConfig', () => {
  it.each([
    ['a port that is not a number', 'PORT', 'abc'],
    ['a port above 65535', 'PORT', '70000'],
    ['a fractional port', 'PORT', '80.5'],
    ['a database URL of another kind', 'PARLEY_DATABASE_URL', 'mysql://db/parley'],
    ['a database URL that is a bare path', 'PARLEY_DATABASE_URL', './parley.db'],
    ['a data key shorter than 32 characters', 'PARLEY_DATA_KEY', 'too-short-key'],
    ['an API version without the v', 'WHATSAPP_API_VERSION', '23.0'],
    ['an API version with a word', 'WHATSAPP_API_VERSION', 'latest'],
    ['an API base that is not a URL', 'WHATSAPP_API_BASE', 'graph.facebook'],
    ['a phone-number id with letters', 'WHATSAPP_PHONE_NUMBER_ID', 'abc123'],
    ['a demo flag that is neither on nor off', 'PARLEY_DEMO', 'maybe'],
    ['a secure-cookie flag that is neither on nor off', 'PARLEY_SECURE_COOKIES', 'on'],
    ['a session of zero hours', 'PARLEY_SESSION_HOURS', '0'],
    ['a session longer than 30 days', 'PARLEY_SESSION_HOURS', '1000'],
    ['a log level that does not exist', 'PARLEY_LOG_LEVEL', 'loud'],
    ['a demo password shorter than 8', 'PARLEY_DEMO_PASSWORD', 'demo'],
    ['an app secret shorter than 8', 'WHATSAPP_APP_SECRET', 'short'],
    ['a verify token shorter than 8', 'WHATSAPP_VERIFY_TOKEN', 'tiny'],
    ['an access token shorter than 8', 'WHATSAPP_ACCESS_TOKEN', 'tiny'],
  ])('names the variable for %s', (_name, variable, value) => {
    const error = configErrorOf({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message.length).toBeGreaterThan(variable.length + 4);
    expect(error.message).not.toContain('\n');
  });

  it('never echoes a secret value in its error', () => {
    const error = configErrorOf({ PARLEY_DATA_KEY: 'secret-but-short' });
    expect(error.message).not.toContain('secret-but-short');
  });

  it('names the first bad variable when several are bad', () => {
    expect(configErrorOf({ PORT: 'abc', WHATSAPP_API_VERSION: 'x' }).variable).toBe('PORT');
  });

  it('gives the documented defaults (CONTRACT.md) for an empty environment', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'sqlite:./data/parley.db',
      demo: { enabled: true, password: 'parley-demo' },
      sessionHours: 12,
      secureCookies: false,
      logLevel: 'info',
      whatsapp: { apiBase: undefined, apiVersion: 'v23.0', phoneNumberId: expect.stringMatching(/^\d+$/) },
    });
    expect(config.dataKeys.current.length).toBeGreaterThanOrEqual(32);
    expect(config.dataKeys.previous).toEqual([]);
    expect([...config.demoSecrets].sort()).toEqual([
      'PARLEY_DATA_KEY',
      'WHATSAPP_ACCESS_TOKEN',
      'WHATSAPP_APP_SECRET',
      'WHATSAPP_VERIFY_TOKEN',
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig({ PORT: '', PARLEY_DATABASE_URL: '' })).toMatchObject({
      port: 8080,
      databaseUrl: 'sqlite:./data/parley.db',
    });
  });

  it.each([
    ['1', true],
    ['true', true],
    ['yes', true],
    ['0', false],
    ['false', false],
    ['no', false],
  ])('reads the flag value %s as %s', (value, expected) => {
    expect(parseConfig({ PARLEY_DEMO: value, PARLEY_SECURE_COOKIES: value })).toMatchObject({
      demo: { enabled: expected },
      secureCookies: expected,
    });
  });

  it('reads set values: PostgreSQL URL, port, keys, API base without its trailing slash', () => {
    const config = parseConfig({
      PORT: '0',
      PARLEY_DATABASE_URL: 'postgres://parley@db:5432/parley',
      PARLEY_DATA_KEY: 'k'.repeat(40),
      PARLEY_DATA_KEY_PREVIOUS: ` ${'a'.repeat(32)} ,, ${'b'.repeat(32)} `,
      WHATSAPP_API_BASE: 'https://graph.facebook.com/',
      WHATSAPP_API_VERSION: 'v24.0',
      PARLEY_SESSION_HOURS: '1.5',
    });
    expect(config.port).toBe(0);
    expect(config.databaseUrl).toBe('postgres://parley@db:5432/parley');
    expect(config.dataKeys).toEqual({ current: 'k'.repeat(40), previous: ['a'.repeat(32), 'b'.repeat(32)] });
    expect(config.whatsapp.apiBase).toBe('https://graph.facebook.com');
    expect(config.whatsapp.apiVersion).toBe('v24.0');
    expect(config.sessionHours).toBe(1.5);
    expect(config.demoSecrets).not.toContain('PARLEY_DATA_KEY');
  });

  it('turns the stand-in’s simulated HCP replies on with the demo, unless PARLEY_SANDBOX_REPLIES says otherwise', () => {
    expect(parseConfig({}).whatsapp.sandboxReplies).toBe(true);
    expect(parseConfig({ PARLEY_DEMO: '0' }).whatsapp.sandboxReplies).toBe(false);
    expect(parseConfig({ PARLEY_DEMO: '0', PARLEY_SANDBOX_REPLIES: '1' }).whatsapp.sandboxReplies).toBe(true);
    expect(parseConfig({ PARLEY_SANDBOX_REPLIES: 'false' }).whatsapp.sandboxReplies).toBe(false);
    expect(() => parseConfig({ PARLEY_SANDBOX_REPLIES: 'maybe' })).toThrow(/^PARLEY_SANDBOX_REPLIES: /);
  });

  it('is frozen all the way down', () => {
    const config = parseConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.whatsapp)).toBe(true);
    expect(Object.isFrozen(config.dataKeys.previous)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.whatsapp as { apiVersion: string }).apiVersion = 'v1.0';
    }).toThrow(TypeError);
  });

  it('lists every secret for the logger to mask', () => {
    const config = parseConfig({
      PARLEY_DATA_KEY: 'd'.repeat(32),
      PARLEY_DATA_KEY_PREVIOUS: 'p'.repeat(32),
      WHATSAPP_APP_SECRET: 'app-secret-1',
      WHATSAPP_APP_SECRET_PREVIOUS: 'app-secret-0',
      WHATSAPP_VERIFY_TOKEN: 'verify-token-1',
      WHATSAPP_ACCESS_TOKEN: 'access-token-1',
    });
    expect(secretsOf(config).sort()).toEqual(
      [
        'd'.repeat(32),
        'p'.repeat(32),
        'app-secret-1',
        'app-secret-0',
        'verify-token-1',
        'access-token-1',
      ].sort(),
    );
  });

  it('lets explicit overrides win over the environment', () => {
    expect(readConfigFromEnvironment({ PORT: '4321' }).port).toBe(4321);
  });
});

describe('start-up with a bad variable', () => {
  // The real command, as an operator runs it: one line naming the variable, a non-zero exit, no server.
  it.each([
    ['PORT', 'abc'],
    ['PARLEY_DATA_KEY', 'short'],
    ['PARLEY_DATABASE_URL', 'mysql://db/parley'],
  ])('`parley serve` with %s=%s exits non-zero with one line naming it', (variable, value) => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-config-'));
    try {
      const result = spawnSync(join('node_modules', '.bin', 'tsx'), ['src/cli/main.ts', 'serve'], {
        cwd: process.cwd(),
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? dir,
          PARLEY_DATABASE_URL: `sqlite:${join(dir, 'parley.db')}`,
          PORT: '0',
          [variable]: value,
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status).not.toBe(0);
      expect(result.status).not.toBeNull();
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(variable);
      expect(result.stdout).not.toContain('Parley is running');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
