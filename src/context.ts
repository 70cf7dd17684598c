import type { AuditTrail } from './audit/index.js';
import type { Clock } from './platform/clock/index.js';
import type { Config } from './platform/config/index.js';
import type { PersonalDataCipher } from './platform/crypto/index.js';
import type { Db, Dialect, Store } from './platform/database/index.js';
import type { HttpApp } from './platform/http/index.js';
import type { Logger } from './platform/logging/index.js';

/**
 * What every capability may be handed: the store, the clock, the personal-data cipher, the audit trail,
 * configuration and the logger. Built once by `createParley` (src/parley.ts); tests build it with a
 * manual clock and a throw-away store. Types only: no capability reaches a global.
 */
export interface ParleyContext {
  readonly config: Config;
  readonly db: Db;
  /** Where long read-only work runs (the analytics reports): reads only (see `Store.readers`). */
  readonly readers: Db;
  readonly dialect: Dialect;
  /** SQLite file only: a connection on a worker thread for a long run of writes (`Store.openWriterThread`). */
  readonly openWriterThread?: Store['openWriterThread'];
  readonly clock: Clock;
  readonly cipher: PersonalDataCipher;
  readonly audit: AuditTrail;
  readonly logger: Logger;
}

/**
 * Registers one capability's routes (and starts its background work, if any). May return a function that
 * stops that work; `createParley` calls it on close. Each capability exports one from its index.ts.
 */
export type RouteModule = (app: HttpApp, context: ParleyContext) => Promise<void | (() => Promise<void>)>;
