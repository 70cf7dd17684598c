import { createAuditTrail, logSecurityEvent } from './audit/index.js';
import type { ParleyContext } from './context.js';
import { installAccessGuard } from './identity/index.js';
import { systemClock, type Clock } from './platform/clock/index.js';
import { secretsOf, type Config } from './platform/config/index.js';
import { createPersonalDataCipher } from './platform/crypto/index.js';
import { migrateToLatest, openStore, type OpenOptions, type Store } from './platform/database/index.js';
import { createHttpApp, type HttpApp } from './platform/http/index.js';
import { createLogger, type Logger } from './platform/logging/index.js';
import { routeModules } from './routes.js';

export interface Parley {
  readonly context: ParleyContext;
  readonly app: HttpApp;
  /** Stops background work, the HTTP server and the store, in that order. */
  close(): Promise<void>;
}

export interface CreateParleyOptions {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  /** An already open store (tests); otherwise the one `config.databaseUrl` names is opened. */
  store?: Store;
  storeOptions?: OpenOptions;
}

/**
 * The context every capability is handed, on an open store: the server's (`createParley`) and the
 * commands' that work on the store without serving (seed, import, retention).
 */
export function contextOf(
  config: Config,
  store: Store,
  options: { clock?: Clock; logger?: Logger } = {},
): ParleyContext {
  const clock = options.clock ?? systemClock;
  const cipher = createPersonalDataCipher(config.dataKeys.current, config.dataKeys.previous);
  return {
    config,
    db: store.db,
    readers: store.readers,
    dialect: store.dialect,
    openWriterThread: store.openWriterThread,
    clock,
    cipher,
    audit: createAuditTrail({ dialect: store.dialect, cipher, clock }),
    logger: options.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config) }),
  };
}

/**
 * The composition root: opens and migrates the store, builds the context every capability is handed,
 * and assembles the HTTP app from each capability's routes (see routes.ts). Starts nothing that listens;
 * `serve` (cli) does that.
 */
export async function createParley(options: CreateParleyOptions): Promise<Parley> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config) });
  const store =
    options.store ??
    (await openStore(config.databaseUrl, {
      onCheckpointError: (message) => logger.warn({ message }, 'background WAL checkpoint failed'),
      readers: config.sqliteReaders,
      ...options.storeOptions,
    }));
  await migrateToLatest(store.db);
  const clock = options.clock ?? systemClock;
  const context = contextOf(config, store, { clock, logger });

  const app = await createHttpApp({
    logger,
    // Meta's payloads are at most 3 MB; nothing else Parley accepts comes near it.
    bodyLimit: 3 * 1024 * 1024,
    isDatabaseUp: async () => {
      await store.db.selectFrom('markets').select('code').limit(1).execute();
      return true;
    },
  });
  installAccessGuard(app, {
    db: store.db,
    clock,
    onDenied: (request, kind) =>
      logSecurityEvent(store.db, clock.now(), {
        kind,
        actorId: request.principal?.id ?? null,
        ip: request.ip,
        method: request.method,
        route: request.routeOptions.url ?? null,
      }).catch((err: unknown) => request.log.error({ err }, 'security log write failed')),
  });
  const stoppers: Array<() => Promise<void>> = [];
  for (const register of routeModules) {
    const stop = await register(app, context);
    if (stop) stoppers.push(stop);
  }
  await app.ready();

  return {
    context,
    app,
    async close() {
      for (const stop of stoppers.reverse()) await stop();
      await app.close();
      if (!options.store) await store.close();
    },
  };
}
