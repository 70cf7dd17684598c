import { sql } from 'kysely';
import type { Clock } from '../platform/clock/index.js';
import { newId, type PersonalDataCipher } from '../platform/crypto/index.js';
import {
  forUpdate,
  pageOf,
  writeInChunks,
  type AuditEventsTable,
  type AuditPersonalTable,
  type Db,
  type DbOrTx,
  type Dialect,
  type Page,
  type Tx,
} from '../platform/database/index.js';
import {
  ChainVerifier,
  describeChainBreak,
  hashAuditRow,
  type ChainBreak,
  type ChainHead,
  type ChainProblem,
} from './audit-chain.js';

/** Who did something; a `Principal` fits. `null` means Parley itself (a job, a webhook). */
export interface AuditActor {
  readonly id: string;
  readonly role: string;
}

/** One state change, as a capability reports it. */
export interface AuditEntry {
  actor: AuditActor | null;
  /** `<thing>.<verb>`, e.g. `consent.recorded`, `template.approved`. */
  action: string;
  target: { type: string; id: string };
  /** The HCP this concerns, if any: access requests and erasure find events through it. */
  subjectId?: string | null;
  reason?: string | null;
  /** Non-personal fields before and after the change. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Personal values (numbers, emails, text): sealed outside the chain, so erasure leaves it whole. */
  personal?: Record<string, unknown>;
}

/** What a verification found; `ok: false` names the first broken row. */
export interface ChainVerification {
  ok: boolean;
  /** Rows that verified before the first break (all of them when ok). */
  checked: number;
  firstBrokenId?: string;
  firstBrokenSeq?: number;
  problem?: ChainProblem;
}

/** A verification with what a person or an external anchor needs beside it. */
export interface ChainReport extends ChainVerification {
  /** For a break: one sentence saying what it means. */
  message?: string;
  /** The stored head when the walk ended: record its hash outside Parley to anchor the chain. */
  head: ChainHead | null;
}

export interface AuditTrail {
  /**
   * Appends one event to the chain, inside the caller's transaction when given one. It locks the chain
   * head until that transaction ends, so every audited write in the system queues behind it: call it as
   * the last statement of the transaction, after the change itself.
   */
  record(db: DbOrTx, entry: AuditEntry): Promise<{ id: string; seq: number }>;
  /**
   * Appends events in order, in the caller's transaction, as `record` would one after the other, for a
   * run of them (the cases an import's call notes open when it publishes): the head read and locked once,
   * and on PostgreSQL every event written in one round trip a thousand (migration 0038), so the lock
   * every audited write waits on is held for milliseconds rather than a statement pair an event.
   */
  recordAll(tx: Tx, entries: readonly AuditEntry[]): Promise<{ id: string; seq: number }[]>;
  /** Walks the whole chain; names the first broken row. */
  verify(db: Db): Promise<ChainVerification>;
}

/** Events a call of `parley_audit_append` (migration 0038) carries: a JSON parameter of about 1 MB. */
const EVENTS_PER_APPEND = 1000;

