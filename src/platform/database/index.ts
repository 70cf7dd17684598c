export { dropPostgresSchema, openStore } from './connect.js';
export type { Db, DbOrTx, Dialect, OpenOptions, Store, Tx } from './connect.js';
export { migrateTo, migrateToLatest } from './migrate.js';
export { INTERACTIONS_OCCURRED_COLUMNS } from './migrations/0035-occurred-chunks.js';
export {
  byteOrder,
  countWhere,
  forUpdate,
  forUpdateSkipLocked,
  ilike,
  inCommaList,
  inJsonIdList,
  isPostgres,
  isUniqueViolation,
  medianOf,
  millisBetween,
  mondayWeekOf,
  nextIdentityValues,
  notSearchedBy,
  readAsOfOneMoment,
  readInChunks,
  tableIndexedBy,
  writeInChunks,
} from './dialect-sql.js';
export { decodeCursor, encodeCursor, pageOf } from './pagination.js';
export { preparedQuery } from './prepared-query.js';
export { openSqliteReaders } from './sqlite-readers.js';
export type { SqliteReaders } from './sqlite-readers.js';
export { sqliteWriterOn } from './sqlite-writer.js';
export type { SqliteWriter, WriteStatement } from './sqlite-writer.js';
export type { PreparedQuery } from './prepared-query.js';
export type { Page } from './pagination.js';
export type * from './tables.js';
export { NEW_MESSAGE_FACTS } from './tables.js';
