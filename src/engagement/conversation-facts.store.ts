import { sql } from 'kysely';
import { isPostgres, writeInChunks, type Db, type Tx } from '../platform/database/index.js';
import { keptFacts, type KeptFacts } from './analytics-figures.js';

/**
 * Keeps the facts of each outbound message that left Parley that depend on the HCP's other messages:
 * how long until the HCP answered it (`reply_wait_ms`, migration 0024; `replyTimes` defines the answer
 * over the whole conversation) and its place among the HCP's sent messages (`week_rank`, `prev_sent_at`,
 * `prev_template_sent_at`, migration 0026; `sendingFacts`), both in analytics-figures.ts (`keptFacts`). The database
 * marks an HCP in `stale_conversations` whenever their conversation changes; the refresher here works
 * their facts out again and clears the marks it read. Reports read kept facts for unmarked HCPs and work
 * out marked ones live, so they never depend on the refresher having caught up.
 */

/** Serialises refreshes across PostgreSQL sessions (any number of Parley instances may run one). */
const REFRESH_LOCK = 0x52504c59; // 'RPLY'

/**
 * HCPs worked out per transaction: a few hundred messages read, a short write. On SQLite a transaction
 * holds the one connection every request needs, so it is kept to milliseconds.
 */
const HCPS_PER_TRANSACTION = 50;

/** Rows updated per statement (nine parameters each). */
const UPDATES_PER_STATEMENT = 200;

/** What a message's kept facts are worked out from (`keptFacts`), and the facts as kept. */
export const FACT_COLUMNS = [
  'id',
  'hcp_id',
  'direction',
  'status',
  'template_id',
  'created_at',
  'meta_timestamp',
  'reply_wait_ms',
  'week_rank',
  'prev_sent_at',
  'prev_template_sent_at',
] as const;

/** The HCPs marked now, as a subquery. */
export const markedHcps = (db: Db) => db.selectFrom('stale_conversations').select('hcp_id');

/**
 * Works out the facts of the HCPs marked now, longest-marked first, at most `limit` of them; returns
 * how many HCPs were worked out. A mark written meanwhile stays for the next call.
 */
export async function refreshConversationFacts(db: Db, limit = Number.MAX_SAFE_INTEGER): Promise<number> {
  const marked = await db
    .selectFrom('stale_conversations')
    .select((eb) => ['hcp_id', eb.fn.min('id').as('first')])
    .groupBy('hcp_id')
    .orderBy('first')
    .limit(limit)
    .execute();
  const hcpIds = marked.map((m) => m.hcp_id);
  let refreshed = 0;
  for (let i = 0; i < hcpIds.length; i += HCPS_PER_TRANSACTION)
    refreshed += await refreshHcps(db, hcpIds.slice(i, i + HCPS_PER_TRANSACTION));
  return refreshed;
}

/**
 * Works out the facts of some HCPs from their messages and clears the marks read, in one transaction.
 * Marks are read before messages: every mark read was committed with its message, which is read after it.
 * Returns how many of the HCPs were still marked (another refresher may have got there first).
 */
async function refreshHcps(db: Db, hcpIds: string[]): Promise<number> {
  return db.transaction().execute(async (tx) => {
    if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(${REFRESH_LOCK})`.execute(tx);
    const marks = await tx
      .selectFrom('stale_conversations')
      .select(['id', 'hcp_id'])
      .where('hcp_id', 'in', hcpIds)
      .execute();
    if (marks.length === 0) return 0;
    const marked = [...new Set(marks.map((m) => m.hcp_id))];
    const rows = await tx.selectFrom('messages').select(FACT_COLUMNS).where('hcp_id', 'in', marked).execute();
    const facts = keptFacts(rows);
    const changed = rows.flatMap((r) => {
      const kept = facts.get(r.id)!;
      const same =
        kept.replyWaitMs === r.reply_wait_ms &&
        kept.weekRank === r.week_rank &&
        kept.prevSentAt === r.prev_sent_at &&
        kept.prevTemplateSentAt === r.prev_template_sent_at;
      return same ? [] : [{ id: r.id, ...kept }];
    });
    await setFacts(tx, changed);
    await writeInChunks(
      marks.map((m) => m.id),
      (ids) => tx.deleteFrom('stale_conversations').where('id', 'in', ids).execute(),
    );
    return marked.length;
  });
}

type Facts = KeptFacts & { id: string };

/** Writes new facts, a few hundred rows per statement (`case id when … then … end` per column). */
async function setFacts(tx: Tx, changed: Facts[]) {
  for (let i = 0; i < changed.length; i += UPDATES_PER_STATEMENT) {
    const part = changed.slice(i, i + UPDATES_PER_STATEMENT);
    // Typed casts: PostgreSQL cannot infer a parameter's type inside a `case`.
    const column = <T>(value: (f: Facts) => T, type: 'double precision' | 'integer' | 'text') =>
      sql<T>`case ${sql.ref('id')} ${sql.join(
        part.map((f) => sql`when ${f.id} then cast(${value(f)} as ${sql.raw(type)})`),
        sql` `,
      )} end`;
    await tx
      .updateTable('messages')
      .set({
        reply_wait_ms: column((f) => f.replyWaitMs, 'double precision'),
        week_rank: column((f) => f.weekRank, 'integer'),
        prev_sent_at: column((f) => f.prevSentAt, 'text'),
        prev_template_sent_at: column((f) => f.prevTemplateSentAt, 'text'),
      })
      .where(
        'id',
        'in',
        part.map((f) => f.id),
      )
      .execute();
  }
}