export function createAuditTrail(deps: {
  dialect: Dialect;
  cipher: PersonalDataCipher;
  clock: Clock;
}): AuditTrail {
  async function append(tx: Tx, entries: readonly AuditEntry[]) {
    if (entries.length === 0) return [];
    // The head row is the chain's lock: on PostgreSQL FOR UPDATE serialises writers across instances;
    // SQLite has a single writer at a time anyway. Migration 0002 creates the row and the database
    // refuses to delete it, so it is always there to lock.
    const head = await forUpdate(
      deps.dialect,
      tx.selectFrom('audit_head').selectAll().where('id', '=', 1),
    ).executeTakeFirst();
    if (!head) throw new Error('The audit chain head (audit_head id 1) is missing; the trail cannot grow.');
    const at = deps.clock.now().toISOString();
    const personal: AuditPersonalTable[] = [];
    const events: AuditEventsTable[] = [];
    let prev = { seq: head.seq, hash: head.hash };
    for (const entry of entries) {
      const subjectId = entry.subjectId ?? null;
      let personalRef: string | null = null;
      if (entry.personal && Object.keys(entry.personal).length > 0) {
        personalRef = newId('aup');
        personal.push({
          id: personalRef,
          subject_id: subjectId ?? entry.target.id,
          payload_enc: deps.cipher.seal(JSON.stringify(entry.personal)),
          created_at: at,
        });
      }
      const row = {
        seq: prev.seq + 1,
        id: newId('aud'),
        at,
        actor_id: entry.actor?.id ?? null,
        actor_role: entry.actor?.role ?? null,
        action: entry.action,
        target_type: entry.target.type,
        target_id: entry.target.id,
        subject_id: subjectId,
        reason: entry.reason ?? null,
        changes_json: JSON.stringify({ before: entry.before ?? null, after: entry.after ?? null }),
        personal_ref: personalRef,
        prev_hash: prev.hash,
      };
      const event = { ...row, hash: hashAuditRow(row) };
      events.push(event);
      prev = event;
    }
    await writeInChunks(personal, (rows) => tx.insertInto('audit_personal').values(rows).execute());
    if (deps.dialect === 'postgres') {
      for (let i = 0; i < events.length; i += EVENTS_PER_APPEND)
        await sql`select parley_audit_append(${JSON.stringify(events.slice(i, i + EVENTS_PER_APPEND))}::jsonb)`.execute(
          tx,
        );
    } else {
      // Row first, head second: the database checks that the row extends the head and that the head
      // then moves to exactly that row (triggers of migration 0002).
      for (const event of events) {
        await tx.insertInto('audit_events').values(event).execute();
        await tx
          .updateTable('audit_head')
          .set({ seq: event.seq, hash: event.hash })
          .where('id', '=', 1)
          .execute();
      }
    }
    return events.map((e) => ({ id: e.id, seq: e.seq }));
  }

  return {
    async record(db, entry) {
      const appended = db.isTransaction
        ? await append(db as Tx, [entry])
        : await (db as Db).transaction().execute((tx) => append(tx, [entry]));
      return appended[0]!;
    },
    recordAll: append,
    async verify(db) {
      const { ok, checked, firstBrokenId, firstBrokenSeq, problem } = await verifyAuditChain(db);
      return ok ? { ok, checked } : { ok, checked, firstBrokenId, firstBrokenSeq, problem };
    },
  };
}

const PAGE = 1000;

/**
 * Walks the whole chain in seq order, in pages, and checks the stored head against its last row. Reads
 * need no lock: rows and head are written in one transaction, so reading the head after the rows sees
 * at least the rows already read; rows appended meanwhile (up to the head read) are walked too, so a
 * busy trail does not look truncated. `anchors` are heads recorded earlier outside Parley: the chain must
 * still pass through each, which makes even a full rewrite by someone past the database's guards evident.
 */
export async function verifyAuditChain(
  db: DbOrTx,
  options: { anchors?: readonly ChainHead[] } = {},
): Promise<ChainReport> {
  const verifier = new ChainVerifier(options);
  const walk = async (after: number, upTo?: number) => {
    for (;;) {
      let query = db.selectFrom('audit_events').selectAll().where('seq', '>', after);
      if (upTo !== undefined) query = query.where('seq', '<=', upTo);
      const rows = await query.orderBy('seq').limit(PAGE).execute();
      for (const row of rows) {
        const broken = verifier.feed(row);
        if (broken) return { broken, last: row.seq };
      }
      const last = rows[rows.length - 1];
      if (last) after = last.seq;
      if (rows.length < PAGE) return { broken: undefined, last: after };
    }
  };
  const readHead = () =>
    db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();

  let walked = await walk(0);
  let head = walked.broken ? undefined : await readHead();
  if (!walked.broken && head && head.seq > walked.last) {
    walked = await walk(walked.last, head.seq);
  }
  const broken = walked.broken ?? verifier.finish(head);
  head ??= await readHead();
  if (!broken) return { ok: true, checked: verifier.checked, head: head ?? null };
  return reportBreak(db, broken, verifier.checked, head ?? null);
}

async function reportBreak(
  db: DbOrTx,
  broken: ChainBreak,
  checked: number,
  head: ChainHead | null,
): Promise<ChainReport> {
  // A head mismatch names a seq, not a row it read: look the row up, when it still exists.
  const id =
    broken.id ??
    (await db.selectFrom('audit_events').select('id').where('seq', '=', broken.seq).executeTakeFirst())?.id ??
    null;
  const named = { ...broken, id };
  return {
    ok: false,
    checked,
    ...(id ? { firstBrokenId: id } : {}),
    firstBrokenSeq: broken.seq,
    problem: broken.problem,
    message: describeChainBreak(named),
    head,
  };
}

