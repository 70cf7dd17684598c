import { sql } from 'kysely';
import { isPostgres, type Db, type Tx } from '../platform/database/index.js';
import { replyTimes } from './analytics-figures.js';

/**
 * Keeps `messages.reply_wait_ms` (migration 0024): for each outbound message that left Parley, how long
 * until the HCP answered it, as `replyTimes` (analytics-figures.ts) defines the answer over their whole
 * conversation. The
 * database marks an HCP in `stale_conversations` whenever their conversation changes; the refresher here
 * works their facts out again and clears the marks it read. The `whatsapp` report reads kept facts for
 * unmarked HCPs and works out marked ones live, so it never depends on the refresher having caught up.
 */

/** Serialises refreshes across PostgreSQL sessions (any number of Parley instances may run one). */
const REFRESH_LOCK = 0x52504c59; // 'RPLY'

/** HCPs worked out per transaction: a few thousand messages read, a short write. */
const HCPS_PER_TRANSACTION = 200;

/** Rows updated per statement (two parameters each). */
const UPDATES_PER_STATEMENT = 250;

/** The HCPs marked now, as a subquery. */
export const markedHcps = (db: Db) => db.selectFrom('stale_conversations').select('hcp_id');

/**
 * Works out the reply facts of the HCPs marked now, longest-marked first, at most `limit` of them; returns
 * how many HCPs were worked out. A mark written meanwhile stays for the next call.
 */
export async function refreshReplyFacts(db: Db, limit = Number.MAX_SAFE_INTEGER): Promise<number> {
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
    const rows = await tx
      .selectFrom('messages')
      .select(['id', 'hcp_id', 'direction', 'status', 'created_at', 'meta_timestamp', 'reply_wait_ms'])
      .where('hcp_id', 'in', marked)
      .execute();
    const replies = replyTimes(
      rows.map((r) => ({
        id: r.id,
        hcpId: r.hcp_id!,
        direction: r.direction,
        at: r.direction === 'inbound' ? (r.meta_timestamp ?? r.created_at) : r.created_at,
        status: r.status,
      })),
    );
    const changed = rows.flatMap((r) => {
      const answer = replies.get(r.id) ?? null;
      const wait = answer === null ? null : Date.parse(answer) - Date.parse(r.created_at);
      return wait === r.reply_wait_ms ? [] : [{ id: r.id, wait }];
    });
    await setReplyWaits(tx, changed);
    const ids = marks.map((m) => m.id);
    for (let i = 0; i < ids.length; i += 500)
      await tx
        .deleteFrom('stale_conversations')
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
    return marked.length;
  });
}

/** Writes new reply facts, a few hundred rows per statement (`case id when … then … end`). */
async function setReplyWaits(tx: Tx, changed: { id: string; wait: number | null }[]) {
  for (let i = 0; i < changed.length; i += UPDATES_PER_STATEMENT) {
    const part = changed.slice(i, i + UPDATES_PER_STATEMENT);
    const cases = sql.join(
      part.map((c) => sql`when ${c.id} then cast(${c.wait} as double precision)`),
      sql` `,
    );
    await tx
      .updateTable('messages')
      .set({ reply_wait_ms: sql<number | null>`case ${sql.ref('id')} ${cases} end` })
      .where(
        'id',
        'in',
        part.map((c) => c.id),
      )
      .execute();
  }
}
