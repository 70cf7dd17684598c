import { Migrator, sql, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './connect.js';
import { isPostgres } from './dialect-sql.js';
import * as foundation from './migrations/0001-foundation.js';
import * as auditAppendOnly from './migrations/0002-audit-append-only.js';
import * as content from './migrations/0003-content.js';
import * as engagement from './migrations/0005-engagement.js';
import * as consentHolds from './migrations/0007-consent-holds.js';
import * as messaging from './migrations/0009-messaging.js';
import * as sendBasis from './migrations/0010-send-basis.js';
import * as messageCounterIndexes from './migrations/0012-message-counter-indexes.js';
import * as webhookIndexes from './migrations/0013-webhook-indexes.js';
import * as webhookInboxGroupCommit from './migrations/0014-webhook-inbox-group-commit.js';
import * as messageCounterCovering from './migrations/0015-message-counter-covering.js';
import * as narrowTimeline from './migrations/0016-narrow-timeline.js';
import * as unpublishedImports from './migrations/0017-unpublished-imports.js';
import * as analyticsReads from './migrations/0018-analytics-reads.js';
import * as interactionDayCells from './migrations/0019-interaction-day-cells.js';
import * as interactionMonthCells from './migrations/0020-interaction-month-cells.js';
import * as consentLatestEntries from './migrations/0021-consent-latest-entries.js';
import * as messageAnalyticsReads from './migrations/0022-message-analytics-reads.js';
import * as decisionTemplate from './migrations/0023-decision-template.js';
import * as replyFacts from './migrations/0024-reply-facts.js';
import * as decisionReasonCodes from './migrations/0025-decision-reason-codes.js';
import * as sendingFacts from './migrations/0026-sending-facts.js';
import * as marketOnMessages from './migrations/0027-market-on-messages.js';
import * as consentChangesIndex from './migrations/0028-consent-changes-index.js';
import * as clickMessageIndex from './migrations/0029-click-message-index.js';
import * as dayMarksAlways from './migrations/0030-day-marks-always.js';
import * as expiredClicksIndex from './migrations/0031-expired-clicks-index.js';
import * as denialsIndex from './migrations/0032-denials-index.js';
import * as messageDayCells from './migrations/0033-message-day-cells.js';
import * as timelineChunks from './migrations/0034-timeline-chunks.js';
import * as occurredChunks from './migrations/0035-occurred-chunks.js';
import * as oneInsertTrigger from './migrations/0036-one-insert-trigger.js';
import * as hcpsKept from './migrations/0037-hcps-kept.js';
import * as auditAppendMany from './migrations/0038-audit-append-many.js';

/**
 * Migrations live in code and are listed here in order, so a build carries its schema with it and no
 * file-system scan decides what runs. Add a file under migrations/ and a line below; never edit one that
 * has shipped.
 */
const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-audit-append-only': auditAppendOnly,
  '0003-content': content,
  '0005-engagement': engagement,
  '0007-consent-holds': consentHolds,
  '0009-messaging': messaging,
  '0010-send-basis': sendBasis,
  '0012-message-counter-indexes': messageCounterIndexes,
  '0013-webhook-indexes': webhookIndexes,
  '0014-webhook-inbox-group-commit': webhookInboxGroupCommit,
  '0015-message-counter-covering': messageCounterCovering,
  '0016-narrow-timeline': narrowTimeline,
  '0017-unpublished-imports': unpublishedImports,
  '0018-analytics-reads': analyticsReads,
  '0019-interaction-day-cells': interactionDayCells,
  '0020-interaction-month-cells': interactionMonthCells,
  '0021-consent-latest-entries': consentLatestEntries,
  '0022-message-analytics-reads': messageAnalyticsReads,
  '0023-decision-template': decisionTemplate,
  '0024-reply-facts': replyFacts,
  '0025-decision-reason-codes': decisionReasonCodes,
  '0026-sending-facts': sendingFacts,
  '0027-market-on-messages': marketOnMessages,
  '0028-consent-changes-index': consentChangesIndex,
  '0029-click-message-index': clickMessageIndex,
  '0030-day-marks-always': dayMarksAlways,
  '0031-expired-clicks-index': expiredClicksIndex,
  '0032-denials-index': denialsIndex,
  '0033-message-day-cells': messageDayCells,
  '0034-timeline-chunks': timelineChunks,
  '0035-occurred-chunks': occurredChunks,
  '0036-one-insert-trigger': oneInsertTrigger,
  '0037-hcps-kept': hcpsKept,
  '0038-audit-append-many': auditAppendMany,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; returns the names of the migrations it ran. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  return runMigrator(db, (migrator) => migrator.migrateToLatest());
}

/**
 * Brings the schema up to the named migration and no further: for tests of a migration on rows written
 * before it ran.
 */
export async function migrateTo(db: Db, name: string): Promise<string[]> {
  if (!(name in migrations)) throw new Error(`no migration ${name}`);
  return runMigrator(db, (migrator) => migrator.migrateTo(name));
}

async function runMigrator(
  db: Db,
  run: (migrator: Migrator) => Promise<MigrationResultSet>,
): Promise<string[]> {
  const schema = await postgresSchemaOf(db);
  const migrator = new Migrator({
    db,
    provider,
    // On PostgreSQL, Kysely looks for its tables in every schema unless told which: a test store in its
    // own schema would then see another suite's lock table, skip creating its own and fail.
    migrationTableSchema: schema,
    migrationTableName: 'parley_migrations',
    migrationLockTableName: 'parley_migrations_lock',
  });
  // Kysely's check for its own tables reads the catalogue of every schema; a schema dropped by someone
  // else at that moment (test suites dropping theirs side by side) fails the read. Nothing was done
  // yet, so the same call is safe to repeat.
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await run(migrator);
    if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    if (attempt < 5 && isOtherSchemaVanished(error, schema)) {
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      continue;
    }
    throw error instanceof Error ? error : new Error(String(error));
  }
}

/** Whether a failed migration run failed on another schema vanishing under it: then it is safe to repeat. */
export function isOtherSchemaVanished(error: unknown, ownSchema: string | undefined): boolean {
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  // A table of a schema dropped between the catalogue's list and its look-up: `relation "other.t"`.
  const vanishedTableSchema = e.code === '42P01' ? /relation "([^".]+)\./.exec(message)?.[1] : undefined;
  // The catalogue listed a table whose columns were gone when Kysely read them (42703, "column … of
  // relation … does not exist"): PostgreSQL names no schema there. On PostgreSQL the migrations run in one
  // transaction, so repeating after an error of one of our own would fail again, harmlessly, and throw.
  const vanishedColumns = e.code === '42703' && /column ".+" of relation ".+" does not exist/.test(message);
  return (
    e.code === '3F000' ||
    /schema ".+" does not exist/.test(message) ||
    (vanishedTableSchema !== undefined && vanishedTableSchema !== ownSchema) ||
    vanishedColumns
  );
}

/** The schema a PostgreSQL store works in (its search_path); undefined on SQLite. */
async function postgresSchemaOf(db: Db): Promise<string | undefined> {
  if (!isPostgres(db)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema;
}