/** One subject's personal values held beside the chain, opened: for an access request. */
export interface PersonalAuditValues {
  eventId: string;
  seq: number;
  at: string;
  action: string;
  target: { type: string; id: string };
  values: Record<string, unknown>;
}

/**
 * The personal values the trail holds about one subject (an HCP), opened, in chain order: what an
 * access request must disclose of the audit trail beside the (non-personal) events themselves.
 */
export async function personalAuditValuesOf(
  db: DbOrTx,
  cipher: Pick<PersonalDataCipher, 'open'>,
  subjectId: string,
): Promise<PersonalAuditValues[]> {
  const rows = await db
    .selectFrom('audit_personal as p')
    .innerJoin('audit_events as e', 'e.personal_ref', 'p.id')
    .select(['e.id', 'e.seq', 'e.at', 'e.action', 'e.target_type', 'e.target_id', 'p.payload_enc'])
    .where('p.subject_id', '=', subjectId)
    .orderBy('e.seq')
    .execute();
  return rows.map((r) => ({
    eventId: r.id,
    seq: r.seq,
    at: r.at,
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    values: JSON.parse(cipher.open(r.payload_enc)) as Record<string, unknown>,
  }));
}

/**
 * GDPR erasure of the trail's personal values about one subject: deletes them from the per-subject
 * store. The chain rows keep their `personal_ref` pointers (now to nothing) and so still verify. Call it
 * inside the erasure's transaction, which records the erasure itself as an audit event. Returns how
 * many sealed values were deleted.
 */
export async function erasePersonalAuditValues(tx: DbOrTx, subjectId: string): Promise<number> {
  const result = await tx.deleteFrom('audit_personal').where('subject_id', '=', subjectId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** An audit event as compliance reads it: no personal values, only whether some are held beside it. */
export interface AuditEvent {
  id: string;
  seq: number;
  at: string;
  actor: AuditActor | null;
  action: string;
  target: { type: string; id: string };
  subjectId: string | null;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /** True when personal values were recorded beside the event (an erasure may since have removed them). */
  hasPersonalValues: boolean;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  targetType?: string;
  targetId?: string;
  subjectId?: string;
  actorId?: string;
  action?: string;
  /** ISO-8601 UTC, inclusive. */
  from?: string;
  /** ISO-8601 UTC, exclusive. */
  to?: string;
  order?: 'asc' | 'desc';
  limit: number;
  /** The seq of the last event of the previous page. */
  afterSeq?: number;
}

/** A page of audit events, newest first unless `order: 'asc'`; the cursor is the last seq seen. */
export async function listAuditEvents(db: DbOrTx, query: AuditQuery): Promise<Page<AuditEvent>> {
  const order = query.order ?? 'desc';
  let q = db.selectFrom('audit_events').selectAll();
  if (query.targetType !== undefined) q = q.where('target_type', '=', query.targetType);
  if (query.targetId !== undefined) q = q.where('target_id', '=', query.targetId);
  if (query.subjectId !== undefined) q = q.where('subject_id', '=', query.subjectId);
  if (query.actorId !== undefined) q = q.where('actor_id', '=', query.actorId);
  if (query.action !== undefined) q = q.where('action', '=', query.action);
  if (query.from !== undefined) q = q.where('at', '>=', query.from);
  if (query.to !== undefined) q = q.where('at', '<', query.to);
  if (query.afterSeq !== undefined) q = q.where('seq', order === 'desc' ? '<' : '>', query.afterSeq);
  const rows = await q
    .orderBy('seq', order)
    .limit(query.limit + 1)
    .execute();
  return pageOf(
    rows,
    query.limit,
    (r) => [r.seq],
    (r) => {
      const changes = JSON.parse(r.changes_json) as {
        before?: Record<string, unknown> | null;
        after?: Record<string, unknown> | null;
      };
      return {
        id: r.id,
        seq: r.seq,
        at: r.at,
        actor: r.actor_id ? { id: r.actor_id, role: r.actor_role ?? '' } : null,
        action: r.action,
        target: { type: r.target_type, id: r.target_id },
        subjectId: r.subject_id,
        reason: r.reason,
        before: changes.before ?? null,
        after: changes.after ?? null,
        hasPersonalValues: r.personal_ref !== null,
        prevHash: r.prev_hash,
        hash: r.hash,
      };
    },
  );
}
